"""Readers of the package's own motion files, registered by suffix (``imusim_jax.io.registry``): ``.npz``
(``Motion.save_npz``), ``.csv``/``.txt`` in three layouts (wide, long, numbers only; ``Motion.save_csv`` writes the
wide one) and the rigid-body trajectory CSV (``load_trajectory``). Files are in metres in the z-up world."""
from __future__ import annotations

import csv
import io as _io
import os
import re

import numpy as np

from imusim_jax._errors import InputError
from imusim_jax._joints import JOINT_SETS, get_joint_set
from imusim_jax._motion import Motion, Trajectory
from imusim_jax.io.files import _COMMENT_KV, check_npz_magic, rate_from_time, read_csv_table
from imusim_jax.io.registry import register_reader

__all__ = ["read_npz_motion", "read_csv_motion", "load_trajectory"]


def _as_str(x) -> str:
    x = np.asarray(x)
    if x.dtype.kind in "SU" or x.dtype == object:
        v = x.item() if x.ndim == 0 else x.ravel()[0]
        return v.decode() if isinstance(v, bytes) else str(v)
    raise InputError(f"joint_set must be a string, got an array of {x.dtype}")


def read_npz_motion(path: str, *, fps=None, joint_set=None) -> Motion:
    """A ``.npz`` motion: arrays ``joints`` (T, J, 3) or (B, T, J, 3) in metres in the z-up world, ``fps``,
    ``joint_set``[, ``confidence``]; ``fps`` and ``joint_set`` override the file's."""
    fps_override, joint_set_override = fps, joint_set
    check_npz_magic(path, "joints=..., fps=..., joint_set=...")
    try:
        with np.load(path, allow_pickle=False) as z:
            data = {k: z[k] for k in z.files}
    except Exception as e:  # zipfile.BadZipFile, ValueError, OSError...
        raise InputError(f"cannot read {path} as .npz: {type(e).__name__}: {e}".splitlines()[0]) from None
    if "joints" not in data:
        raise InputError(f"{path} has no array 'joints' (found: {', '.join(sorted(data)) or 'nothing'})")
    fps = fps_override if fps_override is not None else data.get("fps")
    if fps is None:
        raise InputError(f"{path} has no 'fps' (add the array or pass --fps)")
    js = joint_set_override or (_as_str(data["joint_set"]) if "joint_set" in data else None)
    if js is None:
        raise InputError(f"{path} has no 'joint_set' (add the array or pass --joint-set)")
    try:
        fps = np.asarray(fps, np.float64)
    except (TypeError, ValueError):
        raise InputError(f"'fps' must be a number of frames per second, got {np.asarray(fps)!r}") from None
    if fps.size != 1:
        raise InputError(f"'fps' must be a scalar, got shape {fps.shape}")
    joints = np.asarray(data["joints"])
    if joints.dtype.kind not in "fiu":
        raise InputError(f"'joints' must be numeric, got {joints.dtype}")
    return Motion.create(joints, float(fps.reshape(())), js, confidence=data.get("confidence"))


def _load_long_csv_motion(path: str, fps_override, joint_set_override) -> Motion:
    """Long layout: one row per joint per frame, columns ``frame`` (or ``t``), ``joint`` (a name of the joint set
    or its index), ``x, y, z`` (and optionally ``fps``, ``joint_set``)."""
    with open(path, newline="") as f:
        lines = [ln for ln in f.read().splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
        f.seek(0)
        meta = {m.group(1).lower(): m.group(2) for m in (_COMMENT_KV.match(ln.strip()) for ln in f) if m}
    rows = list(csv.DictReader(_io.StringIO("\n".join(lines))))
    if not rows:
        raise InputError(f"{path} has no data rows")
    keys = {k.lower().strip(): k for k in rows[0]}
    tkey = next((keys[k] for k in ("frame", "t", "time", "timestamp") if k in keys), None)
    if tkey is None or not all(c in keys for c in "xyz"):
        raise InputError(f"{path}: the long layout needs columns frame (or t), joint, x, y, z")
    js_name = joint_set_override or rows[0].get(keys.get("joint_set", ""), None) or meta.get("joint_set")
    if js_name is None:
        raise InputError(f"{path}: unknown joint set (add a joint_set column or pass --joint-set)")
    js = get_joint_set(js_name)
    try:
        stamps = sorted({float(r[tkey]) for r in rows})
        index = {v: i for i, v in enumerate(stamps)}
        joints = np.full((len(stamps), len(js), 3), np.nan)
        for r in rows:
            name = r[keys["joint"]].strip()
            j = int(name) if name.isdigit() else js.index(name)
            joints[index[float(r[tkey])], j] = [float(r[keys[c]]) for c in "xyz"]
    except KeyError as e:
        raise InputError(f"{path}: {e.args[0]}") from None
    except ValueError as e:
        raise InputError(f"{path}: {e}") from None
    fps = fps_override
    if fps is None and "fps" in keys:
        fps = float(rows[0][keys["fps"]])
    if fps is None and "fps" in meta:
        fps = float(meta["fps"])
    if fps is None and tkey.lower() != "frame":
        fps = rate_from_time(np.array(stamps), path)
    if fps is None:
        raise InputError(f"{path}: no frame rate (add an fps column, a '# fps=30' line, or pass --fps)")
    return Motion.create(joints, fps, js.name)


def _is_number(s: str) -> bool:
    try:
        float(s)
    except ValueError:
        return False
    return True


def _joint_set_by_count(n: int, path: str) -> str:
    sets = [js.name for js in JOINT_SETS.values() if len(js) == n]
    if len(sets) != 1:
        raise InputError(f"{path}: {n} joints could be " + (" or ".join(sets) if sets else "no known joint set")
                         + " (add a '# joint_set=coco17' line or pass --joint-set)")
    return sets[0]


def _load_headerless_csv_motion(path: str, fps_override, joint_set_override, delimiter) -> Motion:
    """Numbers only: ``J * 3`` columns per frame (``x, y, z`` of each joint in the joint set's order), or a time
    column (s) and then those (``numpy.savetxt`` of ``joints.reshape(T, -1)``); commas or whitespace between."""
    meta = {}
    with open(path, newline="") as f:
        for ln in f:
            m = _COMMENT_KV.match(ln.strip())
            if m:
                meta[m.group(1).lower()] = m.group(2)
    try:
        X = np.atleast_2d(np.loadtxt(path, delimiter=delimiter, comments="#", dtype=np.float64))
    except ValueError as e:
        raise InputError(f"{path}: {str(e).split(';')[0]}") from None  # NumPy's hint about usecols: not ours
    t = None
    if X.shape[1] % 3 == 1:
        t, X = X[:, 0], X[:, 1:]
    elif X.shape[1] % 3:
        raise InputError(f"{path}: {X.shape[1]} numeric columns, expected 3 per joint (and an optional time "
                         f"column first)")
    js_name = joint_set_override or meta.get("joint_set") or _joint_set_by_count(X.shape[1] // 3, path)
    fps = fps_override if fps_override is not None else (float(meta["fps"]) if "fps" in meta else None)
    if fps is None and t is not None:
        fps = rate_from_time(t, path)
    if fps is None:
        raise InputError(f"{path}: no frame rate (add a time column first, a '# fps=30' line, or pass --fps)")
    js = get_joint_set(js_name)
    if X.shape[1] != 3 * len(js):
        raise InputError(f"{path}: found {X.shape[1] // 3} joints in the columns, {js.name} has {len(js)}")
    return Motion.create(X.reshape(len(X), len(js), 3), fps, js.name)


def read_csv_motion(path: str, *, fps=None, joint_set=None) -> Motion:
    """A motion CSV (metres, z-up world), wide: a header with ``t`` (s) and ``<joint>_x,<joint>_y,<joint>_z`` per
    joint, in the joint set's order or named by the set's joint names (``Motion.save_csv`` writes this);
    ``x0,y0,z0,x1,..`` (joint index after the axis) works too, and so does a file of numbers only, ``J * 3``
    columns with an optional time column first (``numpy.savetxt`` of ``joints.reshape(T, -1)``); long: one row per
    joint per frame with columns ``frame`` (or ``t``), ``joint`` (name or index), ``x,y,z``. The frame rate comes
    from ``t``, an ``fps`` column or a ``# fps=30`` comment line; the joint set from a ``# joint_set=coco17``
    line, a ``joint_set`` column, or the column names. ``fps`` and ``joint_set`` override the file's."""
    fps_override, joint_set_override = fps, joint_set
    try:
        return _load_csv_motion_text(path, fps_override, joint_set_override)
    except UnicodeDecodeError:
        raise InputError(f"cannot read {path}: not a text (UTF-8) CSV file") from None


def _load_csv_motion_text(path: str, fps_override, joint_set_override) -> Motion:
    with open(path, newline="") as f:
        first = next((ln for ln in f if ln.strip() and not ln.lstrip().startswith("#")), "")
    fields = [h.strip().lower() for h in first.split(",")]
    if "joint" in fields:
        return _load_long_csv_motion(path, fps_override, joint_set_override)
    delimiter = "," if "," in first else None
    numbers = first.split(delimiter)
    if numbers and all(_is_number(h) for h in numbers):
        return _load_headerless_csv_motion(path, fps_override, joint_set_override, delimiter)
    header, X, meta = read_csv_table(path)
    axis_first = [re.fullmatch(r"([xyz])[_.]?(\d+)", h.strip(), re.I) for h in header]
    if any(axis_first):  # x0, y0, z0, x1, ... (joint index after the axis)
        J = 1 + max(int(m.group(2)) for m in axis_first if m)
        header = [f"{m.group(2)}_{m.group(1).lower()}" if m else h for h, m in zip(header, axis_first)]
        if joint_set_override is None and "joint_set" not in meta:
            meta["joint_set"] = _joint_set_by_count(J, path)
    cols = {h.lower(): i for i, h in enumerate(header)}
    fps = fps_override
    if fps is None and "fps" in cols:
        fps = float(X[0, cols["fps"]])
    if fps is None and "fps" in meta:
        fps = float(meta["fps"])
    tcol = cols.get("t", cols.get("time", cols.get("timestamp")))
    if fps is None and tcol is not None:
        fps = rate_from_time(X[:, tcol], path)
    if fps is None:
        raise InputError(f"{path}: no frame rate (add a 't' column, a '# fps=30' line, or pass --fps)")
    js_name = joint_set_override or meta.get("joint_set")
    not_joints = ("t", "x", "y", "z", "index", "idx", "frame_idx", "frame_index")  # pandas' and counters' columns
    coord = [h for h in header if re.search(r"[_.]?[xyz]$", h, re.I) and h.lower() not in not_joints]
    names = []
    for h in coord:
        base = re.sub(r"[_.]?[xyz]$", "", h, flags=re.I)
        if base not in names:
            names.append(base)
    if names and all(n.isdigit() for n in names):  # joints by index: x0, y0, z0 / 0_x, ...
        names.sort(key=int)
    if js_name is None:  # infer the joint set from the column names
        for js in JOINT_SETS.values():
            if set(js.joints) == set(names):
                js_name = js.name
                break
    if js_name is None:
        raise InputError(f"{path}: unknown joint set (add a '# joint_set=coco17' line or pass --joint-set)")
    js = get_joint_set(js_name)
    by_name = all(n in js.joints for n in names) and len(names) == len(js)
    order = list(js.joints) if by_name else names
    if len(order) != len(js):
        raise InputError(f"{path}: found {len(order)} joints in the columns, {js.name} has {len(js)}")
    joints = np.zeros((X.shape[0], len(js), 3))
    for j, n in enumerate(order):
        for k, c in enumerate("xyz"):
            cand = [h for h in header if re.fullmatch(re.escape(n) + r"[_.]?" + c, h, re.I)]
            if not cand:
                raise InputError(f"{path}: missing column for joint {n!r} axis {c}")
            joints[:, j, k] = X[:, header.index(cand[0])]
    return Motion.create(joints, fps, js.name)


def load_trajectory(path: str | os.PathLike, *, fps: float | None = None) -> Trajectory:
    """Read a rigid-body trajectory CSV: ``t,x,y,z,qw,qx,qy,qz`` (s, m, unit quaternion body to world, scalar
    first), as x-io's IMU Simulator reads it. Its other layout ``t,x,y,z,roll,pitch,yaw`` (degrees, ZYX, i.e.
    ``R = Rz(yaw) Ry(pitch) Rx(roll)``) is accepted too. ``time`` may stand for ``t``; ``fps`` overrides the
    rate taken from the time column."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise InputError(f"no such file: {path}")
    header, X, meta = read_csv_table(path)
    cols = {h.lower(): i for i, h in enumerate(header)}
    tname = next((n for n in ("t", "time", "timestamp") if n in cols), None)
    need = ["x", "y", "z"]
    missing = [c for c in need if c not in cols]
    if missing:
        raise InputError(f"{path}: missing columns {missing}; expected t,x,y,z,qw,qx,qy,qz")
    p = X[:, [cols[c] for c in need]]
    if all(c in cols for c in ("qw", "qx", "qy", "qz")):
        q = X[:, [cols[c] for c in ("qw", "qx", "qy", "qz")]]
    elif all(c in cols for c in ("roll", "pitch", "yaw")):
        from scipy.spatial.transform import Rotation

        rpy = X[:, [cols["roll"], cols["pitch"], cols["yaw"]]]
        xyzw = Rotation.from_euler("ZYX", rpy[:, ::-1], degrees=True).as_quat()
        q = xyzw[:, [3, 0, 1, 2]]
    else:
        raise InputError(f"{path}: missing orientation columns; expected qw,qx,qy,qz (or roll,pitch,yaw in degrees)")
    if fps is None:
        if "fps" in meta:
            fps = float(meta["fps"])
        elif tname is not None:
            fps = rate_from_time(X[:, cols[tname]], path)
        else:
            raise InputError(f"{path}: no time column 't' (or pass --fps)")
    return Trajectory.create(p, q, fps)


register_reader("motion", "npz", (".npz",), read_npz_motion, options=("fps", "joint_set"),
                description="joints (T, J, 3) m z-up, fps, joint_set[, confidence] (Motion.save_npz)")
register_reader("motion", "csv", (".csv", ".txt"), read_csv_motion, search=(".csv",), options=("fps", "joint_set"),
                description="t and <joint>_x,_y,_z columns, long (frame,joint,x,y,z) or numbers only "
                            "(Motion.save_csv)")
