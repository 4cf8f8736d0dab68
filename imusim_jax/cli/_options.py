"""The options every simulating command shares (``simulate``, ``batch``, ``video2imu``), declared once, and their
checks, done once before anything is read or simulated."""
from __future__ import annotations

import dataclasses
from typing import Annotated, Optional

import typer

from imusim_jax._constants import DEFAULT_RATE_HZ
from imusim_jax.cli._app import fail

MountOption = Annotated[Optional[str], typer.Option(
    "--mount", help="watch-left (default)|watch-right|band-left|band-right|phone-left|phone-right|body, or a "
    "profile .json with a 'mount' object (`imusim-jax mounts NAME -o FILE.json` writes one to edit)")]
WristOption = Annotated[Optional[str], typer.Option(
    "--wrist", help="left|right: the arm (implied by a mount preset; alone, or with --mount watch|band|phone, "
    "it picks that device on this wrist)")]
RateOption = Annotated[Optional[float], typer.Option(
    "--rate", help="IMU output rate, Hz (default: the profile's, else 50)")]
NoiseOption = Annotated[Optional[str], typer.Option(
    "--noise", help="none (default), a preset (bmi160, bmi270, lsm6dso, ideal) or a profile .json")]
ProfileOption = Annotated[Optional[str], typer.Option(
    "--profile", help="a sensor profile .json (imusim-jax calibrate): its mount, noise, time offset and rate; "
    "--mount, --noise and --rate given as well win over its parts")]
SeedOption = Annotated[int, typer.Option("--seed", help="PRNG seed for the noise")]
CutoffOption = Annotated[Optional[str], typer.Option(
    "--cutoff", help="low-pass cut-off of the joints in Hz, 'auto' (Winter's residual analysis per clip; the "
    "default, or the profile's) or 'none'")]
RollOption = Annotated[str, typer.Option(
    "--roll", help="forearm roll from auto|hand|hinge (auto: hand landmarks where the joint set has them)")]
FpsOption = Annotated[Optional[float], typer.Option("--fps", help="override the input's frame rate, Hz")]
JointSetOption = Annotated[Optional[str], typer.Option(
    "--joint-set", help="override the input's joint set: coco17|h36m17|ntu25|mediapipe33|kinect20")]

ImpactOption = Annotated[Optional[str], typer.Option(
    "--impact", help="on (default) | off: a wrist arriving at the floor, or a strike ending, read over a physical "
    "contact time instead of the filter's smear (imusim_jax.ImpactModel)")]
ContactTimeOption = Annotated[Optional[float], typer.Option(
    "--contact-time", help="the contact model's contact time, s (default: the profile's, else 0.06)")]

ROLLS = ("auto", "hand", "hinge")


@dataclasses.dataclass(frozen=True)
class Simulation:
    """The checked simulation options: ``mount`` a ``Mount``, ``noise`` an ``ImuNoise`` or ``None`` (``noise_name``
    as the user wrote it, for the outputs' metadata), ``cutoff_hz`` a number, ``"auto"`` or ``None``."""

    mount: object
    noise: object
    noise_name: str
    rate_hz: float
    seed: int
    cutoff_hz: object
    roll: str
    time_offset_s: float = 0.0
    profile: Optional[str] = None
    impact: object = "on"

    def metadata(self) -> dict:
        """What an output records about how it was made (``batch`` compares it on a rerun)."""
        import numpy as np

        from imusim_jax import __version__
        from imusim_jax._impact import impact_label

        m = self.mount
        return {"mount": m.name, "side": m.side, "q_fs": np.round(np.asarray(m.q_fs, np.float64), 9).tolist(),
                "lever_f": np.round(np.asarray(m.lever_f, np.float64), 9).tolist(), "noise": self.noise_name,
                "rate_hz": self.rate_hz, "seed": self.seed, "cutoff_hz": self.cutoff_hz, "roll": self.roll,
                "time_offset_s": self.time_offset_s, "profile": self.profile, "impact": impact_label(self.impact),
                "imusim_jax": __version__}


def resolve_mount(mount, wrist: Optional[str], default="watch-left"):
    """``--mount`` and ``--wrist`` as one ``Mount``: ``--wrist`` alone picks the watch on that wrist, with
    ``watch``/``band``/``phone`` it picks that device, with ``body`` it sets the arm, and with anything else it
    must agree with the mount's arm. ``default`` (a name or a ``Mount``: a profile's) serves when neither is
    given."""
    from imusim_jax import MOUNTS, Mount, get_mount

    if wrist is not None:
        wrist = wrist.strip().lower()
        if wrist not in ("left", "right"):
            fail(f"--wrist must be left or right, got {wrist!r}")
    if mount is None and wrist is None and isinstance(default, Mount):
        return default
    if mount is None and isinstance(default, Mount):
        default = default.name
    name = (mount if mount is not None else ("watch" if wrist else default)).strip()
    key = name.lower()
    if wrist is not None and key in ("watch", "band", "phone"):
        return get_mount(f"{key}-{wrist}")
    if wrist is not None and key == "body":
        return get_mount("body").replace(side=wrist)
    m = get_mount(name)
    if wrist is not None and m.side != wrist:
        what = "the mount implies the wrist" if key in MOUNTS else "the profile's mount has side " + m.side
        fail(f"--wrist {wrist} contradicts --mount {name} ({what})")
    return m


def check_seed(seed: int) -> int:
    """``--seed`` must fit ``jax.random.key`` (a 64-bit signed integer)."""
    if not -2 ** 63 <= seed < 2 ** 63:
        fail(f"--seed must be an integer from -2^63 to 2^63 - 1, got {seed}")
    return seed


def simulation(*, mount: Optional[str], wrist: Optional[str], rate: Optional[float], noise: Optional[str],
               seed: int, cutoff: Optional[str], roll: str, profile: Optional[str] = None,
               default_mount: str = "watch-left", impact: Optional[str] = None,
               contact_time: Optional[float] = None) -> Simulation:
    """Check the shared options (one ``error:`` line each) and resolve them: before any input is read. A
    ``--profile`` supplies the mount, noise, time offset and rate that the other options do not."""
    from imusim_jax._cutoff import cutoff_arg, positive_hz
    from imusim_jax._noise import get_noise
    from imusim_jax._profile import get_profile

    prof = get_profile(profile) if profile is not None else None
    rate_hz = positive_hz(rate if rate is not None else (prof.rate_hz if prof is not None and prof.rate_hz
                                                          else DEFAULT_RATE_HZ), "--rate")
    if cutoff is not None:
        cut = cutoff_arg(cutoff, "--cutoff")
    else:
        cut = prof.cutoff_hz if prof is not None and prof.cutoff_hz is not None else "auto"
    roll = roll.strip().lower()
    if roll not in ROLLS:
        fail(f"--roll must be one of {', '.join(ROLLS)}, got {roll!r}")
    m = resolve_mount(mount, wrist, prof.mount if prof is not None and prof.mount is not None else default_mount)
    if noise is not None:
        noise_model, noise_name = get_noise(noise), noise
    elif prof is not None and prof.noise is not None:
        noise_model, noise_name = prof.noise, f"{profile} ({prof.noise.name})"
    else:
        noise_model, noise_name = None, "none"
    return Simulation(mount=m, noise=noise_model, noise_name=noise_name, rate_hz=rate_hz, seed=check_seed(seed),
                      cutoff_hz=cut, roll=roll, time_offset_s=0.0 if prof is None else float(prof.time_offset_s),
                      profile=profile, impact=resolve_impact(impact, contact_time, prof))


def resolve_impact(impact: Optional[str], contact_time: Optional[float], prof=None):
    """``--impact`` and ``--contact-time`` (and a profile's contact time) as an ``ImpactModel`` or ``None``."""
    from imusim_jax._impact import ImpactModel

    which = "on" if impact is None else impact.strip().lower()
    if which not in ("on", "off"):
        fail(f"--impact must be on or off, got {impact!r}")
    if which == "off":
        if contact_time is not None:
            fail("--contact-time needs --impact on")
        return None
    if contact_time is not None:
        return ImpactModel.create(contact_time)
    return prof.impact if prof is not None else ImpactModel()


def check_plot(path: str) -> None:
    """``--plot``: a format matplotlib writes, checked before the simulation runs."""
    import os

    from matplotlib.backend_bases import FigureCanvasBase

    ext = os.path.splitext(path)[1].lower().lstrip(".")
    formats = FigureCanvasBase.get_supported_filetypes()
    if ext not in formats:
        fail(f"--plot {path!r} must end in one of .{', .'.join(sorted(formats))}")
