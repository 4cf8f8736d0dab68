"""Source datasets: one module per dataset, each registering its readers (``imusim_jax.io.registry``) when this
package is imported (``import imusim_jax`` does).

* ``ntu``: NTU RGB+D ``.skeleton`` (Kinect v2, ``ntu25``).
* ``utd_mhad``: UTD-MHAD ``*_skeleton.mat`` (Kinect v1, ``kinect20``).
* ``kinect``: the Kinect camera space both share.
"""
from imusim_jax.datasets import kinect, ntu, utd_mhad  # noqa: F401 - each registers its readers

__all__ = ["kinect", "ntu", "utd_mhad"]
