"""``imusim-jax video2imu``: a video in, per person a world motion and a simulated wrist IMU.

  imusim-jax video2imu VIDEO --pose mediapipe|vitpose --mount watch-left --rate 50 -o OUTDIR
      [--noise none|preset|profile.json] [--seed 0] [--cutoff auto|HZ|none] [--roll auto|hand|hinge]
      [--wrist left|right] [--start S] [--end S] [--fps F] [--max-people N] [--height-m 1.70] [--focal-px F]
      [--gravity upright|standing|ground] [--device auto|cpu|cuda] [--raw]
      [--detector NAME|PATH] [--pose2d NAME|PATH] [--lifter NAME|PATH]
      [--schedule candidates|people] [--relink/--no-relink]

      [--report report.html]
  imusim-jax video2imu FOLDER|LIST.txt -o OUTDIR [the options above] [--report report.html]

Writes ``OUTDIR/person_<id>/{motion.npz, imu.csv, imu.png, meta.json}`` per person reconstructed plausibly and
``OUTDIR/meta.json`` (``imusim_jax.workflows.video2imu``); ``--report PATH``: also a self-contained HTML page to
watch (``imusim_jax.workflows.report``). A folder (its videos, sorted, not its subfolders) or a ``.txt`` list (one
path a line, relative to the list, ``#`` comments) writes ``OUTDIR/<video stem>/`` per video, that layout inside,
resumably (finished videos are skipped), ``--report`` as ``OUTDIR/<stem>/<its file name>``, and one error line
per failed video (exit 2 when any failed).
"""
from __future__ import annotations

import os
from typing import Optional

import typer

from imusim_jax.cli._app import app, fail, finish_many, one_line_warnings
from imusim_jax.cli._options import (ContactTimeOption, CutoffOption, ImpactOption, MountOption, NoiseOption,
                                     ProfileOption, RateOption, RollOption, SeedOption, WristOption, simulation)


@app.command("video2imu")
def video2imu(
    video: str = typer.Argument(..., help="video file (mp4, avi, mov...), or a folder of videos, or a .txt list of "
                                "them (one path a line)"),
    output: str = typer.Option(..., "-o", "--output", help="output folder (one person_<id>/ per person; with "
                               "many videos, one <video stem>/ per video)"),
    pose: Optional[str] = typer.Option(None, "--pose", help="mediapipe (offline, no weights) | vitpose (ONNX "
                                       "weights); default: mediapipe when installed"),
    mount: MountOption = None,
    wrist: WristOption = None,
    rate: RateOption = None,
    noise: NoiseOption = None,
    profile: ProfileOption = None,
    seed: SeedOption = 0,
    cutoff: CutoffOption = None,
    roll: RollOption = "auto",
    impact: ImpactOption = None,
    contact_time: ContactTimeOption = None,
    start: Optional[float] = typer.Option(None, "--start", help="first second of the video to use"),
    end: Optional[float] = typer.Option(None, "--end", help="second of the video to stop at"),
    fps: Optional[float] = typer.Option(None, "--fps", help="override the video's frame rate (Hz)"),
    max_people: Optional[int] = typer.Option(None, "--max-people", help="keep at most N people (longest seen "
                                             "first)"),
    height_m: float = typer.Option(1.70, "--height-m", help="subject height in metres (sets the scale)"),
    focal_px: Optional[float] = typer.Option(None, "--focal-px", help="camera focal length in pixels (default: a "
                                             "70 degree diagonal field of view)"),
    gravity: str = typer.Option("upright", "--gravity", help="upright (level camera) | standing | ground"),
    device: str = typer.Option("auto", "--device", help="auto|cpu|cuda (ONNX models)"),
    detector: str = typer.Option("yolox-s", "--detector", help="vitpose backend: person detector, a weights name "
                                 "or an .onnx path (missing: one person, boxes from keypoints)"),
    pose2d: str = typer.Option("vitpose-b", "--pose2d", help="vitpose backend: 2D pose model, name or path"),
    lifter: str = typer.Option("videopose3d-243", "--lifter", help="vitpose backend: 2D-to-3D lifter, name or "
                               "path"),
    schedule: str = typer.Option("candidates", "--schedule", help="mediapipe backend: candidates (every candidate "
                                 "track searched every frame) | people (pose-model cost grows with the people "
                                 "followed, not the candidates)"),
    relink: bool = typer.Option(False, "--relink/--no-relink", help="cut tracks where the pose jumps and join the "
                                "pieces into one track per person by position and colour"),
    raw: bool = typer.Option(False, "--raw", help="skip outlier rejection and smoothing (for comparison)"),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="progress bars on stderr"),
    report: Optional[str] = typer.Option(None, "--report", help="also write an HTML page to watch: the video "
                                         "with each person's skeleton beside their IMU channels (a path; .mp4: a "
                                         "video of it; with many videos, the file name inside each video's "
                                         "folder)"),
):
    """Video -> per-person 3D motion and simulated wrist IMU (accelerometer m/s^2, gyroscope rad/s)."""
    from imusim_jax.pose.config import BACKENDS, SCHEDULES, default_backend
    from imusim_jax.workflows.video2imu import Video2ImuConfig, find_videos, is_many, video2imu_many
    from imusim_jax.workflows.video2imu import video2imu as run

    backend = (pose or "auto").strip().lower()
    if backend not in BACKENDS + ("auto",):
        fail(f"--pose must be one of {', '.join(BACKENDS)}, got {pose!r}")
    if gravity not in ("upright", "standing", "ground"):
        fail(f"--gravity must be upright, standing or ground, got {gravity!r}")
    if device not in ("auto", "cpu", "cuda"):
        fail(f"--device must be auto, cpu or cuda, got {device!r}")
    if not (0.5 <= height_m <= 2.5):
        fail(f"--height-m must be a stature in metres (0.5-2.5), got {height_m}")
    schedule = schedule.strip().lower()
    if schedule not in SCHEDULES:
        fail(f"--schedule must be one of {', '.join(SCHEDULES)}, got {schedule!r}")
    if report is not None and not report.lower().endswith((".html", ".htm", ".mp4")):
        fail(f"--report must name an .html (or .mp4) file, got {report!r}")
    many = is_many(video)
    videos = find_videos(video) if many else None
    opts = simulation(mount=mount, wrist=wrist, rate=rate, noise=noise, seed=seed, cutoff=cutoff, roll=roll,
                      profile=profile, impact=impact, contact_time=contact_time)
    kw = {} if not raw else {"smoothing": None}
    if (default_backend() if backend == "auto" else backend) == "mediapipe":
        from imusim_jax.pose.mediapipe_backend import silence_native_stderr

        silence_native_stderr()
    cfg = Video2ImuConfig(pose=backend, mount=opts.mount, rate_hz=opts.rate_hz,
                          noise=opts.noise_name if opts.profile is None else opts.noise,
                          time_offset_s=opts.time_offset_s,
                          seed=opts.seed, cutoff_hz=opts.cutoff_hz, roll=opts.roll, impact=opts.impact, start_s=start,
                          end_s=end, fps=fps,
                          max_people=max_people, subject_height_m=height_m, focal_px=focal_px, gravity=gravity,
                          device=device, detector=detector, pose2d=pose2d, lifter=lifter, schedule=schedule,
                          relink=relink, progress=progress, **kw)
    if many:
        with one_line_warnings():
            done = video2imu_many(videos, output, cfg, report=None if report is None else os.path.basename(report),
                                  progress=progress, warn=lambda msg: typer.echo(msg, err=True))
        finish_many(f"wrote {len(done.written)} video(s) to {output}",
                    f"skipped {len(done.skipped)} done before" if done.skipped else "",
                    f"{len(done.failed)} failed (above)" if done.failed else "")
        return
    with one_line_warnings():
        summary = run(video, output, cfg, report=report)
    for p in summary["people"]:
        typer.echo(f"person {p['person']}: {p['frames']} frames from t = {p['t0_s']:.2f} s, peak |a - g| "
                   f"{p['peak_accel_minus_g_mps2']:.1f} m/s^2 -> {output}/{p['folder']}/")
    for p in summary["rejected_people"]:
        typer.echo(f"person {p['person']}: not written ({p['why']})")
    typer.echo(f"wrote {len(summary['people'])} person(s) to {output} ({summary['backend']} backend, "
               f"{summary['runtime_s']:.1f} s)" + (f"; report: {report}" if report else ""))
