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
5. **Report** (optional, ``report=PATH``): one self-contained HTML page to watch, the video with each person's
   2D skeleton beside their six IMU channels, events above the fall threshold marked
   (``imusim_jax.workflows.report``); written before ``OUTDIR/meta.json``.

Many videos (a folder, or a ``.txt`` list: ``find_videos``) go through ``video2imu_many``: one ``Video2Imu`` (the
checked settings, mount, noise, the compiled simulator and Stage 1's models) for all, ``OUTDIR/<video stem>/``
each (the layout above), resumable (a video whose ``OUTDIR/<stem>/meta.json`` exists is skipped), one line per
failed video.
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
from imusim_jax._impact import impact_label
from imusim_jax.pose.config import PoseConfig
from imusim_jax.pose.types import PersonTrack

__all__ = ["MAX_ACCEL_MPS2", "MAX_WRIST_RATE_RADPS", "MIN_HAND_PX", "MIN_STATURE_PX", "WRITTEN_BY",
           "Video2ImuConfig", "Video2Imu", "VideosReport", "find_videos", "hand_px", "implausible", "is_many",
           "stage1_quality", "video2imu", "video2imu_many"]

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

@dataclasses.dataclass(frozen=True)
class Video2ImuConfig(PoseConfig):
    """Settings of ``video2imu``: Stage 1's (``imusim_jax.pose.PoseConfig``) plus the simulation's.

    Attributes:
      mount, rate_hz, noise, seed, cutoff_hz, time_offset_s: as ``imusim_jax.simulate`` (``mount``: a preset, a
        profile .json or a ``Mount``; ``noise``: none, a preset, a profile .json or an ``ImuNoise``).
      roll: ``auto`` (the hand landmarks when the hand is at least ``MIN_HAND_PX`` long in the picture, else the
        elbow hinge), ``hand`` or ``hinge`` (``imusim_jax.simulate``'s ``roll``).
      impact: the contact model, ``"on"`` (default), ``"off"`` or an ``imusim_jax.ImpactModel``
        (``imusim_jax.simulate``'s ``impact``).
    """

    mount: object = "watch-left"
    rate_hz: float = DEFAULT_RATE_HZ
    noise: object = "none"
    seed: int = 0
    cutoff_hz: object = "auto"
    roll: str = "auto"
    time_offset_s: float = 0.0
    impact: object = "on"


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


def _publish(outdir: str, folders: dict, summary: dict, before_summary=None) -> None:
    """Write ``folders`` (name -> function writing the folder's files into a given path) and ``OUTDIR/meta.json``.

    Every folder is written complete in a staging folder inside ``outdir`` first, then moved into place; the
    ``person_*`` folders an earlier run of this command left (recognised by their ``meta.json``) are moved out
    and deleted; ``meta.json``, the summary that lists the run's folders, is written last (atomically). A folder
    of the same name that this command did not write is never touched: the run stops with an error instead. An
    interrupted run leaves no half-written folder, and no empty ``outdir`` when it created it. ``before_summary``
    (no arguments) runs once the folders are in place, before the summary: what it writes (the report) exists
    whenever ``meta.json`` does.
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
            if before_summary is not None:
                before_summary()
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
    from imusim_jax.workflows.report import accel_minus_g

    while True:
        signal = simulate(motion, mount, noise, key=key, rate_hz=cfg.rate_hz, cutoff_hz=cfg.cutoff_hz, roll=roll,
                          time_offset_s=cfg.time_offset_s, impact=cfg.impact)
        acc = np.asarray(signal.accel, np.float64)
        gyr = np.asarray(signal.gyro, np.float64)
        peak_a = float(np.max(accel_minus_g(acc)))
        peak_w = float(np.max(np.linalg.norm(gyr, axis=1)))
        if peak_w > MAX_WRIST_RATE_RADPS and roll == "hand" and cfg.roll == "auto":
            roll = "hinge"
            continue
        return signal, roll, peak_a, peak_w, bool(np.isfinite(acc).all() and np.isfinite(gyr).all())


def stage1_quality(frame_quality) -> float:
    """Stage 1's quality score of one person, in [0, 1] (``quality`` in their ``meta.json``): the fraction of
    their frames in which the pose model found them times the mean confidence of their 2D keypoints in those
    frames (``PersonMotion.frame_quality``)."""
    found = [q for q in frame_quality if q["pose"]]
    if not found:
        return 0.0
    return (len(found) / max(len(frame_quality), 1)) * float(np.mean([q["mean_confidence"] for q in found]))


class Video2Imu:
    """The job, set up once and run on as many videos as wanted (``run``): the settings are checked and the mount,
    noise model and noise key built once, and the simulator's compiled programs stay warm from one video to the
    next (``video2imu_many``).

    Stage 1's models (MediaPipe's graphs, the ONNX sessions) are built on the first video that needs them and
    reused by the next (``imusim_jax.pose.models.PoseModels``: none keeps state between calls, so a video's result
    does not depend on what ran before); the followers that carry a person from frame to frame are made per video.
    ``close()`` frees the models.
    """

    def __init__(self, cfg: Video2ImuConfig = Video2ImuConfig()):
        import jax

        from imusim_jax import get_mount, get_noise
        from imusim_jax.pose.models import PoseModels

        self.cfg = cfg
        self.models = PoseModels()
        self.mount = get_mount(cfg.mount)
        self.noise = get_noise(cfg.noise)
        if not (np.isfinite(cfg.rate_hz) and cfg.rate_hz > 0):
            raise InputError(f"--rate must be a positive number of Hz, got {cfg.rate_hz}")
        cfg.check()
        self.key = jax.random.key(cfg.seed)

    def close(self) -> None:
        self.models.close()

    def run(self, video_path: str, outdir: str, report: Optional[str] = None) -> dict:
        """One video -> ``outdir`` (see ``video2imu``); ``report``: also write the page of ``workflows.report``
        there (before ``OUTDIR/meta.json``: a finished run has both)."""
        import jax

        from imusim_jax import io as iio
        from imusim_jax.io import atomic_path
        from imusim_jax.plotting import plot_imu
        from imusim_jax.pose.motions import video_to_motions

        cfg, mount, noise, key = self.cfg, self.mount, self.noise, self.key
        t_start = time.time()
        if os.path.exists(outdir) and not os.path.isdir(outdir):
            raise InputError(f"-o {outdir} exists and is not a folder")
        if report is not None:
            iio.check_writable(report)
        found = video_to_motions(video_path, cfg, self.models)
        info, meta = found.video, found.meta
        name = os.path.basename(video_path)
        side = getattr(mount, "side", None)
        accepted, rejected = [], list(found.rejected)
        for pm in found:
            p = pm.track

            def reject(why, p=p, **extra):
                rejected.append({"person": p.id, "first_frame": int(p.frames[0] + info.first_frame),
                                 "frames": int(len(p.frames)), "why": why, **extra})

            stature = pm.stature_px
            if stature is not None and stature < MIN_STATURE_PX:
                reject(f"too small in the picture: a {cfg.subject_height_m:.2f} m person would span {stature:.0f} "
                       f"px there (need {MIN_STATURE_PX:.0f})", stature_px=stature)
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
                  "noise": "none" if noise is None else (cfg.noise if isinstance(cfg.noise, str) else noise.name),
                  "impact": impact_label(cfg.impact)}
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
                "rate_hz": cfg.rate_hz, "noise": config["noise"], "impact": config["impact"], "seed": cfg.seed,
                "imu_samples": int(signal.num_samples),
                "peak_accel_minus_g_mps2": peak_a, "peak_gyro_radps": peak_w,
                "pose_found_frac": pm.pose_found_frac, "quality": round(stage1_quality(pm.frame_quality), 6),
                "roll": roll, "hand_px": hand, "stature_px": rep.get("stature_px"),
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
                                      "quality": pmeta["quality"], "peak_accel_minus_g_mps2": peak_a,
                                      "peak_gyro_radps": peak_w, "roll": roll})
        write_report = None
        if report is not None:
            summary["report"] = os.path.abspath(report)

            def write_report():
                self._report(report, video_path, outdir, found, summary)

        summary["runtime_s"] = round(time.time() - t_start, 2)
        _publish(outdir, folders, summary, write_report)
        return summary

    def _report(self, path: str, video_path: str, outdir: str, found, summary: dict) -> None:
        """The page of ``workflows.report``: the video's frames as Stage 1 decoded them, each written person's
        2D keypoints (Stage 1's) and the ``imu.csv`` just published."""
        from imusim_jax.workflows import report as rp

        cfg = self.cfg
        times, frames, all_times = rp.video_frames(video_path, start_s=cfg.start_s, end_s=cfg.end_s, fps=cfg.fps)
        side = getattr(self.mount, "side", None)
        by_id = {pm.id: pm for pm in found}
        people = []
        for s in summary["people"]:
            pm = by_id[s["person"]]
            people.append(rp.report_person(
                pm, all_times, os.path.join(outdir, s["folder"], "imu.csv"),
                wrist=f"{side}_wrist" if side in ("left", "right") else None,
                summary={**{k: s[k] for k in ("quality", "pose_found_frac", "peak_accel_minus_g_mps2",
                                              "peak_gyro_radps", "roll")}, "mount": self.mount.name}))
        info = {"video": os.path.basename(video_path), "backend": summary["backend"], "mount": self.mount.name,
                "rate": f"{cfg.rate_hz:g} Hz", "noise": summary["config"]["noise"]}
        if summary["rejected_people"]:
            info["not written"] = "; ".join(f"person {r['person']}: {r['why']}" for r in summary["rejected_people"])
        if path.lower().endswith(".mp4"):
            rp.write_report_video(path, times, frames, people)
        else:
            rp.write_report(path, times, frames, people, title=f"{os.path.basename(video_path)}: video2imu",
                            info=info)


def video2imu(video_path: str, outdir: str, cfg: Video2ImuConfig = Video2ImuConfig(),
              report: Optional[str] = None) -> dict:
    """Run the whole job; returns the summary written to ``OUTDIR/meta.json``.

    Each person Stage 1 reconstructs (``imusim_jax.pose.video_to_motions``) is simulated and checked: a person
    too small in the picture (``MIN_STATURE_PX``) or whose watch reads beyond a human forearm
    (``MAX_WRIST_RATE_RADPS``, ``MAX_ACCEL_MPS2``) is a failed reconstruction, listed with the reason under
    ``rejected_people`` in ``OUTDIR/meta.json`` instead of written. The forearm's roll comes from the hand
    landmarks when the hand is at least ``MIN_HAND_PX`` long in the picture, else from the elbow hinge (``roll``
    in each person's ``meta.json``); a hand-roll reconstruction that fails the rate check is retried with the
    hinge.

    Output: ``OUTDIR/person_<id>/`` per accepted person and ``OUTDIR/meta.json``, published by ``_publish``
    (stale ``person_*`` folders of an earlier run are removed); with ``report`` (a path), the HTML page of
    ``imusim_jax.workflows.report`` too, written before ``OUTDIR/meta.json``. Bad input, missing weights and a
    video without a usable person raise ``InputError`` (one line) and write nothing: ``OUTDIR`` is left as it was
    (not created when it did not exist).
    """
    import contextlib

    with contextlib.closing(Video2Imu(cfg)) as job:
        return job.run(video_path, outdir, report)


@dataclasses.dataclass
class VideosReport:
    """What ``video2imu_many`` did: ``written`` ``(video, OUT/<stem>)``, ``skipped`` (videos whose folder an
    earlier run finished), ``failed`` ``(video, one-line reason)``."""

    written: list = dataclasses.field(default_factory=list)
    skipped: list = dataclasses.field(default_factory=list)
    failed: list = dataclasses.field(default_factory=list)


def is_many(path: str) -> bool:
    """Whether ``video2imu``'s argument names many videos: a folder, or a list file (``.txt``)."""
    return os.path.isdir(path) or path.lower().endswith(".txt")


def find_videos(path: str) -> list[str]:
    """The videos a folder or a list file names, in order.

    A folder: its video files (``sources.VIDEO_SUFFIXES``: .mp4 .avi .mov .mkv .m4v .webm .mpg .mpeg, any case),
    sorted by name, not searching subfolders. A list file (``.txt``): one path a line, relative paths relative to
    the list file's folder, blank lines and lines starting with ``#`` skipped (a path that is not there fails on
    its own, as a video that cannot be read does). Raises ``InputError`` for a missing path, no videos, or two
    videos of the same stem (their output folders would clash)."""
    from imusim_jax.workflows.sources import VIDEO_SUFFIXES

    if os.path.isdir(path):
        videos = [os.path.join(path, n) for n in sorted(os.listdir(path))
                  if n.lower().endswith(VIDEO_SUFFIXES) and os.path.isfile(os.path.join(path, n))]
        if not videos:
            raise InputError(f"no video files ({', '.join('*' + s for s in VIDEO_SUFFIXES)}) in {path}")
    else:
        try:
            with open(path, encoding="utf-8") as f:
                lines = f.read().splitlines()
        except (OSError, UnicodeDecodeError) as e:
            raise InputError(f"cannot read the list {path}: {getattr(e, 'strerror', None) or e}") from None
        base = os.path.dirname(os.path.abspath(path))
        videos = [ln if os.path.isabs(ln) else os.path.join(base, ln)
                  for ln in (raw.strip() for raw in lines) if ln and not ln.startswith("#")]
        if not videos:
            raise InputError(f"the list {path} names no video")
    stems = [_stem(v) for v in videos]
    clash = next((s for s in stems if stems.count(s) > 1), None)
    if clash is not None:
        both = " and ".join(v for v, s in zip(videos, stems) if s == clash)
        raise InputError(f"{both} would both write to <OUT>/{clash}: rename one")
    return videos


def _stem(video: str) -> str:
    return os.path.splitext(os.path.basename(video))[0]


def _done(folder: str, report: Optional[str]) -> bool:
    """Whether an earlier run finished ``folder``: its ``meta.json`` (written last) is this command's, and the
    report asked for is there."""
    try:
        with open(os.path.join(folder, "meta.json")) as f:
            m = json.load(f)
    except (OSError, ValueError):
        return False
    return (isinstance(m, dict) and m.get("written_by") == WRITTEN_BY
            and (report is None or os.path.isfile(os.path.join(folder, report))))


def video2imu_many(videos: list, outdir: str, cfg: Video2ImuConfig = Video2ImuConfig(), *,
                   report: Optional[str] = None, progress: bool = True, warn=None) -> VideosReport:
    """``video2imu`` on every video of ``videos`` (``find_videos``), each to ``OUTDIR/<video stem>/`` (the layout of
    one video's ``OUTDIR``), with one ``Video2Imu`` (settings, mount, noise, compiled simulator, Stage 1's models)
    for all.

    ``report``: a file name; each video's page is written to ``OUTDIR/<stem>/<report>``. Resumable: a video is done
    when its ``OUTDIR/<stem>/meta.json`` (written last, atomically) is there (and its report, when one is asked
    for): done videos are skipped; the temporary files and staging folders a killed run left are removed. A
    video that fails (unreadable, no usable person, ...) is one line to ``warn`` (default: stderr,
    ``error: <video>: <reason>``) and the others go on. ``progress``: a bar over the videos (Stage 1's own bars
    are off)."""
    import shutil
    import sys

    from tqdm.auto import tqdm

    from imusim_jax.io.files import remove_temporaries
    from imusim_jax.workflows.batch import failure_line, failure_reason

    warn = warn or (lambda msg: print(msg, file=sys.stderr))
    if os.path.exists(outdir) and not os.path.isdir(outdir):
        raise InputError(f"-o {outdir} exists and is not a folder")
    job = Video2Imu(dataclasses.replace(cfg, progress=False))
    out = VideosReport()
    todo = []
    for v in videos:
        folder = os.path.join(outdir, _stem(v))
        if _done(folder, report):
            out.skipped.append(v)
            continue
        if os.path.isdir(folder):  # what a killed run left: temporaries, the staging folder
            remove_temporaries(folder)
            for e in os.listdir(folder):
                if e.startswith(".video2imu-"):
                    shutil.rmtree(os.path.join(folder, e), ignore_errors=True)
        todo.append((v, folder))
    # disable=None: no bar when stderr is not a terminal
    bar = tqdm(total=len(todo), unit="video", desc="video2imu", disable=None if progress else True)
    try:
        for v, folder in todo:
            bar.set_postfix_str(os.path.basename(v))
            try:
                job.run(v, folder, None if report is None else os.path.join(folder, report))
                out.written.append((v, folder))
            except Exception as e:  # noqa: BLE001 - a video's failure stays that video's
                reason = failure_reason(e)
                out.failed.append((v, reason))
                warn(failure_line(v, reason))
            bar.update(1)
    finally:
        bar.close()
        job.close()
    return out
