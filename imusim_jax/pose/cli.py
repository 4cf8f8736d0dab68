"""``imusim-jax video2imu``: the Stage 1 command, added to the main typer app by ``register(app)``.

  imusim-jax video2imu VIDEO --pose mediapipe|vitpose --mount watch-left --rate 50 -o OUTDIR
      [--noise none|preset|profile.json] [--seed 0] [--start S] [--end S] [--fps F] [--max-people N]
      [--height-m 1.70] [--focal-px F] [--gravity upright|standing|ground] [--device auto|cpu|cuda] [--raw]
      [--detector NAME|PATH] [--pose2d NAME|PATH] [--lifter NAME|PATH]

Writes ``OUTDIR/person_<id>/{motion.npz, imu.csv, imu.png, meta.json}`` per person reconstructed plausibly and
``OUTDIR/meta.json`` (see ``imusim_jax.pose.pipeline.video2imu``: people rejected as failed reconstructions are
listed there with the reason; ``person_*`` folders an earlier run left in OUTDIR are replaced). Bad input,
missing weights and "no person found" exit with status 2 and one ``error:`` line (the main CLI's ``InputError``
handling).
"""
from __future__ import annotations

from typing import Optional

import typer

__all__ = ["register"]


def register(app: typer.Typer) -> None:
    """Add ``video2imu`` to ``app``."""

    @app.command("video2imu")
    def video2imu(
        video: str = typer.Argument(..., help="video file (mp4, avi, mov...)"),
        output: str = typer.Option(..., "-o", "--output", help="output folder (one person_<id>/ per person)"),
        pose: Optional[str] = typer.Option(None, "--pose", help="mediapipe (offline, no weights) | vitpose (ONNX "
                                           "weights); default: mediapipe when installed"),
        mount: str = typer.Option("watch-left", "--mount", help="watch-left|watch-right|band-left|band-right|"
                                  "phone-left|phone-right"),
        rate: float = typer.Option(50.0, "--rate", help="IMU output rate, Hz"),
        noise: str = typer.Option("none", "--noise", help="none, a preset (bmi160, bmi270, lsm6dso) or "
                                  "profile.json"),
        seed: int = typer.Option(0, "--seed", help="PRNG seed for the noise"),
        start: Optional[float] = typer.Option(None, "--start", help="first second of the video to use"),
        end: Optional[float] = typer.Option(None, "--end", help="second of the video to stop at"),
        fps: Optional[float] = typer.Option(None, "--fps", help="override the video's frame rate (Hz)"),
        max_people: Optional[int] = typer.Option(None, "--max-people", help="keep at most N people (longest "
                                                 "seen first)"),
        height_m: float = typer.Option(1.70, "--height-m", help="subject height in metres (sets the scale)"),
        focal_px: Optional[float] = typer.Option(None, "--focal-px", help="camera focal length in pixels "
                                                 "(default: a 70 degree diagonal field of view)"),
        gravity: str = typer.Option("upright", "--gravity", help="upright (level camera) | standing | ground"),
        device: str = typer.Option("auto", "--device", help="auto|cpu|cuda (ONNX models)"),
        detector: str = typer.Option("yolox-s", "--detector", help="vitpose backend: person detector, a weights "
                                     "name or an .onnx path (missing: one person, boxes from keypoints)"),
        pose2d: str = typer.Option("vitpose-b", "--pose2d", help="vitpose backend: 2D pose model, name or path"),
        lifter: str = typer.Option("videopose3d-243", "--lifter", help="vitpose backend: 2D-to-3D lifter, name or "
                                   "path"),
        raw: bool = typer.Option(False, "--raw", help="skip outlier rejection and smoothing (for comparison)"),
        progress: bool = typer.Option(True, "--progress/--no-progress", help="progress bars on stderr"),
    ):
        """Video -> per-person 3D motion and simulated wrist IMU (accelerometer m/s^2, gyroscope rad/s)."""
        from imusim_jax._motion import InputError
        from imusim_jax.pose.pipeline import BACKENDS, PipelineConfig, video2imu as run

        backend = (pose or "auto").strip().lower()
        if backend not in BACKENDS + ("auto",):
            raise InputError(f"--pose must be one of {', '.join(BACKENDS)}, got {pose!r}")
        if gravity not in ("upright", "standing", "ground"):
            raise InputError(f"--gravity must be upright, standing or ground, got {gravity!r}")
        if device not in ("auto", "cpu", "cuda"):
            raise InputError(f"--device must be auto, cpu or cuda, got {device!r}")
        if not (0.5 <= height_m <= 2.5):
            raise InputError(f"--height-m must be a stature in metres (0.5-2.5), got {height_m}")
        kw = {} if not raw else {"smoothing": None}
        from imusim_jax.pose.pipeline import default_backend

        if (default_backend() if backend == "auto" else backend) == "mediapipe":
            from imusim_jax.pose.mediapipe_backend import silence_native_stderr

            silence_native_stderr()
        cfg = PipelineConfig(pose=backend, mount=mount, rate_hz=rate, noise=noise, seed=seed, start_s=start,
                             end_s=end, fps=fps, max_people=max_people, subject_height_m=height_m,
                             focal_px=focal_px, gravity=gravity, device=device, detector=detector, pose2d=pose2d,
                             lifter=lifter, progress=progress, **kw)
        summary = run(video, output, cfg)
        for p in summary["people"]:
            typer.echo(f"person {p['person']}: {p['frames']} frames from t = {p['t0_s']:.2f} s, peak |a - g| "
                       f"{p['peak_accel_minus_g_mps2']:.1f} m/s^2 -> {output}/{p['folder']}/")
        for p in summary["rejected_people"]:
            typer.echo(f"person {p['person']}: not written ({p['why']})")
        typer.echo(f"wrote {len(summary['people'])} person(s) to {output} ({summary['backend']} backend, "
                   f"{summary['runtime_s']:.1f} s)")
