"""Files in and out: motion files and IMU recordings read by format (``registry``: one reader a format, found by
suffix), IMU signals written (``signals``), and the file helpers they share (``files``).

    motion = imusim_jax.io.load_motion("clip.npz")          # also imusim_jax.load_motion
    signal = imusim_jax.io.read_signal("imu.csv")
    imusim_jax.io.write_signal(signal, "imu.parquet", subject=3)
    imusim_jax.io.register_reader("motion", "bvh", (".bvh",), read_bvh, options=("fps",))
"""
from imusim_jax.io.files import (atomic_path, check_npz_magic, check_writable, rate_from_time, read_csv_table,
                                 remove_temporaries)
from imusim_jax.io.registry import (Reader, find_files, find_reader, load_motion, motion_patterns, readers,
                                    register_reader, search_patterns)
from imusim_jax.io.motion_files import load_trajectory, read_csv_motion, read_npz_motion
from imusim_jax.io.resample import (ResampleReport, Resampled, StreamReport, clock_seconds, nice_rate,
                                    resample_streams, resample_uniform, saturation_mask)
# imu_csv before signals: both claim .csv and find_reader takes the first registered of equal suffixes, so .csv
# resolves to the generic reader ``csv`` (which hands the own t,ax,ay,az,gx,gy,gz files to ``imusim-csv``)
from imusim_jax.io.imu_csv import read_imu_csv  # noqa: I001
from imusim_jax.io.signals import COLUMNS, read_recordings, read_signal, write_signal

__all__ = ["atomic_path", "check_npz_magic", "check_writable", "rate_from_time", "read_csv_table", "remove_temporaries",
           "Reader",
           "find_files", "find_reader", "load_motion", "motion_patterns", "search_patterns", "readers", "register_reader", "load_trajectory",
           "read_csv_motion", "read_npz_motion", "COLUMNS", "read_recordings", "read_signal", "write_signal",
           "read_imu_csv", "ResampleReport", "Resampled", "StreamReport", "clock_seconds", "nice_rate",
           "resample_streams", "resample_uniform", "saturation_mask"]
