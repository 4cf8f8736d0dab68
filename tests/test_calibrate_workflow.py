"""``imusim_jax.workflows.calibrate``: recordings paired with motions by file stem or a pairs CSV."""
import pytest

import imusim_jax as ij
from imusim_jax.workflows.calibrate import pair_files, pair_stem, read_pairs_csv


def test_files_pair_by_stem_without_the_datasets_suffixes(tmp_path):
    assert pair_stem("Inertial/a1_s1_t1_inertial.mat") == pair_stem("Skeleton/a1_s1_t1_skeleton.mat") == "a1_s1_t1"
    assert pair_stem("young/accelerometer/watch/S31A10T01.csv.gz") == pair_stem("skeleton/S31A10T01.csv.gz")
    real = ["I/a1_s1_t1_inertial.mat", "I/a2_s1_t1_inertial.mat", "I/a3_s1_t1_inertial.mat"]
    motions = ["S/a2_s1_t1_skeleton.mat", "S/a1_s1_t1_skeleton.mat"]
    assert pair_files(real, motions) == [(real[0], motions[1]), (real[1], motions[0])]
    with pytest.raises(ij.InputError, match="no real recording pairs"):
        pair_files(["x_inertial.mat"], ["y_skeleton.mat"])
    with pytest.raises(ij.InputError, match="two real files pair"):
        pair_files(["a/x.csv", "b/x_imu.csv"], ["x.npz"])
    (tmp_path / "r.csv").write_text("t\n")
    (tmp_path / "m.npz").write_text("")
    (tmp_path / "pairs.csv").write_text("real,motion\nr.csv,m.npz\n")
    assert read_pairs_csv(tmp_path / "pairs.csv") == [(str(tmp_path / "r.csv"), str(tmp_path / "m.npz"))]
    (tmp_path / "bad.csv").write_text("real,motion\nr.csv,missing.npz\n")
    with pytest.raises(ij.InputError, match="row 2: no such file"):
        read_pairs_csv(tmp_path / "bad.csv")
