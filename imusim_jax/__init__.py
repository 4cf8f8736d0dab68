"""imusim_jax: physically correct wrist-worn IMU signals from 3D motion, in JAX.

Conventions (each stated in full in the module that owns it):
  * SI units inside (s, m, m/s^2, rad/s); g and deg/s only at the edges, on request.
  * World frame right-handed, z up; gravity ``(0, 0, -9.80665)`` m/s^2 (``_constants``).
  * Quaternions scalar first ``(w, x, y, z)``, Hamilton product; ``q_ab`` maps frame-b vectors to frame a
    (``_quaternion``).
  * An accelerometer reads specific force ``f_s = R_ws^T (a_w - g_w)``: at rest, z up, it reads +9.80665 on z.
  * Device axes follow Android (x right, y top, z out of the screen); mounts in ``_mounting``.
  * Output sample ``k`` is at ``t = k / rate_hz``; noise densities in the Allan sense (``_noise``).

Public API::

    motion = imusim_jax.load_motion("clip.npz")            # or Motion.create(joints, fps, "coco17")
    imu = imusim_jax.simulate(motion, "watch-left", "bmi160", key=jax.random.key(0), rate_hz=50)
    p = imusim_jax.prepare(motion, rate_hz=50)              # host work, once ...
    imu = imusim_jax.sense(p, mount, noise, key, time_offset_s=0.01)   # ... then pure JAX (jit, grad, vmap)

Layers (docs/architecture.md): the core (the private modules) <- ``io`` <- ``datasets`` | ``pose`` <- ``workflows``
<- ``cli``; each imports downward only.
"""
from imusim_jax import _quaternion as quaternion
from imusim_jax._constants import DEFAULT_RATE_HZ as DEFAULT_RATE_HZ
from imusim_jax._constants import GRAVITY_W as GRAVITY_W
from imusim_jax._constants import STANDARD_GRAVITY as STANDARD_GRAVITY
from imusim_jax._cutoff import auto_cutoff as auto_cutoff
from imusim_jax._cutoff import auto_cutoffs as auto_cutoffs
from imusim_jax._errors import InputError as InputError
from imusim_jax._gaps import fill_gaps as fill_gaps
from imusim_jax._impact import ImpactModel as ImpactModel
from imusim_jax._artefacts import SkeletonQuality as SkeletonQuality, find_artefacts as find_artefacts, repair_artefacts as repair_artefacts
from imusim_jax._joints import JOINT_SETS as JOINT_SETS
from imusim_jax._joints import JointSet as JointSet
from imusim_jax._joints import conversion_report as conversion_report
from imusim_jax._joints import convert as convert_joints
from imusim_jax._joints import get_joint_set as get_joint_set
from imusim_jax._motion import Motion as Motion
from imusim_jax._motion import Trajectory as Trajectory
from imusim_jax._motion import stack_motions as stack_motions
from imusim_jax._mounting import MOUNTS as MOUNTS
from imusim_jax._mounting import Mount as Mount
from imusim_jax._mounting import get_mount as get_mount
from imusim_jax._mounting import stack_mounts as stack_mounts
from imusim_jax._noise import NOISE_PRESETS as NOISE_PRESETS
from imusim_jax._noise import ImuNoise as ImuNoise
from imusim_jax._noise import SensorNoise as SensorNoise
from imusim_jax._noise import apply_noise as apply_noise
from imusim_jax._noise import get_noise as get_noise
from imusim_jax._noise import save_noise_json as save_noise_json
from imusim_jax._noise import stack_noise as stack_noise
from imusim_jax._orientation import RollModel as RollModel
from imusim_jax._profile import SensorProfile as SensorProfile
from imusim_jax._profile import get_profile as get_profile
from imusim_jax._orientation import forearm_frame as forearm_frame
from imusim_jax._signal import ImuRecording as ImuRecording
from imusim_jax._signal import ImuSignal as ImuSignal
from imusim_jax._simulate import ArmFilter as ArmFilter
from imusim_jax._simulate import ForearmWarning as ForearmWarning
from imusim_jax._simulate import Prepared as Prepared
from imusim_jax._simulate import prepare as prepare
from imusim_jax._simulate import sense as sense
from imusim_jax._simulate import simulate as simulate

# Files and source datasets (their readers register themselves), after the core, which knows nothing of them.
from imusim_jax import datasets as datasets  # noqa: E402, I001
from imusim_jax import io as io  # noqa: E402
from imusim_jax.io import load_motion as load_motion  # noqa: E402
from imusim_jax.io import load_trajectory as load_trajectory  # noqa: E402
from imusim_jax.io import read_signal as read_signal  # noqa: E402
from imusim_jax.io import write_signal as write_signal  # noqa: E402

__version__ = "0.1.0"

_SUBMODULES = ("plotting", "sample", "weights", "pose", "workflows", "cli")


def __getattr__(name: str):
    """The other public subpackages as attributes (``imusim_jax.workflows.batch.clip_key`` after ``import
    imusim_jax``), imported on first use: ``plotting`` loads matplotlib and ``pose`` onnxruntime, which a plain
    ``import imusim_jax`` need not."""
    if name in _SUBMODULES:
        import importlib

        return importlib.import_module(f"imusim_jax.{name}")
    raise AttributeError(f"module 'imusim_jax' has no attribute {name!r}")


__all__ = [
    "DEFAULT_RATE_HZ", "GRAVITY_W", "STANDARD_GRAVITY", "auto_cutoff", "auto_cutoffs", "InputError",
    "fill_gaps", "ImpactModel", "find_artefacts", "repair_artefacts", "SkeletonQuality", "JOINT_SETS", "JointSet", "conversion_report", "convert_joints", "get_joint_set", "Motion",
    "Trajectory", "stack_motions", "MOUNTS", "Mount", "get_mount", "stack_mounts", "NOISE_PRESETS", "ImuNoise",
    "SensorNoise", "apply_noise", "get_noise", "save_noise_json", "stack_noise", "SensorProfile", "get_profile",
    "RollModel", "forearm_frame", "ImuSignal", "ImuRecording", "ArmFilter", "ForearmWarning", "Prepared",
    "prepare", "sense", "simulate", "datasets", "io", "load_motion", "load_trajectory", "read_signal",
    "write_signal", "quaternion",
]
