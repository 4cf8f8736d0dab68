"""The training loader over the dataset builder's shards: labelled windows, class-balanced batches, subject
splits (``imusim_jax.models.har``)."""
import numpy as np
import pytest

from har_data import rows, write_dataset
from imusim_jax.models import har


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    folder = tmp_path_factory.mktemp("ds")
    # imbalanced: four walking subjects' clips for every waving one
    r = rows(n_subjects=4, per_class=4, seed=1, classes=("walking",)) + rows(n_subjects=4, per_class=1, seed=2,
                                                                              classes=("waving",))
    write_dataset(folder, [r[:10], r[10:]])
    return folder


def test_windows_carry_their_clips_labels_and_pad_short_clips(dataset):
    d = har.load_windows(dataset, window=har.WindowConfig(rate_hz=50.0, length_s=3.0, stride_s=1.0))
    assert d["classes"] == ["walking", "waving"]
    acts = d["clips"].column("activity")
    assert [d["classes"][k] for k in d["label"]] == [acts[c] for c in d["clip"]]
    assert d["x"].shape[1:] == (150, 6) and d["mask"].shape == d["x"].shape[:2]
    n = np.asarray([len(x) for x in d["clips"].imu])[d["clip"]]
    short = n < 150                                           # clips of 2-4 s: some shorter than a window
    assert short.any()
    assert (d["mask"][short].sum(1) == n[short]).all()
    assert (d["x"][short][~d["mask"][short]] == 0).all()
    # a filter keeps its rows only
    w = har.load_windows(dataset, filters=["activity=waving"])
    assert set(w["label"]) == {0} and w["classes"] == ["waving"]


def test_balanced_batches_draw_every_class_equally_often(dataset):
    d = har.load_windows(dataset)
    y = d["label"]
    assert np.bincount(y)[0] > 3 * np.bincount(y)[1]          # the data are imbalanced
    got = np.concatenate([b["label"] for b in har.batches(d["x"], d["mask"], y, batch_size=16, balanced=True,
                                                          epochs=40, seed=3)])
    share = np.bincount(got) / len(got)
    assert abs(share[1] - 0.5) < 0.04, share
    # unlabelled windows are never drawn
    y2 = y.copy()
    y2[y2 == 1] = -1
    got2 = np.concatenate([b["label"] for b in har.batches(d["x"], d["mask"], y2, balanced=True, epochs=3)])
    assert set(got2) == {0}


def test_plain_batches_are_a_seeded_permutation_with_masks(dataset):
    d = har.load_windows(dataset)
    bs = list(har.batches(d["x"], d["mask"], d["label"], batch_size=7, seed=5))
    idx = np.concatenate([b["index"] for b in bs])
    assert sorted(idx) == list(range(len(d["x"])))            # every window once per epoch
    assert all(len(b["x"]) == 7 for b in bs[:-1])
    b0 = bs[0]
    np.testing.assert_array_equal(b0["x"], d["x"][b0["index"]])
    np.testing.assert_array_equal(b0["mask"], d["mask"][b0["index"]])
    again = next(iter(har.batches(d["x"], d["mask"], d["label"], batch_size=7, seed=5)))
    np.testing.assert_array_equal(again["index"], b0["index"])
    other = next(iter(har.batches(d["x"], d["mask"], d["label"], batch_size=7, seed=6)))
    assert not np.array_equal(other["index"], b0["index"])
    dropped = list(har.batches(d["x"], d["mask"], batch_size=7, drop_last=True))
    assert all(len(b["x"]) == 7 for b in dropped) and "label" not in dropped[0]
    with pytest.raises(ValueError, match="labels"):
        next(har.batches(d["x"], d["mask"], balanced=True))


def test_subject_split_keeps_each_subject_on_one_side(dataset):
    d = har.load_windows(dataset)
    tr, va, groups = har.split_by_subject(d["clips"], 0.25, seed=0)
    subj = np.asarray([m["subject"] for m in d["clips"].meta])
    assert len(groups) == 1 and not set(subj[tr]) & set(subj[va]) and len(tr) + len(va) == len(subj)
