"""Source datasets: one module per dataset, each registering its readers (``imusim_jax.io.registry``) when this
package is imported (``import imusim_jax`` does).

Motions:

* ``ntu``: NTU RGB+D ``.skeleton`` (Kinect v2, ``ntu25``).
* ``utd_mhad``: UTD-MHAD ``*_skeleton.mat`` (Kinect v1, ``kinect20``).
* ``kinect``: the Kinect camera space both share.
* ``smartfallmm``: SmartFallMM's Azure Kinect skeleton (``smartfallmm-skeleton``, ``azure32``).

Synthetic motion: ``synthetic`` (``synthetic_motion``: walking, turning people moving both arms; no files).

Labels: ``taxonomy``: the safety taxonomy (the seven safety-critical behaviours, the routine activities they are
confused with, safety and severity) and every source dataset's class list and label map.

Real IMU recordings (``imu`` readers: ``imusim_jax.io.read_recordings``), SI units, uniform samples:

* ``utd_mhad``: UTD-MHAD ``*_inertial.mat`` (``utd-mhad-inertial``; right wrist, or thigh for actions 22-27).
* ``upfall``: UP-Fall Detection ``CompleteDataSet.csv``, ``Subject{X}Activity{Y}Trial{Z}.csv``, the falls-only
  export (``upfall``; left wrist).
* ``smartfallmm``: SmartFallMM ``<group>/accelerometer/<watch|meta_wrist>/SxxAyyTzz.csv.gz`` with its gyroscope
  file (``smartfallmm``; watch left wrist, MetaMotion right).
* ``weda_fall``: WEDA-FALL ``50Hz/<code>/U<u>_R<r>_accel.csv`` with ``_gyro.csv`` (``weda-fall``; Fitbit Sense).
* ``broad``: BROAD ``.hdf5`` (``broad``; a rigid body, with its rest periods).
"""
from imusim_jax.datasets import broad, kinect, ntu, smartfallmm, synthetic, taxonomy, upfall, utd_mhad, weda_fall  # noqa: F401

__all__ = ["broad", "kinect", "ntu", "smartfallmm", "synthetic", "taxonomy", "upfall", "utd_mhad", "weda_fall"]
