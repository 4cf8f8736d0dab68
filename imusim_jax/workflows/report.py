"""A page people can watch: the video with each person's 2D skeleton beside their simulated watch signal
(``imusim-jax video2imu VIDEO -o OUT --report report.html``).

One self-contained HTML file (no network: the script and the style are inline, the frames are JPEG data URIs):

* the video at a reduced rate and size (``REPORT_MAX_FPS``, ``REPORT_MAX_WIDTH``, at most ``REPORT_MAX_FRAMES``
  frames, JPEG quality ``REPORT_JPEG_QUALITY``: a 10 s clip is about 2-4 MB), each person's 2D keypoints (Stage 1's
  own, ``PersonTrack.keypoints2d``, not recomputed) drawn over it as a skeleton with the person's id;
* per person, the six channels of the ``imu.csv`` written (accelerometer m/s^2, gyroscope rad/s) and ``|a| - g``,
  in a window of ``PLOT_WINDOW_S`` that scrolls with the video's time, a cursor at the current time;
* the safety-relevant events: samples whose ``| |a| - g |`` exceeds ``FALL_ACCEL_MINUS_G_MPS2`` shaded on the
  plots, listed (a click seeks there) and flagged on the video while they last;
* Stage 1's quality score per person (``quality`` in their ``meta.json``, ``video2imu.stage1_quality``: the
  fraction of their frames in which the pose model found them times the mean confidence of their 2D keypoints
  there), the fraction of frames with pose, the peaks and the forearm roll's source;
* play/pause, a time slider, and the arrow keys to step.

The data the page draws is embedded as JSON in ``<script id="imusim-report-data" type="application/json">``
(``DATA_ID``; the frames in ``FRAMES_ID``), so that a test or a script can read it back (``read_report_data``).
Times are seconds in the video file; a person's IMU sample ``t`` is at ``t0_s + t`` there.

Nothing here runs Stage 1 or the simulator: ``video2imu`` passes what they produced (``report_person``).
"""
from __future__ import annotations

import base64
import dataclasses
import html
import json
import os
import re
from typing import Iterable, Optional, Sequence

import numpy as np

from imusim_jax._constants import STANDARD_GRAVITY
from imusim_jax._errors import InputError

__all__ = ["FALL_ACCEL_MINUS_G_MPS2", "REPORT_MAX_FPS", "REPORT_MAX_WIDTH", "REPORT_MAX_FRAMES",
           "REPORT_JPEG_QUALITY", "PLOT_WINDOW_S", "DATA_ID", "FRAMES_ID", "ReportPerson", "accel_minus_g",
           "fall_events", "report_person", "encode_frames", "video_frames", "render_report",
           "write_report", "write_report_video", "read_report_data"]

FALL_ACCEL_MINUS_G_MPS2 = 3.0 * STANDARD_GRAVITY
"""``| |a| - g |`` (m/s^2, about 29.4: 3 g) above which a watch sample is marked as a possible fall or impact.

Wrist accelerometer fall detectors put their impact threshold at 2.5-4 g of total acceleration because everyday
arm movements already reach 2 g at the wrist; 3 g of ``|a| - g`` (``|a|`` about 4 g at an impact) sits above what
this project's reconstructions read for everyday movement (a person sitting down: about 23 m/s^2 of ``|a - g|``
through ``video2imu --pose mediapipe``) and well below a fall's impact (about 4 times that, README)."""

REPORT_MAX_FPS = 12.5
"""Frames per second of video embedded at most (the IMU plots are not decimated)."""

REPORT_MAX_WIDTH = 480
"""Width (pixels) the embedded frames are scaled down to at most."""

REPORT_MAX_FRAMES = 400
"""Frames embedded at most: a longer clip is embedded at a lower rate (the page's size stays under ~20 MB)."""

REPORT_JPEG_QUALITY = 70
"""JPEG quality of the embedded frames."""

PLOT_WINDOW_S = 6.0
"""Seconds of signal the plots show around the current time (the whole clip when it is shorter)."""

DATA_ID = "imusim-report-data"
"""``id`` of the ``<script type="application/json">`` holding the plotted data (see ``read_report_data``)."""

FRAMES_ID = "imusim-report-frames"
"""``id`` of the ``<script type="application/json">`` holding the frames (JPEG data URIs)."""

# Limbs drawn between 2D keypoints, by joint name: each joint set draws the pairs it has both ends of.
_LIMBS = (("left_shoulder", "right_shoulder"), ("left_hip", "right_hip"), ("left_shoulder", "left_hip"),
          ("right_shoulder", "right_hip"), ("left_shoulder", "left_elbow"), ("left_elbow", "left_wrist"),
          ("right_shoulder", "right_elbow"), ("right_elbow", "right_wrist"), ("left_hip", "left_knee"),
          ("left_knee", "left_ankle"), ("right_hip", "right_knee"), ("right_knee", "right_ankle"),
          ("left_wrist", "left_index"), ("left_wrist", "left_pinky"), ("right_wrist", "right_index"),
          ("right_wrist", "right_pinky"), ("left_ankle", "left_heel"), ("left_heel", "left_foot_index"),
          ("right_ankle", "right_heel"), ("right_heel", "right_foot_index"), ("pelvis", "left_hip"),
          ("pelvis", "right_hip"), ("pelvis", "spine"), ("spine", "thorax"), ("thorax", "neck_nose"),
          ("neck_nose", "head"), ("thorax", "left_shoulder"), ("thorax", "right_shoulder"), ("nose", "left_eye"),
          ("nose", "right_eye"), ("left_eye", "left_ear"), ("right_eye", "right_ear"))


@dataclasses.dataclass
class ReportPerson:
    """One person on the page.

    Attributes:
      id: the person's id (``person_<id>``).
      t0_s: time (s) in the video file of the IMU's ``t = 0``.
      imu: ``(N, 7)`` the ``imu.csv`` columns ``t, ax, ay, az, gx, gy, gz`` (s, m/s^2, rad/s).
      frame_times_s: ``(T,)`` times (s in the file) of the frames the keypoints belong to.
      keypoints2d: ``(T, J, 3)`` pixels (in the full-size frame) and confidence, in ``joint_set``.
      joint_set: the 2D joint set's name.
      wrist: the joint the watch is on (``left_wrist``...), highlighted; ``None``: none.
      summary: figures shown beside the plots (``quality``, ``pose_found_frac``, peaks, ``roll``...).
    """

    id: int
    t0_s: float
    imu: np.ndarray
    frame_times_s: np.ndarray
    keypoints2d: np.ndarray
    joint_set: str
    wrist: Optional[str] = None
    summary: dict = dataclasses.field(default_factory=dict)


def accel_minus_g(accel) -> np.ndarray:
    """``| |a| - g |`` (m/s^2) per sample of ``accel`` ``(..., 3)``: how far the watch is from resting."""
    return np.abs(np.linalg.norm(np.asarray(accel, np.float64), axis=-1) - STANDARD_GRAVITY)


def fall_events(t, accel, threshold: float = FALL_ACCEL_MINUS_G_MPS2) -> list[dict]:
    """Runs of consecutive samples whose ``| |a| - g |`` exceeds ``threshold``: ``{"start_s", "end_s", "peak_s",
    "peak_mps2"}`` each (times as ``t``)."""
    t = np.asarray(t, np.float64)
    d = accel_minus_g(accel)
    over = np.concatenate([[False], d > threshold, [False]])
    starts, ends = np.flatnonzero(~over[:-1] & over[1:]), np.flatnonzero(over[:-1] & ~over[1:])
    out = []
    for s, e in zip(starts, ends):
        k = s + int(np.argmax(d[s:e]))
        out.append({"start_s": float(t[s]), "end_s": float(t[e - 1]), "peak_s": float(t[k]),
                    "peak_mps2": float(d[k])})
    return out


def report_person(person_motion, frame_times_s, imu_csv: str, *, wrist: Optional[str] = None,
                  summary: Optional[dict] = None) -> ReportPerson:
    """A ``ReportPerson`` from what ``video2imu`` has: Stage 1's ``PersonMotion`` (its track's 2D keypoints),
    the times (s in the file) of the range's frames ``frame_times_s`` (the track's frame indices index them) and
    the ``imu.csv`` it wrote."""
    from imusim_jax.io import read_signal

    track = person_motion.track
    sig = read_signal(imu_csv)
    imu = np.column_stack([sig.t, np.asarray(sig.accel, np.float64), np.asarray(sig.gyro, np.float64)])
    times = np.asarray(frame_times_s, np.float64)
    frames = np.asarray(track.frames)
    ok = frames < len(times)
    return ReportPerson(id=int(person_motion.id), t0_s=float(person_motion.t0_s), imu=imu,
                        frame_times_s=times[frames[ok]], keypoints2d=np.asarray(track.keypoints2d)[ok],
                        joint_set=track.joint_set2d, wrist=wrist, summary=dict(summary or {}))


def _thin(times_s: np.ndarray, max_fps: float, max_frames: int) -> np.ndarray:
    """Indices of the frames kept: at most ``max_fps`` and ``max_frames`` over the range."""
    times_s = np.asarray(times_s, np.float64)
    if len(times_s) == 0:
        return np.zeros(0, int)
    span = float(times_s[-1] - times_s[0])
    step = max(1.0 / max_fps, span / max(max_frames - 1, 1))
    keep, last = [], -np.inf
    for i, t in enumerate(times_s):
        if t - last >= step - 1e-9:
            keep.append(i)
            last = t
    return np.asarray(keep[:max_frames], int)


def encode_frames(frames: Iterable[np.ndarray], max_width: int = REPORT_MAX_WIDTH,
                  quality: int = REPORT_JPEG_QUALITY) -> tuple[list[str], float]:
    """RGB uint8 frames -> JPEG data URIs, scaled down to ``max_width``; returns ``(uris, scale)``."""
    import cv2

    uris, scale = [], 1.0
    for f in frames:
        f = np.asarray(f)
        h, w = f.shape[:2]
        scale = min(1.0, max_width / float(w))
        if scale < 1.0:
            f = cv2.resize(f, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)
        ok, buf = cv2.imencode(".jpg", cv2.cvtColor(np.ascontiguousarray(f), cv2.COLOR_RGB2BGR),
                               [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
        if not ok:
            raise InputError("cannot encode a video frame as JPEG")
        uris.append("data:image/jpeg;base64," + base64.b64encode(buf.tobytes()).decode("ascii"))
    return uris, scale


def video_frames(video_path: str, *, start_s=None, end_s=None, fps=None, max_fps: float = REPORT_MAX_FPS,
                 max_frames: int = REPORT_MAX_FRAMES) -> tuple[np.ndarray, list[np.ndarray], np.ndarray]:
    """The frames of ``video_path`` to embed, decoded as Stage 1 decoded them (``pose.video.Video`` with the same
    range and rate: upright, letterbox cropped): ``(times_s in the file (K,), frames [K x (H, W, 3)], all the
    range's frame times (T,))``, thinned to ``max_fps`` and ``max_frames``."""
    from imusim_jax.pose.video import Video

    video = Video(video_path, start_s=start_s, end_s=end_s, fps=fps)
    all_times = video.info.start_s + np.asarray(video.times_s, np.float64)
    keep = _thin(all_times, max_fps, max_frames)
    wanted, frames = set(keep.tolist()), []
    for i, f in video:
        if i in wanted:
            frames.append(f)
        if len(frames) == len(keep):
            break
    keep = keep[:len(frames)]
    return all_times[keep], frames, all_times


def _round(a, digits: int = 6) -> list:
    """Floats to ``digits`` significant digits for JSON (NaN -> null)."""
    return [None if not np.isfinite(v) else float(f"{v:.{digits}g}") for v in np.asarray(a, np.float64).ravel()]


def _person_data(p: ReportPerson, frame_times_s: np.ndarray, scale: float, threshold: float) -> dict:
    from imusim_jax._joints import get_joint_set

    js = get_joint_set(p.joint_set)
    limbs = [[js.index(a), js.index(b)] for a, b in _LIMBS if js.has(a) and js.has(b)]
    imu = np.asarray(p.imu, np.float64)
    # keypoints per embedded frame: the person's frame nearest in time (within half a video frame), else null
    kt = np.asarray(p.frame_times_s, np.float64)
    dt = float(np.median(np.diff(kt))) if len(kt) > 1 else 1.0
    kps = []
    for t in frame_times_s:
        k = int(np.argmin(np.abs(kt - t))) if len(kt) else -1
        if k < 0 or abs(kt[k] - t) > 0.5 * dt + 1e-6:
            kps.append(None)
            continue
        kp = np.asarray(p.keypoints2d[k], np.float64)
        kps.append([[round(float(x) * scale, 1), round(float(y) * scale, 1), round(float(c), 2)]
                    for x, y, c in kp])
    events = fall_events(imu[:, 0], imu[:, 1:4], threshold)
    return {"id": int(p.id), "t0_s": float(p.t0_s), "joint_set": js.name, "limbs": limbs,
            "wrist": js.index(p.wrist) if p.wrist and js.has(p.wrist) else None,
            "summary": p.summary, "events": events,
            "imu": {c: _round(imu[:, i]) for i, c in enumerate(("t", "ax", "ay", "az", "gx", "gy", "gz"))},
            "keypoints": kps}


def render_report(frame_times_s, frames: Sequence[np.ndarray], people: Sequence[ReportPerson], *,
                  title: str = "video2imu", info: Optional[dict] = None,
                  threshold: float = FALL_ACCEL_MINUS_G_MPS2, max_width: int = REPORT_MAX_WIDTH) -> str:
    """The page (HTML text) for ``frames`` (RGB, full size) at ``frame_times_s`` (s in the file) and ``people``.
    ``info``: lines shown under the title (backend, mount, rate...)."""
    frame_times_s = np.asarray(frame_times_s, np.float64)
    if len(frames) != len(frame_times_s):
        raise InputError(f"{len(frames)} frames but {len(frame_times_s)} frame times")
    uris, scale = encode_frames(frames, max_width)
    h, w = (np.asarray(frames[0]).shape[:2] if len(frames) else (0, 0))
    ends = [float(frame_times_s[0]), float(frame_times_s[-1])] if len(frame_times_s) else [0.0, 0.0]
    for p in people:
        if len(p.imu):
            ends += [p.t0_s + float(p.imu[0, 0]), p.t0_s + float(p.imu[-1, 0])]
    data = {"title": title, "info": dict(info or {}), "fall_threshold_mps2": float(threshold),
            "window_s": PLOT_WINDOW_S, "t_start": min(ends), "t_end": max(ends),
            "frames": {"t": [round(float(t), 4) for t in frame_times_s], "width": int(round(w * scale)),
                       "height": int(round(h * scale))},
            "people": [_person_data(p, frame_times_s, scale, threshold) for p in people]}
    return (_PAGE.replace("__TITLE__", html.escape(title))
            .replace("__DATA_ID__", DATA_ID).replace("__FRAMES_ID__", FRAMES_ID)
            .replace("__DATA__", _script_json(data)).replace("__FRAMES__", _script_json(uris)))


def _script_json(obj) -> str:
    """JSON safe inside a ``<script>`` element (no ``</`` can close it)."""
    return json.dumps(obj, separators=(",", ":"), allow_nan=False).replace("</", "<\\/")


def write_report(path: str, frame_times_s, frames, people, **kw) -> int:
    """``render_report`` written atomically to ``path``; returns its size in bytes."""
    from imusim_jax.io import atomic_path

    text = render_report(frame_times_s, frames, people, **kw)
    with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
    return os.path.getsize(path)


def write_report_video(path: str, frame_times_s, frames: Sequence[np.ndarray], people: Sequence[ReportPerson], *,
                       threshold: float = FALL_ACCEL_MINUS_G_MPS2, max_width: int = REPORT_MAX_WIDTH) -> int:
    """The page's content as an ``.mp4`` (MPEG-4 Part 2, OpenCV's writer) at the embedded frames' rate: each
    frame with the people's skeletons and ids, above a strip of every person's ``| |a| - g |`` over the whole clip
    (the fall threshold dashed, events red, a cursor at the frame's time). Written atomically; returns the size."""
    import cv2

    from imusim_jax.io import atomic_path

    times = np.asarray(frame_times_s, np.float64)
    if len(frames) < 2 or len(frames) != len(times):
        raise InputError("a report video needs at least two frames, one time each")
    h0, w0 = np.asarray(frames[0]).shape[:2]
    scale = min(1.0, max_width / float(w0))
    W, H, S = int(round(w0 * scale)) // 2 * 2, int(round(h0 * scale)) // 2 * 2, 120
    rate = float(np.clip((len(times) - 1) / max(times[-1] - times[0], 1e-6), 1.0, 60.0))
    data = [_person_data(p, times, W / float(w0), threshold) for p in people]
    t_all = [t for p in people for t in (p.t0_s + p.imu[0, 0], p.t0_s + p.imu[-1, 0])] + [times[0], times[-1]]
    t_a, t_b = min(t_all), max(t_all)
    top = max([threshold * 1.2] + [float(accel_minus_g(p.imu[:, 1:4]).max()) for p in people])
    X = lambda t: int(round((t - t_a) / max(t_b - t_a, 1e-6) * (W - 1)))  # noqa: E731
    Y = lambda v: int(round(H + S - 4 - min(v, top) / top * (S - 8)))  # noqa: E731
    strip = np.full((S, W, 3), 255, np.uint8)
    for x in range(0, W, 8):
        cv2.line(strip, (x, Y(threshold) - H), (min(x + 4, W - 1), Y(threshold) - H), (0, 0, 220), 1)
    colours = [(75, 25, 230), (75, 180, 60), (216, 99, 67), (49, 130, 245), (180, 30, 145)]  # BGR
    for k, (p, d) in enumerate(zip(people, data)):
        c = colours[k % len(colours)]
        pts = np.stack([[X(p.t0_s + t) for t in p.imu[:, 0]], [Y(v) - H for v in accel_minus_g(p.imu[:, 1:4])]], 1)
        cv2.polylines(strip, [pts.astype(np.int32)], False, c, 1, cv2.LINE_AA)
        for e in d["events"]:
            cv2.rectangle(strip, (X(p.t0_s + e["start_s"]) - 1, 0), (X(p.t0_s + e["end_s"]) + 1, 6), (0, 0, 220), -1)
    cv2.putText(strip, "|a| - g (m/s^2), fall threshold dashed", (4, 14), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (60, 60, 60))
    with atomic_path(path) as tmp:
        vw = cv2.VideoWriter(tmp, cv2.VideoWriter_fourcc(*"mp4v"), rate, (W, H + S))
        if not vw.isOpened():
            raise InputError(f"cannot write {path}: OpenCV has no MPEG-4 writer here")
        try:
            for i, (t, f) in enumerate(zip(times, frames)):
                img = cv2.cvtColor(cv2.resize(np.ascontiguousarray(f), (W, H), interpolation=cv2.INTER_AREA),
                                   cv2.COLOR_RGB2BGR)
                for k, d in enumerate(data):
                    kp, c = d["keypoints"][i], colours[k % len(colours)]
                    if kp is None:
                        continue
                    ok = [q[2] >= 0.2 for q in kp]
                    for a, b in d["limbs"]:
                        if ok[a] and ok[b]:
                            cv2.line(img, (int(kp[a][0]), int(kp[a][1])), (int(kp[b][0]), int(kp[b][1])), c, 2,
                                     cv2.LINE_AA)
                    seen = [q for q, o in zip(kp, ok) if o]
                    if seen:
                        x0, y0 = int(min(q[0] for q in seen)), int(min(q[1] for q in seen))
                        cv2.putText(img, f"person {d['id']}", (x0, max(12, y0 - 6)), cv2.FONT_HERSHEY_SIMPLEX,
                                    0.5, c, 2, cv2.LINE_AA)
                panel = strip.copy()
                cv2.line(panel, (X(t), 0), (X(t), S - 1), (0, 0, 0), 1)
                vw.write(np.ascontiguousarray(np.concatenate([img, panel], 0)))
        finally:
            vw.release()
    return os.path.getsize(path)


def read_report_data(path: str, element_id: str = DATA_ID):
    """The JSON a report embeds in ``<script id="element_id" type="application/json">`` (``DATA_ID``: the plotted
    data; ``FRAMES_ID``: the frames)."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    m = re.search(r'<script id="%s" type="application/json">(.*?)</script>' % re.escape(element_id), text, re.S)
    if m is None:
        raise InputError(f"{path} holds no <script id={element_id!r}>: not a video2imu report")
    return json.loads(m.group(1))


_PAGE = r"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>__TITLE__</title>
<style>
body{font:14px/1.35 system-ui,sans-serif;margin:12px;color:#222;background:#fafafa}
h1{font-size:18px;margin:0 0 4px} .info{color:#555;font-size:12px;margin-bottom:8px}
#wrap{display:flex;flex-wrap:wrap;gap:14px;align-items:flex-start}
#left{flex:0 0 auto} #right{flex:1 1 560px;min-width:480px}
#video{background:#111;display:block;border:1px solid #999}
#controls{display:flex;gap:8px;align-items:center;margin-top:6px}
#slider{flex:1} #time{font-variant-numeric:tabular-nums;min-width:110px}
.person{background:#fff;border:1px solid #ccc;border-radius:6px;padding:6px 8px;margin-bottom:10px}
.person h2{font-size:15px;margin:0 0 2px} .stats{font-size:12px;color:#444}
.ev{font-size:12px;margin-top:2px} .ev button{font-size:11px;margin:1px 3px 1px 0;color:#b00;cursor:pointer}
.legend span{display:inline-block;margin-right:10px;font-size:11px}
canvas.plot{display:block;width:100%;height:250px}
</style></head><body>
<h1>__TITLE__</h1><div class="info" id="info"></div>
<div id="wrap"><div id="left"><canvas id="video"></canvas>
<div id="controls"><button id="play">&#9654; play</button><input id="slider" type="range" step="0.01">
<span id="time"></span></div>
<div class="info">Space: play/pause; arrow keys: step. Red: |a| &minus; g above the fall threshold.</div></div>
<div id="right"></div></div>
<script id="__DATA_ID__" type="application/json">__DATA__</script>
<script id="__FRAMES_ID__" type="application/json">__FRAMES__</script>
<script>
(function(){
"use strict";
const D=JSON.parse(document.getElementById("__DATA_ID__").textContent);
const URIS=JSON.parse(document.getElementById("__FRAMES_ID__").textContent);
const G=9.80665, COLORS=["#e6194b","#3cb44b","#4363d8","#f58231","#911eb4","#42d4f4","#f032e6","#9a6324"];
const AX=["#d62728","#2ca02c","#1f77b4"];
const info=document.getElementById("info");
info.textContent=Object.entries(D.info).map(([k,v])=>k+": "+v).join(" \u00b7 ")+
  (Object.keys(D.info).length?" \u00b7 ":"")+"fall threshold: |a| \u2212 g > "+D.fall_threshold_mps2.toFixed(1)+" m/s\u00b2";
const vc=document.getElementById("video"), vx=vc.getContext("2d");
const FW=D.frames.width||480, FH=D.frames.height||270;
vc.width=FW; vc.height=FH;
const imgs=URIS.map(()=>null);
function img(k){ if(!imgs[k]){ const im=new Image(); im.onload=()=>{ if(k===frameAt(cur)) draw(); }; im.src=URIS[k]; imgs[k]=im; } return imgs[k]; }
const FT=D.frames.t;
function frameAt(t){ let lo=0,hi=FT.length-1; if(hi<0) return -1; if(t<=FT[0]) return 0;
  while(lo<hi){ const m=(lo+hi+1)>>1; if(FT[m]<=t+1e-6) lo=m; else hi=m-1; } return lo; }
// per person: |a|-g, video times of the samples
const P=D.people.map((p,i)=>{ const n=p.imu.t.length, tv=new Float64Array(n), amg=new Float64Array(n);
  for(let k=0;k<n;k++){ tv[k]=p.t0_s+p.imu.t[k];
    amg[k]=Math.abs(Math.hypot(p.imu.ax[k],p.imu.ay[k],p.imu.az[k])-G); }
  return {p, color:COLORS[i%COLORS.length], tv, amg}; });
const right=document.getElementById("right");
P.forEach(q=>{ const p=q.p, s=p.summary, div=document.createElement("div"); div.className="person";
  const h=document.createElement("h2"); h.style.color=q.color; h.textContent="person "+p.id; div.appendChild(h);
  const st=document.createElement("div"); st.className="stats";
  const f=(v,d)=>(v===null||v===undefined)?"\u2013":Number(v).toFixed(d);
  st.textContent="Stage 1 quality "+f(s.quality,2)+" \u00b7 pose found in "+f(100*(s.pose_found_frac??NaN),0)+
    "% of frames \u00b7 peak |a| \u2212 g "+f(s.peak_accel_minus_g_mps2,1)+" m/s\u00b2 \u00b7 peak |\u03c9| "+
    f(s.peak_gyro_radps,1)+" rad/s"+(s.roll?" \u00b7 roll from the "+s.roll:"")+(s.mount?" \u00b7 "+s.mount:"");
  div.appendChild(st);
  const ev=document.createElement("div"); ev.className="ev";
  ev.appendChild(document.createTextNode(p.events.length?p.events.length+" event(s) above the fall threshold: ":"no sample above the fall threshold"));
  p.events.forEach(e=>{ const b=document.createElement("button"); const t=p.t0_s+e.peak_s;
    b.textContent=t.toFixed(2)+" s ("+e.peak_mps2.toFixed(0)+" m/s\u00b2)"; b.onclick=()=>seek(t); ev.appendChild(b); });
  div.appendChild(ev);
  const lg=document.createElement("div"); lg.className="legend";
  lg.innerHTML='<span style="color:'+AX[0]+'">x</span><span style="color:'+AX[1]+'">y</span><span style="color:'+AX[2]+
    '">z</span><span style="color:#888">|a| \u2212 g</span><span>top: accelerometer m/s\u00b2, bottom: gyroscope rad/s</span>';
  div.appendChild(lg);
  const c=document.createElement("canvas"); c.className="plot"; div.appendChild(c); q.canvas=c;
  right.appendChild(div); });
const slider=document.getElementById("slider"), tl=document.getElementById("time"), pb=document.getElementById("play");
slider.min=D.t_start; slider.max=D.t_end;
let cur=D.t_start, playing=false, last=null;
function seek(t){ cur=Math.min(D.t_end,Math.max(D.t_start,t)); draw(); }
slider.oninput=()=>{ seek(parseFloat(slider.value)); };
pb.onclick=()=>{ playing=!playing; if(playing&&cur>=D.t_end) cur=D.t_start; last=null; pb.innerHTML=playing?"&#10074;&#10074; pause":"&#9654; play"; if(playing) requestAnimationFrame(tick); };
document.addEventListener("keydown",e=>{ if(e.key===" "){ e.preventDefault(); pb.onclick(); }
  else if(e.key==="ArrowRight") seek(cur+0.1); else if(e.key==="ArrowLeft") seek(cur-0.1); });
function tick(ts){ if(!playing) return; if(last!==null) cur+=(ts-last)/1000; last=ts;
  if(cur>=D.t_end){ cur=D.t_end; playing=false; pb.innerHTML="&#9654; play"; }
  draw(); if(playing) requestAnimationFrame(tick); }
function inEvent(q,t){ return q.p.events.some(e=>t>=q.p.t0_s+e.start_s-0.25&&t<=q.p.t0_s+e.end_s+0.25); }
function drawVideo(){ const k=frameAt(cur); vx.fillStyle="#111"; vx.fillRect(0,0,FW,FH);
  if(k>=0){ const im=img(k); if(im.complete&&im.naturalWidth) vx.drawImage(im,0,0,FW,FH);
    if(k+1<URIS.length) img(k+1); }
  P.forEach(q=>{ const kp=k>=0?q.p.keypoints[k]:null; if(!kp) return; const c=q.color;
    vx.lineWidth=2.5; vx.strokeStyle=c;
    q.p.limbs.forEach(([a,b])=>{ if(kp[a][2]<0.2||kp[b][2]<0.2) return; vx.beginPath(); vx.moveTo(kp[a][0],kp[a][1]); vx.lineTo(kp[b][0],kp[b][1]); vx.stroke(); });
    vx.fillStyle=c; let x0=1e9,y0=1e9;
    kp.forEach(([x,y,cf])=>{ if(cf<0.2) return; vx.beginPath(); vx.arc(x,y,2.5,0,6.3); vx.fill(); x0=Math.min(x0,x); y0=Math.min(y0,y); });
    if(q.p.wrist!==null&&kp[q.p.wrist][2]>=0.2){ const [x,y]=kp[q.p.wrist]; vx.lineWidth=2; vx.strokeStyle="#fff"; vx.beginPath(); vx.arc(x,y,6,0,6.3); vx.stroke(); }
    if(x0<1e9){ const ev=inEvent(q,cur); vx.font="bold 14px sans-serif"; const label="person "+q.p.id+(ev?"  IMPACT":"");
      vx.fillStyle=ev?"#d00":"rgba(0,0,0,0.6)"; const w=vx.measureText(label).width+8, ly=Math.max(0,y0-22);
      vx.fillRect(x0-4,ly,w,18); vx.fillStyle="#fff"; vx.fillText(label,x0,ly+14); } });
}
function drawPlot(q){ const c=q.canvas, r=window.devicePixelRatio||1, W=c.clientWidth||600, H=c.clientHeight||250;
  if(c.width!==Math.round(W*r)||c.height!==Math.round(H*r)){ c.width=Math.round(W*r); c.height=Math.round(H*r); }
  const x=c.getContext("2d"); x.setTransform(r,0,0,r,0,0); x.fillStyle="#fff"; x.fillRect(0,0,W,H);
  const span=Math.min(D.window_s,D.t_end-D.t_start||1); let a=cur-span/2; a=Math.max(D.t_start,Math.min(a,D.t_end-span)); const b=a+span;
  const L=44, R=W-6, panels=[{keys:["ax","ay","az"],extra:q.amg,unit:"m/s\u00b2",thr:D.fall_threshold_mps2},{keys:["gx","gy","gz"],unit:"rad/s"}];
  const ph=(H-28)/2, p=q.p, tv=q.tv, X=t=>L+(t-a)/(b-a)*(R-L);
  let i0=0; while(i0<tv.length&&tv[i0]<a) i0++; let i1=i0; while(i1<tv.length&&tv[i1]<=b) i1++;
  i0=Math.max(0,i0-1); i1=Math.min(tv.length,i1+1);
  panels.forEach((pn,j)=>{ const top=6+j*(ph+10), bot=top+ph;
    let lo=Infinity,hi=-Infinity; for(const k of pn.keys) for(const v of p.imu[k]) if(v!==null){ lo=Math.min(lo,v); hi=Math.max(hi,v); }
    if(pn.extra) for(const v of pn.extra){ hi=Math.max(hi,v); lo=Math.min(lo,v); }
    if(pn.thr) hi=Math.max(hi,pn.thr*1.05);
    if(!(hi>lo)){ lo-=1; hi+=1; } const Y=v=>bot-(v-lo)/(hi-lo)*(bot-top);
    x.strokeStyle="#ccc"; x.lineWidth=1; x.strokeRect(L,top,R-L,ph);
    if(lo<0&&hi>0){ x.beginPath(); x.moveTo(L,Y(0)); x.lineTo(R,Y(0)); x.stroke(); }
    x.fillStyle="#555"; x.font="10px sans-serif"; x.fillText(hi.toFixed(1),2,top+9); x.fillText(lo.toFixed(1),2,bot); x.fillText(pn.unit,2,(top+bot)/2);
    x.save(); x.beginPath(); x.rect(L,top,R-L,ph); x.clip();
    p.events.forEach(e=>{ const s=X(p.t0_s+e.start_s)-2, f=X(p.t0_s+e.end_s)+2; x.fillStyle="rgba(220,0,0,0.18)"; x.fillRect(s,top,f-s,ph); });
    if(pn.thr){ x.setLineDash([4,3]); x.strokeStyle="#d00"; x.beginPath(); x.moveTo(L,Y(pn.thr)); x.lineTo(R,Y(pn.thr)); x.stroke(); x.setLineDash([]); }
    const series=pn.keys.map((k,m)=>[p.imu[k],AX[m]]); if(pn.extra) series.unshift([pn.extra,"#999"]);
    series.forEach(([v,col])=>{ x.strokeStyle=col; x.lineWidth=1.3; x.beginPath(); let on=false;
      for(let k=i0;k<i1;k++){ if(v[k]===null){ on=false; continue; } const px=X(tv[k]), py=Y(v[k]); if(on) x.lineTo(px,py); else { x.moveTo(px,py); on=true; } } x.stroke(); });
    x.restore(); });
  x.fillStyle="#555"; x.font="10px sans-serif"; x.fillText(a.toFixed(1)+" s",L,H-4); x.fillText(b.toFixed(1)+" s",R-36,H-4);
  x.strokeStyle="#000"; x.lineWidth=1.5; x.beginPath(); x.moveTo(X(cur),4); x.lineTo(X(cur),H-16); x.stroke();
}
function draw(){ slider.value=cur; tl.textContent=cur.toFixed(2)+" / "+D.t_end.toFixed(2)+" s"; drawVideo(); P.forEach(drawPlot); }
window.addEventListener("resize",draw);
seek(D.t_start);
})();
</script></body></html>
"""
