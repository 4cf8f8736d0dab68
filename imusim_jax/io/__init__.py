"""Files in and out: motion files and IMU recordings read by format (``registry``: one reader a format, found by
suffix), IMU signals written (``signals``), and the file helpers they share (``files``).

    motion = imusim_jax.io.load_motion("clip.npz")          # also imusim_jax.load_motion
    signal = imusim_jax.io.read_signal("imu.csv")
    imusim_jax.io.write_signal(signal, "imu.parquet", subject=3)
    imusim_jax.io.register_reader("motion", "bvh", (".bvh",), read_bvh, options=("fps",))
"""
from imusim_jax.io.files import atomic_path, check_npz_magic, check_writable, rate_from_time, read_csv_table
from imusim_jax.io.registry import Reader, find_reader, load_motion, motion_patterns, readers, register_reader
from imusim_jax.io.motion_files import load_trajectory, read_csv_motion, read_npz_motion
from imusim_jax.io.signals import COLUMNS, read_recordings, read_signal, write_signal

__all__ = ["atomic_path", "check_npz_magic", "check_writable", "rate_from_time", "read_csv_table", "Reader",
           "find_reader", "load_motion", "motion_patterns", "readers", "register_reader", "load_trajectory",
           "read_csv_motion", "read_npz_motion", "COLUMNS", "read_recordings", "read_signal", "write_signal"]
