"""Video -> per-person world motion and simulated wrist IMU: the job behind ``imusim-jax video2imu``.

1. **Stage 1** (``imusim_jax.pose.video_to_motions``): the people in the video and their world ``Motion``s.
2. **IMU** (``imusim_jax.simulate``) per person, with the forearm's roll from the hand landmarks when the hand is
   large enough in the picture (``MIN_HAND_PX``), else from the elbow hinge.
3. **Plausibility**: a person too small in the picture (``MIN_STATURE_PX``) or whose watch would read beyond a
   human forearm (``implausible``: ``MAX_WRIST_RATE_RADPS``, ``MAX_ACCEL_MPS2``) is a failed reconstruction,
   listed with the reason under ``rejected_people`` in ``OUTDIR/meta.json`` instead of written.
4. **Files**, per person ``OUTDIR/person_<id>/``: ``motion.npz`` (the format ``simulate`` reads), ``imu.csv``
   (``t,ax,ay,az,gx,gy,gz``; ``t = 0`` at the person's first frame, which is at ``t0_s`` in the video, see
   ``meta.json``), ``imu.png`` and ``meta.json``; plus ``OUTDIR/meta.json``, a summary. Every file is written
   atomically (``imusim_jax.io.atomic_path``) and the folders are published together (``_publish``): an
   interrupted run leaves no half file. A run that finds no usable person writes nothing.
"""
from __future__ import annotations

import dataclasses
import json
import os
import time
from typing import Optional

import numpy as np

from imusim_jax._constants import DEFAULT_RATE_HZ
from imusim_jax._errors import InputError
from imusim_jax.pose.config import PoseConfig
from imusim_jax.pose.types import PersonTrack

__all__ = ["MAX_ACCEL_MPS2", "MAX_WRIST_RATE_RADPS", "MIN_HAND_PX", "MIN_STATURE_PX", "WRITTEN_BY",
           "Video2ImuConfig", "hand_px", "implausible", "video2imu"]

WRITTEN_BY = "imusim-jax video2imu"
"""``meta.json`` marker of the folders this command writes (the only ones it will replace in OUTDIR)."""

MAX_WRIST_RATE_RADPS = 25.0
"""Angular rate (rad/s) above which a watch's reading is not a human forearm's: the fastest forearm rotations
(baseball pitching, the tennis serve) reach about 20-25 rad/s at 5-10 Hz, beyond what Stage 1's ~4 Hz smoothing
lets through. A reconstruction above it has a garbage orientation (a hand or forearm too small to see)."""

MAX_ACCEL_MPS2 = 150.0
"""|a - g| (m/s^2) above which a reconstruction is not a human wrist's after Stage 1's smoothing (about 15 g)."""

MIN_HAND_PX = 12.0
"""Median wrist-to-knuckle distance (pixels) below which the forearm's roll is taken from the elbow hinge, not
from the hand landmarks: BlazePose places a landmark to a pixel or two at best, so a hand 12 px long tells the
roll to about 10 degrees and a smaller one to nothing."""

MIN_STATURE_PX = 48.0
"""A person whose stature would span fewer pixels (at their distance) is not reconstructed: their forearm is
under 7 px long, and neither its orientation nor its motion can be told."""

_G = 9.80665


@dataclasses.dataclass(frozen=True)
class Video2ImuConfig(PoseConfig):
    """Settings of ``video2imu``: Stage 1's (``imusim_jax.pose.PoseConfig``) plus the simulation's.

    Attributes:
      mount, rate_hz, noise, seed, cutoff_hz, time_offset_s: as ``imusim_jax.simulate`` (``mount``: a preset, a
        profile .json or a ``Mount``; ``noise``: none, a preset, a profile .json or an ``ImuNoise``).
      roll: ``auto`` (the hand landmarks when the hand is at least ``MIN_HAND_PX`` long in the picture, else the
        elbow hinge), ``hand`` or ``hinge`` (``imusim_jax.simulate``'s ``roll``).
    """

    mount: object = "watch-left"
    rate_hz: float = DEFAULT_RATE_HZ
    noise: object = "none"
    seed: int = 0
    cutoff_hz: object = "auto"
    roll: str = "auto"
    time_offset_s: float = 0.0


# The order of the settings in OUTDIR/meta.json's "config".
_CONFIG_ORDER = ("pose", "mount", "rate_hz", "noise", "seed", "cutoff_hz", "roll")


def hand_px(person: PersonTrack, side: str) -> Optional[float]:
    """Median distance (px) from the ``side`` wrist to its index and pinky knuckles over frames with pose, or
    ``None`` when the 2D joint set has no hand landmarks."""
    from imusim_jax._joints import get_joint_set

    js = get_joint_set(person.joint_set2d)
    names = [f"{side}_wrist", f"{side}_index", f"{side}_pinky"]
    if not all(js.has(n) for n in names):
        return None
    w, i, p = (js.index(n) for n in names)
    kp = person.keypoints2d[person.pose_found]
    if len(kp) == 0:
        return 0.0
    d = 0.5 * (np.linalg.norm(kp[:, i, :2] - kp[:, w, :2], axis=-1) + np.linalg.norm(kp[:, p, :2] - kp[:, w, :2],
                                                                                        axis=-1))
    return float(np.median(d))


def implausible(peak_accel_minus_g: float, peak_gyro: float) -> Optional[str]:
    """Why a simulated watch signal is beyond a human forearm (``MAX_WRIST_RATE_RADPS``, ``MAX_ACCEL_MPS2``), or
    ``None`` when it is not."""
    if not (np.isfinite(peak_accel_minus_g) and np.isfinite(peak_gyro)):
        return "the simulated signal is not finite"
    if peak_gyro > MAX_WRIST_RATE_RADPS or peak_accel_minus_g > MAX_ACCEL_MPS2:
        return (f"failed reconstruction: the watch would read {peak_gyro:.0f} rad/s and {peak_accel_minus_g:.0f} "
                f"m/s^2 of |a - g|, beyond a human forearm ({MAX_WRIST_RATE_RADPS:.0f} rad/s, "
                f"{MAX_ACCEL_MPS2:.0f} m/s^2)")
    return None


def _write_json(obj, path) -> None:
    from imusim_jax.io import atomic_path
    from imusim_jax.pose.world import _jsonable

    with atomic_path(path) as tmp, open(tmp, "w") as f:
        json.dump(_jsonable(obj), f, indent=1)


def _clean_outdir(outdir: str, keep: set) -> tuple[list[str], list[str]]:
    """Folders ``person_*`` in ``outdir``: ``(ours, foreign)`` where ``ours`` carry this command's ``meta.json``
    (``WRITTEN_BY``, or the fields every version wrote) and are not in ``keep``."""
    ours, foreign = [], []
    if not os.path.isdir(outdir):
        return ours, foreign
    for e in sorted(os.listdir(outdir)):
        d = os.path.join(outdir, e)
        if not (e.startswith("person_") and os.path.isdir(d)) or e in keep:
            continue
        try:
            with open(os.path.join(d, "meta.json")) as f:
                m = json.load(f)
        except (OSError, ValueError):
            m = None
        mine = isinstance(m, dict) and (m.get("written_by") == WRITTEN_BY
                                        or {"person", "video", "backend", "imu_samples"} <= set(m))
        (ours if mine else foreign).append(e)
    return ours, foreign


def _publish(outdir: str, folders: dict, summary: dict) -> None:
    """Write ``folders`` (name -> function writing the folder's files into a given path) and ``OUTDIR/meta.json``.

    Every folder is written complete in a staging folder inside ``outdir`` first, then moved into place; the
    ``person_*`` folders an earlier run of this command left (recognised by their ``meta.json``) are moved out
    and deleted; ``meta.json``, the summary that lists the run's folders, is written last (atomically). A folder
    of the same name that this command did not write is never touched: the run stops with an error instead. An
    interrupted run leaves no half-written folder, and no empty ``outdir`` when it created it.
    """
    import shutil
    import tempfile

    if os.path.exists(outdir) and not os.path.isdir(outdir):
        raise InputError(f"-o {outdir} exists and is not a folder")
    stale, foreign = _clean_outdir(outdir, set())
    clash = [e for e in foreign if e in folders]
    if clash:
        raise InputError(f"{os.path.join(outdir, clash[0])} exists and was not written by video2imu: remove it or "
                         "choose another output folder")
    created = not os.path.exists(outdir)
    os.makedirs(outdir, exist_ok=True)
    try:
        stage = tempfile.mkdtemp(prefix=".video2imu-", dir=outdir)
        try:
            for name, write in folders.items():
                os.makedirs(os.path.join(stage, name))
                write(os.path.join(stage, name))
            old = os.path.join(stage, ".replaced")
            os.makedirs(old)
            for e in stale:
                os.replace(os.path.join(outdir, e), os.path.join(old, e))
            for name in folders:
                os.replace(os.path.join(stage, name), os.path.join(outdir, name))
            _write_json(summary, os.path.join(outdir, "meta.json"))
        finally:
            shutil.rmtree(stage, ignore_errors=True)
    except BaseException:
        if created:
            try:
                os.rmdir(outdir)  # only when empty
            except OSError:
                pass
        raise


def _simulate(motion, mount, noise, key, cfg: Video2ImuConfig, roll: str):
    """Simulate ``motion``; with ``cfg.roll`` ``auto``, a hand-roll signal whose rate is beyond a forearm's is
    simulated again with the elbow hinge (the hand's landmarks may be what spins the watch). Returns ``(signal,
    roll, peak |a - g|, peak |w|, finite)``."""
    from imusim_jax import simulate

    while True:
        signal = simulate(motion, mount, noise, key=key, rate_hz=cfg.rate_hz, cutoff_hz=cfg.cutoff_hz, roll=roll,
                          time_offset_s=cfg.time_offset_s)
        acc = np.asarray(signal.accel, np.float64)
        gyr = np.asarray(signal.gyro, np.float64)
        peak_a = float(np.max(np.abs(np.linalg.norm(acc, axis=1) - _G)))
        peak_w = float(np.max(np.linalg.norm(gyr, axis=1)))
        if peak_w > MAX_WRIST_RATE_RADPS and roll == "hand" and cfg.roll == "auto":
            roll = "hinge"
            continue
        return signal, roll, peak_a, peak_w, bool(np.isfinite(acc).all() and np.isfinite(gyr).all())


def video2imu(video_path: str, outdir: str, cfg: Video2ImuConfig = Video2ImuConfig()) -> dict:
    """Run the whole job; returns the summary written to ``OUTDIR/meta.json``.

    Each person Stage 1 reconstructs (``imusim_jax.pose.video_to_motions``) is simulated and checked: a person
    too small in the picture (``MIN_STATURE_PX``) or whose watch reads beyond a human forearm
    (``MAX_WRIST_RATE_RADPS``, ``MAX_ACCEL_MPS2``) is a failed reconstruction, listed with the reason under
    ``rejected_people`` in ``OUTDIR/meta.json`` instead of written. The forearm's roll comes from the hand
    landmarks when the hand is at least ``MIN_HAND_PX`` long in the picture, else from the elbow hinge (``roll``
    in each person's ``meta.json``); a hand-roll reconstruction that fails the rate check is retried with the
    hinge.

    Output: ``OUTDIR/person_<id>/`` per accepted person and ``OUTDIR/meta.json``, published by ``_publish``
    (stale ``person_*`` folders of an earlier run are removed). Bad input, missing weights and a video without a
    usable person raise ``InputError`` (one line) and write nothing: ``OUTDIR`` is left as it was (not created
    when it did not exist).
    """
    import jax

    from imusim_jax import get_mount, get_noise
    from imusim_jax import io as iio
    from imusim_jax.io import atomic_path
    from imusim_jax.plotting import plot_imu
    from imusim_jax.pose.motions import video_to_motions

    t_start = time.time()
    mount = get_mount(cfg.mount)
    noise = get_noise(cfg.noise)
    if not (np.isfinite(cfg.rate_hz) and cfg.rate_hz > 0):
        raise InputError(f"--rate must be a positive number of Hz, got {cfg.rate_hz}")
    cfg.check()
    if os.path.exists(outdir) and not os.path.isdir(outdir):
        raise InputError(f"-o {outdir} exists and is not a folder")
    found = video_to_motions(video_path, cfg)
    info, meta = found.video, found.meta
    name = os.path.basename(video_path)
    key = jax.random.key(cfg.seed)
    side = getattr(mount, "side", None)
    accepted, rejected = [], list(found.rejected)
    for pm in found:
        p = pm.track

        def reject(why, p=p, **extra):
            rejected.append({"person": p.id, "first_frame": int(p.frames[0] + info.first_frame),
                             "frames": int(len(p.frames)), "why": why, **extra})

        stature = pm.stature_px
        if stature is not None and stature < MIN_STATURE_PX:
            reject(f"too small in the picture: a {cfg.subject_height_m:.2f} m person would span {stature:.0f} px "
                   f"there (need {MIN_STATURE_PX:.0f})", stature_px=stature)
            continue
        hand = hand_px(p, side) if side in ("left", "right") else None
        if cfg.roll == "auto":
            roll = "hand" if hand is not None and hand >= MIN_HAND_PX else "hinge"
        else:
            roll = cfg.roll
        signal, roll, peak_a, peak_w, finite = _simulate(pm.motion, mount, noise, jax.random.fold_in(key, p.id),
                                                         cfg, roll)
        why = implausible(peak_a, peak_w) if finite else implausible(float("nan"), float("nan"))
        if why:
            reject(why, roll=roll, peak_gyro_radps=peak_w, peak_accel_minus_g_mps2=peak_a)
            continue
        accepted.append((pm, signal, roll, hand, peak_a, peak_w))
    rejected.sort(key=lambda r: r["person"])

    if not accepted:
        nd = len(meta.get("dropped_tracks", []))
        why = (f"{len(rejected)} person(s) found but none reconstructed plausibly: {rejected[0]['why']}"
               if rejected else (f"{nd} candidate track(s) had no consistent pose" if nd else "no candidate"))
        raise InputError(f"no person found in {name} ({meta['backend']} backend, {info.num_frames} frames of "
                         f"{info.width}x{info.height}; {why})")

    config = {k: v for k, v in dataclasses.asdict(cfg).items() if k != "smoothing"}
    config = {**{k: config[k] for k in _CONFIG_ORDER}, **config, "mount": mount.to_dict(),
              "noise": "none" if noise is None else (cfg.noise if isinstance(cfg.noise, str) else noise.name)}
    summary = {"written_by": WRITTEN_BY, "video": info.to_dict(), "backend": meta["backend"],
               "models": meta.get("models", {}), "config": config,
               "smoothing": None if cfg.smoothing is None else dataclasses.asdict(cfg.smoothing),
               "people": [], "rejected_people": rejected, "dropped_tracks": meta.get("dropped_tracks", []),
               "detector": meta.get("detector"), "detections_per_frame": meta.get("detections", {})}
    folders = {}
    for pm, signal, roll, hand, peak_a, peak_w in accepted:
        motion, rep = pm.motion, pm.report
        assumptions = list(pm.assumptions)
        assumptions.append("forearm roll from the " + ("hand landmarks" if roll == "hand" else
                                                       "elbow hinge (hand landmarks too small or unusable)"))
        pmeta = {
            "written_by": WRITTEN_BY, "person": pm.id, "video": os.path.abspath(video_path),
            "backend": meta["backend"], "models": meta.get("models", {}), "fps": info.fps,
            "fps_source": info.fps_source, "t0_s": pm.t0_s, "first_frame": pm.first_frame,
            "frames": int(rep["frames"]), "joint_set": motion.joint_set, "mount": mount.name,
            "rate_hz": cfg.rate_hz, "noise": config["noise"], "seed": cfg.seed, "imu_samples": int(signal.num_samples),
            "peak_accel_minus_g_mps2": peak_a, "peak_gyro_radps": peak_w,
            "pose_found_frac": pm.pose_found_frac, "roll": roll, "hand_px": hand,
            "stature_px": rep.get("stature_px"),
            "assumptions": assumptions, "world": rep["world"], "smoothing": rep.get("smoothing"),
            "frame_quality": pm.frame_quality,
        }

        def write(d, motion=motion, signal=signal, pmeta=pmeta, pid=pm.id):
            with atomic_path(os.path.join(d, "motion.npz")) as tmp:
                motion.save_npz(tmp)
            iio.write_signal(signal, os.path.join(d, "imu.csv"))
            with atomic_path(os.path.join(d, "imu.png")) as tmp:
                plot_imu(signal, tmp, title=f"{name}: person {pid}, {mount.name}")
            _write_json(pmeta, os.path.join(d, "meta.json"))

        folders[f"person_{pm.id}"] = write
        summary["people"].append({"person": pm.id, "folder": f"person_{pm.id}", "t0_s": pmeta["t0_s"],
                                  "frames": pmeta["frames"], "pose_found_frac": pmeta["pose_found_frac"],
                                  "peak_accel_minus_g_mps2": peak_a, "peak_gyro_radps": peak_w, "roll": roll})
    summary["runtime_s"] = round(time.time() - t_start, 2)
    _publish(outdir, folders, summary)
    return summary
