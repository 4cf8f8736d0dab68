"""Mounting: where the device sits on the forearm and which way its axes point.

Device axes follow Android's sensor convention: ``x`` to the right of the screen, ``y`` toward its top, ``z`` out
of the screen. A ``Mount`` is a rotation ``q_fs`` (sensor frame ``s`` to forearm frame ``f``, see
``imusim_jax._orientation`` for ``f``) plus a lever arm ``lever_f`` (metres, from the wrist joint to the
sensor, in the forearm frame), and the ``side`` (which arm). The "wrist joint" is the skeleton's wrist point:
a pose estimator's wrist keypoint or a Kinect/mocap wrist marker. Presets (``MOUNTS``; figure: docs/mounts.png):

=============  =================================================================================  ===============
preset         axes (sensor in forearm terms)                                                      lever arm (cm)
=============  =================================================================================  ===============
watch-left     x toward the hand (crown at 3 o'clock), y to 12 o'clock, z out of the back of the   (0, 0, 0)
               wrist: the identity.
watch-right    the same watch worn the usual way on the right wrist: crown toward the elbow,       (0, 0, 0)
               x = -x_f, y = -y_f, z = z_f (180° about z).
band-left      a fitness band read along the arm: y (screen top) toward the hand, x = -y_f,        (0, 0, 0)
               z out of the back of the wrist (-90° about z).
band-right     the same on the right wrist (same axes relative to the forearm frame).              (0, 0, 0)
phone-left     a phone held in the left hand, screen facing out of the palm, top toward the        (9, 0, -3)
               fingers: x = y_f, y = x_f, z = -z_f.
phone-right    the same in the right hand.                                                          (9, 0, -3)
=============  =================================================================================  ===============

Watches and bands have no lever arm: the skeleton's wrist point already sits where they are worn (COCO's
annotators click the visible wrist, on its surface; Kinect's and a mocap rigid body's wrist points are likewise
where a watch would be), and on real recordings an extra offset only hurts: a 3.6 cm lever arm (2 cm toward the
elbow, 3 cm out of the back of the wrist, the anatomical joint centre to a watch's sensor) lowers the
correlation of simulated and real accelerometers from 0.991 to 0.981 (BROAD, worst axis of the fast-translation
trial) and from 0.768 to 0.756 (UTD-MHAD, median |a| envelope), measured with ``benchmarks/fidelity.py``. Give a
``Mount`` a lever arm when the wrist point is an anatomical joint centre (e.g. a biomechanical model's).
The phone's 9 cm (toward the fingers, 3 cm on the palm side) puts its centre in the palm.
A lever arm adds the tangential ``alpha × r`` and centripetal ``omega × (omega × r)`` accelerations of a point on a
rotating body (IMUSim's offset trajectory; e.g. Titterton & Weston, Strapdown Inertial Navigation Technology,
2nd ed., §3.4.3).
"""
from __future__ import annotations

import json
import os
from typing import Sequence

import jax.numpy as jnp
import numpy as np
from flax import struct
from scipy.spatial.transform import Rotation

from imusim_jax._errors import InputError

__all__ = ["Mount", "MOUNTS", "get_mount", "stack_mounts", "save_mount_json", "mount_profile_json"]


@struct.dataclass
class Mount:
    """A device on one arm. ``q_fs`` ``(4,)`` sensor-to-forearm rotation (scalar first), ``lever_f`` ``(3,)``
    metres from the wrist joint to the sensor in the forearm frame; ``side`` and ``name`` are static."""

    q_fs: jnp.ndarray
    lever_f: jnp.ndarray
    side: str = struct.field(pytree_node=False, default="left")
    name: str = struct.field(pytree_node=False, default="custom")

    @classmethod
    def create(cls, R_fs, lever_f=(0.0, 0.0, 0.0), side: str = "left", name: str = "custom") -> "Mount":
        """From a rotation matrix whose columns are the sensor's x, y, z axes in forearm coordinates."""
        R = np.asarray(R_fs, np.float64)
        lever = np.asarray(lever_f, np.float64)
        if lever.shape != (3,) or not np.isfinite(lever).all():
            raise InputError(f"a mount's lever_f must be 3 finite numbers (metres), got {lever.tolist()}")
        if R.shape == (4,):
            if not np.isfinite(R).all() or np.linalg.norm(R) < 1e-6:
                raise InputError(f"a mount quaternion must be finite and non-zero, got {R.tolist()}")
            q = R / np.linalg.norm(R)
        else:
            if R.shape != (3, 3) or not np.isfinite(R).all() or not np.allclose(R @ R.T, np.eye(3), atol=1e-6) \
                    or np.linalg.det(R) < 0:
                raise InputError("a mount rotation must be a proper 3x3 rotation matrix (a mirror is not a mount)")
            xyzw = Rotation.from_matrix(R).as_quat()
            q = np.array([xyzw[3], xyzw[0], xyzw[1], xyzw[2]])
        if side not in ("left", "right"):
            raise InputError(f"side must be 'left' or 'right', got {side!r}")
        # NumPy leaves: presets are built at import time without starting a JAX backend.
        return cls(np.asarray(q, np.float32), lever.astype(np.float32), side, name)

    def replace_side(self, side: str) -> "Mount":
        return self.replace(side=side)

    def to_dict(self) -> dict:
        """The JSON form ``from_dict`` reads: ``q_fs`` (w, x, y, z), ``lever_f`` (m), ``side``, ``name``."""
        return {"name": self.name, "side": self.side, "q_fs": np.asarray(self.q_fs, np.float64).tolist(),
                "lever_f": np.asarray(self.lever_f, np.float64).tolist()}

    @classmethod
    def from_dict(cls, d: dict, where: str = "mount") -> "Mount":
        """From a profile's ``mount`` object: ``side`` (``left``/``right``) and one rotation, either ``q_fs`` (w, x,
        y, z, sensor to forearm; normalised), ``R_fs`` (3x3 rows, its columns the sensor's axes in forearm
        terms) or ``preset`` (a preset's name) optionally followed by ``turn_deg``, a rotation vector in degrees
        about the preset's own sensor axes (UTD-MHAD's wrist sensor: ``{"preset": "watch-right", "turn_deg":
        [0, 180, 0]}``); ``lever_f`` (metres, default the preset's or 0) and ``name`` are optional. One-line
        ``InputError`` (naming ``where``) for anything else."""
        if not isinstance(d, dict):
            raise InputError(f"{where} must be a JSON object with side and q_fs, R_fs or preset")
        known = {"name", "side", "q_fs", "R_fs", "preset", "turn_deg", "lever_f"}
        unknown = set(d) - known
        if unknown:
            raise InputError(f"{where}: unknown keys {sorted(unknown)}; expected {', '.join(sorted(known))}")
        given = [k for k in ("q_fs", "R_fs", "preset") if k in d]
        if len(given) != 1:
            raise InputError(f"{where} needs exactly one of q_fs, R_fs or preset, got {given or 'none'}")
        base = get_mount(d["preset"]) if "preset" in d else None
        side = d.get("side", base.side if base is not None else None)
        if side not in ("left", "right"):
            raise InputError(f"{where}.side must be 'left' or 'right', got {side!r}")
        try:
            if base is not None:
                rot = np.asarray(base.q_fs, np.float64)
                turn = np.asarray(d.get("turn_deg", [0.0, 0.0, 0.0]), np.float64)
                if turn.shape != (3,) or not np.isfinite(turn).all():
                    raise InputError(f"{where}.turn_deg must be 3 numbers (a rotation vector in degrees)")
                xyzw = (Rotation.from_quat(rot[[1, 2, 3, 0]]) * Rotation.from_rotvec(turn, degrees=True)).as_quat()
                rot = xyzw[[3, 0, 1, 2]]
            else:
                rot = np.asarray(d.get("q_fs", d.get("R_fs")), np.float64)
            lever = d.get("lever_f", base.lever_f if base is not None else (0.0, 0.0, 0.0))
            if "turn_deg" in d and base is None:
                raise InputError(f"{where}.turn_deg turns a preset: give it with preset")
            if rot.shape not in ((4,), (3, 3)):
                raise InputError(f"{where}: q_fs must be 4 numbers (w, x, y, z) or R_fs 3x3, got shape {rot.shape}")
            return cls.create(rot, np.asarray(lever, np.float64), side, str(d.get("name", "custom")))
        except (TypeError, ValueError) as e:
            if isinstance(e, InputError):
                raise InputError(f"{where}: {e}") from None
            raise InputError(f"{where}: rotations and lever_f must be numbers ({e})") from None


_WATCH = np.eye(3)
_WATCH_R = np.diag([-1.0, -1.0, 1.0])
_BAND = np.array([[0.0, 1.0, 0.0], [-1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])   # columns: x_s = -y_f, y_s = x_f, z_s = z_f
_PHONE = np.array([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, -1.0]])  # columns: x_s = y_f, y_s = x_f, z_s = -z_f

_SPECS = {
    "watch-left": (_WATCH, (0.0, 0.0, 0.0), "left"),
    "watch-right": (_WATCH_R, (0.0, 0.0, 0.0), "right"),
    "band-left": (_BAND, (0.0, 0.0, 0.0), "left"),
    "band-right": (_BAND, (0.0, 0.0, 0.0), "right"),
    "phone-left": (_PHONE, (0.09, 0.0, -0.03), "left"),
    "phone-right": (_PHONE, (0.09, 0.0, -0.03), "right"),
    # A sensor carried directly by a tracked body (Trajectory input): identity, no lever arm.
    "body": (np.eye(3), (0.0, 0.0, 0.0), "left"),
}

MOUNTS: dict[str, Mount] = {k: Mount.create(R, lev, side, k) for k, (R, lev, side) in _SPECS.items()}


def get_mount(mount: str | os.PathLike | Mount) -> Mount:
    """A preset by name (``watch-left``, ``watch-right``, ``band-left``, ``band-right``, ``phone-left``,
    ``phone-right``, ``body``), a sensor profile ``.json`` with a ``mount`` object (``Mount.from_dict``; the
    file ``imusim-jax mounts NAME -o FILE.json`` writes, or a calibrated profile), or a ``Mount`` unchanged."""
    if isinstance(mount, Mount):
        return mount
    text = os.fspath(mount) if isinstance(mount, os.PathLike) else str(mount)
    if text.strip().lower().endswith(".json"):
        return _load_mount_json(text.strip())
    key = text.strip().lower().replace("_", "-")
    if key not in MOUNTS:
        raise InputError(f"unknown mount {mount!r}; expected one of {', '.join(MOUNTS)} or a profile .json")
    return MOUNTS[key]


def mount_profile_json(mount: Mount, **extra) -> str:
    """A mount as a profile's JSON text (``{"format": "imusim-jax/profile", "mount": {...}}``): ``--mount FILE``
    and ``get_mount(FILE)`` read it back; a profile may carry a ``noise`` object too (``--noise FILE``)."""
    d = {"format": "imusim-jax/profile", "version": 1,
         "units": "q_fs: unit quaternion (w, x, y, z), sensor to forearm; lever_f: metres in the forearm frame",
         "mount": mount.to_dict(), **extra}
    return json.dumps(d, indent=2)


def save_mount_json(mount: Mount, path: str | os.PathLike, **extra) -> None:
    """Write ``mount_profile_json(mount)`` to ``path``."""
    with open(path, "w") as f:
        f.write(mount_profile_json(mount, **extra))


def _load_mount_json(path: str) -> Mount:
    if not os.path.exists(path):
        raise InputError(f"no such mount profile: {path}")
    try:
        with open(path) as f:
            d = json.load(f)
    except (OSError, ValueError) as e:
        raise InputError(f"cannot read mount profile {path}: {e}".splitlines()[0]) from None
    if isinstance(d, dict) and "mount" not in d and any(k in d for k in ("preset", "q_fs", "R_fs")):
        d = {"mount": d}  # the mount object alone: {"preset": "watch-right", "turn_deg": [0, 180, 0]}
    if not isinstance(d, dict) or not isinstance(d.get("mount"), dict):
        raise InputError(f"mount profile {path} needs a 'mount' object (see `imusim-jax mounts watch-left -o "
                         "FILE.json`)")
    m = Mount.from_dict(d["mount"], f"{os.path.basename(path)}: mount")
    return m if "name" in d["mount"] else m.replace(name=os.path.splitext(os.path.basename(path))[0])


def stack_mounts(mounts: Sequence[Mount | str]) -> Mount:
    """Stack mounts of the same arm into one batched ``Mount`` (leaves ``(B, 4)`` and ``(B, 3)``)."""
    if not mounts:
        raise InputError("no mounts to stack")
    ms = [get_mount(m) for m in mounts]
    sides = {m.side for m in ms}
    if len(sides) != 1:
        raise InputError(f"a batched mount must use one arm, got {sorted(sides)}; simulate each arm separately")
    return Mount(jnp.stack([jnp.asarray(m.q_fs) for m in ms]), jnp.stack([jnp.asarray(m.lever_f) for m in ms]),
                 ms[0].side, "+".join(m.name for m in ms))
