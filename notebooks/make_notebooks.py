"""Writes notebooks/quickstart.ipynb and notebooks/calibrate.ipynb from the cells below (kept as code so diffs
stay readable).

Run: .venv/bin/python notebooks/make_notebooks.py [--no-execute]
"""
import pathlib
import sys

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = pathlib.Path(__file__).parent

quickstart = [
    new_markdown_cell("""# imusim-jax quickstart

From a 3D skeleton to the accelerometer and gyroscope a smartwatch would record, in JAX:

1. load the bundled sample (a forward fall from an inverted-pendulum model, COCO-17 at 30 fps);
2. simulate several devices and noise models **in one batched call**;
3. plot them;
4. take a gradient through the simulator, and fit a mounting parameter with optax.

Units are SI throughout: m/s² (specific force) and rad/s, in the device's frame (Android axes)."""),
    new_code_cell("""import jax, jax.numpy as jnp, numpy as np, optax
import matplotlib.pyplot as plt
import imusim_jax as ij
from imusim_jax.sample import load_sample
from imusim_jax.plotting import plot_imu

motion = load_sample()
print(motion.joints.shape, "joints (T, J, 3) in metres,", float(motion.fps), "fps, joint set", motion.joint_set)"""),
    new_markdown_cell("The skeleton at a few instants (side view: y forward, z up):"),
    new_code_cell("""from imusim_jax._joints import COCO17
bones = [("left_shoulder", "left_elbow"), ("left_elbow", "left_wrist"), ("right_shoulder", "right_elbow"),
         ("right_elbow", "right_wrist"), ("left_shoulder", "right_shoulder"), ("left_shoulder", "left_hip"),
         ("right_shoulder", "right_hip"), ("left_hip", "left_knee"), ("left_knee", "left_ankle"),
         ("right_hip", "right_knee"), ("right_knee", "right_ankle"), ("left_hip", "right_hip")]
J = np.asarray(motion.joints)
fig, ax = plt.subplots(figsize=(9, 3))
for i, frame in enumerate([0, 45, 60, 70, 78, 90, 150]):
    for a, b in bones:
        pa, pb = J[frame, COCO17.index(a)], J[frame, COCO17.index(b)]
        ax.plot([pa[1] + 1.2 * i, pb[1] + 1.2 * i], [pa[2], pb[2]], color=plt.cm.viridis(i / 7))
    ax.text(1.2 * i, -0.2, f"{frame / 30:.1f} s", fontsize=8)
ax.set_aspect("equal"); ax.axis("off"); plt.show()"""),
    new_markdown_cell("""## Several devices and noise models in one call

A batched `Mount` (``stack_mounts``) and a batched noise model (``stack_noise``) give one clip per pair; the
clip itself is broadcast. The noise is a pure function of the PRNG key: the same key gives the same signal."""),
    new_code_cell("""mounts = ij.stack_mounts(["watch-left", "band-left", "phone-left"])
noise = ij.stack_noise(["bmi160", "bmi270", "lsm6dso"])
imus = ij.simulate(motion, mounts, noise, key=jax.random.key(0), rate_hz=50)
print("accel", imus.accel.shape, "gyro", imus.gyro.shape, "valid samples", imus.lengths)
labels = ["watch-left + BMI160", "band-left + BMI270", "phone-left + LSM6DSO"]
for label, s in zip(labels, imus.unbatch()):
    a = np.linalg.norm(np.asarray(s.accel), axis=1)
    print(f"{label:22s} peak |a| {a.max():5.1f} m/s^2 ({a.max() / 9.80665:.1f} g), "
          f"peak |w| {np.linalg.norm(np.asarray(s.gyro), axis=1).max():.2f} rad/s")"""),
    new_code_cell("""plot_imu(dict(zip(labels, imus.unbatch())), title="one fall, three devices")
plt.show()"""),
    new_markdown_cell("""## Many clips at once

`stack_motions` pads clips of different lengths (and frame rates) into one batch with a `lengths` array; the
batched call equals the per-clip calls."""),
    new_code_cell("""clips = [motion, ij.Motion.create(np.asarray(motion.joints)[:120], 30.0, "coco17"),
         ij.Motion.create(np.asarray(motion.joints)[::2], 15.0, "coco17")]
batch = ij.stack_motions(clips)
out = ij.simulate(batch, "watch-right", "bmi270", key=jax.random.key(1), rate_hz=50)
print(out.accel.shape, out.lengths)"""),
    new_markdown_cell("""## Gradients through the simulator

Everything is differentiable. Here a small optax fit recovers a watch's lever arm from a "recorded" signal
(simulated with a known lever arm, plus white noise). In this fall the forearm swings about the elbow's hinge,
which is the forearm frame's z axis (the neutral-posture roll), so a lever arm along z adds no tangential or
centripetal acceleration: this recording cannot show it (its gradient, printed below, is ~0), and the fit
estimates x and y only."""),
    new_code_cell("""watch = ij.get_mount("watch-left")
true_lever = jnp.array([-0.03, 0.01, 0.03])
recorded = ij.simulate(motion, watch.replace(lever_f=true_lever), cutoff_hz=6.0)
target = recorded.accel + 0.02 * jax.random.normal(jax.random.key(2), recorded.accel.shape)

def loss(lever):
    sim = ij.simulate(motion, watch.replace(lever_f=lever), cutoff_hz=6.0)
    return jnp.mean((sim.accel - target) ** 2)

print("gradient at zero lever arm (x, y, z):", jax.grad(loss)(jnp.zeros(3)))

loss_and_grad = jax.jit(jax.value_and_grad(lambda xy: loss(jnp.concatenate([xy, true_lever[2:]]))))
opt = optax.adam(5e-3)
lever_xy = jnp.zeros(2)
state = opt.init(lever_xy)
for step in range(150):
    value, g = loss_and_grad(lever_xy)
    updates, state = opt.update(g, state)
    lever_xy = optax.apply_updates(lever_xy, updates)
print("fitted lever arm x, y (m):", np.round(np.asarray(lever_xy), 4), " true:", np.asarray(true_lever[:2]))
assert np.abs(np.asarray(lever_xy) - np.asarray(true_lever[:2])).max() < 0.005"""),
]

calibrate = [
    new_markdown_cell("""# Calibrating the simulator against real sensors

Three situations, three modes of `imusim_jax.calibrate`, each giving a `SensorProfile` (noise, mount, clock offset,
rate and the fit's report, with an uncertainty for every parameter) that `simulate --profile` applies:

1. **stationary**: a rest recording gives the noise model, by fitting its Allan variance;
2. **paired**: a motion with the real IMU recorded during it gives the mount, time offset, gains, biases and noise;
3. **unpaired**: simulated and real recordings of the same activities (not the same trials) give noise, scale and
   smoothing by distribution matching.

The cells use the real recordings in `../shared/realdata` when they are there (BROAD, UTD-MHAD), and small
synthetic stand-ins when not."""),
    new_code_cell("""import os, pathlib
import jax, jax.numpy as jnp, numpy as np
import matplotlib.pyplot as plt
import imusim_jax as ij
from imusim_jax import calibrate
from imusim_jax.plotting import plot_calibration

REAL = next((p for p in (pathlib.Path("../../shared/realdata"), pathlib.Path("../shared/realdata"),
                         pathlib.Path(os.environ.get("IMUSIM_REALDATA", "/nonexistent"))) if p.is_dir()), None)
print("real data:", REAL)"""),
    new_markdown_cell("""## 1. Stationary: the noise model from rest

BROAD marks the samples where its IMU lies still (`movement == 0`); the reader hands them over as
`meta["rest_segments"]`, and `fit_stationary` pools the Allan variance of those segments and fits white noise,
bias instability and random walk to all of it at once."""),
    new_code_cell("""broad = REAL / "broad" / "09_undisturbed_fast_rotation_with_breaks_B.hdf5" if REAL else None
if broad is not None and broad.exists():
    rest = ij.io.read_recordings(broad)
else:  # a minute of a resting sensor with known noise
    truth = ij.ImuNoise(ij.SensorNoise.create(noise_density=2.5e-3), ij.SensorNoise.create(noise_density=1e-4), "t")
    z = jnp.zeros((6000, 3))
    a, g = ij.apply_noise(jax.random.key(0), z + jnp.asarray([[0.0, 0.0, 9.80665]]), z, truth, 100.0)
    rest = [ij.ImuSignal(np.asarray(a), np.asarray(g), rate_hz=100.0)]
noise_profile = calibrate.fit_stationary(rest, bootstrap=8)
for s in ("accel", "gyro"):
    f = noise_profile.fit[f"{s}.noise_density"]
    print(f"{s} white-noise density per axis: {np.round(f['value'], 6)} +- {np.round(f['stderr'], 6)} {f['unit']}")
plot_calibration("stationary", noise_profile, {}); plt.show()"""),
    new_markdown_cell("""## 2. Paired: the mount and the clock from a motion and its recording

UTD-MHAD's wrist sensor sits turned about 180 degrees about y from the `watch-right` preset: simulated with the
preset, its axes disagree with the real ones (a correlation near 0); a profile fitted on two trials of subject 1
finds the turn, and applied to another trial the simulated axes follow the real ones."""),
    new_code_cell("""def utd_pair(action, trial, subject=1):
    name = f"a{action}_s{subject}_t{trial}"
    return (ij.load_motion(REAL / "utd_mhad" / "Skeleton" / f"{name}_skeleton.mat"),
            ij.io.read_recordings(REAL / "utd_mhad" / "Inertial" / f"{name}_inertial.mat")[0])

if REAL is not None and (REAL / "utd_mhad").exists():
    train = [utd_pair(a, t) for a in (1, 3, 5, 9) for t in (1, 2)]
    test = utd_pair(9, 3)
    start = "watch-right"
else:  # a synthetic wrist, with a watch turned 180 degrees about y from watch-right
    from imusim_jax.sample import load_sample
    m = load_sample()
    turned = ij.Mount.from_dict({"preset": "watch-right", "turn_deg": [0, 180, 0]})
    rec = lambda mo: ij.ImuRecording(ij.simulate(mo, turned, rate_hz=50, cutoff_hz=6.0, time_offset_s=0.1), "x")
    clips = [ij.Motion.create(np.asarray(m.joints)[i:i + 120], 30.0, "coco17") for i in (0, 30, 60)]
    train, test, start = [(c, rec(c)) for c in clips[:2]], (clips[2], rec(clips[2])), "watch-right"
profile = calibrate.fit_paired(train, mount=start, cutoff_hz=6.0, max_steps=600)
print("fitted mount q_fs:", np.round(np.asarray(profile.mount.q_fs), 3), " offset per trial (s):",
      np.round(profile.fit["time_offset_s"]["per_pair"], 3))

def axis_corr(mount, motion, recording, offset):
    sim = ij.simulate(motion, mount, rate_hz=recording.signal.rate_hz, cutoff_hz=6.0, time_offset_s=offset)
    s = np.c_[np.asarray(sim.accel), np.asarray(sim.gyro)]
    r = np.c_[np.asarray(recording.signal.accel), np.asarray(recording.signal.gyro)]
    n = min(len(s), len(r))
    return np.array([np.corrcoef(s[:n, c], r[:n, c])[0, 1] for c in range(6)])

motion, recording = test
held_out = calibrate.fit_paired([test], mount=profile.mount, cutoff_hz=6.0, fit=("time_offset",), max_steps=200)
offset = held_out.time_offset_s  # the held-out trial's own clock offset; the mount stays the profile's
print("per-axis correlation, preset :", np.round(axis_corr(ij.get_mount(start), motion, recording, offset), 2))
print("per-axis correlation, profile:", np.round(axis_corr(profile.mount, motion, recording, offset), 2))"""),
    new_markdown_cell("""## 3. Unpaired: noise, scale and smoothing by distribution matching

When the real recordings are of the same activities but not the same trials, the fit matches distributions of
2 s windows (an MMD of window features plus per-channel Wasserstein distances), re-simulating inside the loss.
Here the "real" set is the same motions recorded by a sensor with other per-axis scales and a smoother response
(nothing is paired: the loss sees only distributions of windows); per-channel percentile mapping (IMUTube's) is
the baseline in the report. With different motions on the two sides the fit can only be as good as the two sets'
activities agree (`benchmarks/calibrate.py --mode unpaired` measures it on UP-Fall's real falls)."""),
    new_code_cell("""import sys
sys.path.insert(0, str(pathlib.Path("../benchmarks").resolve()))
from synthetic_motion import synthetic_clips
from imusim_jax.calibrate.unpaired import gaussian_smooth

motions = ij.Motion.create(synthetic_clips(10, 5.0, 30.0, seed=3), 30.0, "coco17")
other = ij.ImuNoise(ij.SensorNoise.create(noise_density=0.005, scale_error=[0.05, -0.03, 0.02]),
                    ij.SensorNoise.create(noise_density=5e-4, scale_error=[-0.02, 0.04, 0.01]), "other sensor")
p = ij.prepare(motions, "watch-left", rate_hz=50.0, cutoff_hz=6.0)
s = ij.sense(p, "watch-left", other, jax.random.key(5))
mask = jnp.arange(s.accel.shape[1])[None] < p.n_samples[:, None]
X = np.asarray(jnp.concatenate([gaussian_smooth(s.accel, 1.5, mask), gaussian_smooth(s.gyro, 1.0, mask)], -1))
real = [ij.ImuSignal(X[b, :n, :3], X[b, :n, 3:], rate_hz=50.0) for b, n in enumerate(np.asarray(p.n_samples))]
result = calibrate.fit_unpaired(motions, real, cutoff_hz=6.0, before_cutoff_hz=6.0, fit=("scale", "smoothing"),
                                max_steps=300)
print("fitted accel scale:", np.round(result.profile.fit["accel.scale"]["value"], 3), " true:",
      np.round(1 + np.asarray(other.accel.scale_error), 3))
print("fitted smoothing (samples):", np.round(result.smoothing_samples, 2), " true: [1.5 1. ]")
for k in ("before", "after", "percentile"):
    d = result.report["fit_sets"][k]
    print(f"{k:10s} MMD^2 {d['mmd2']:.3f}  mean W1 {d['w1_mean']:.3f}")"""),
    new_markdown_cell("""A profile is one JSON file; the command line takes it whole (`--profile`) or in parts (`--noise`,
`--mount`), and `imusim-jax calibrate` runs the same fits on files and folders:

```
imusim-jax calibrate --real Inertial/ --motion Skeleton/ --mode paired --mount watch-right -o s1.json --plot s1.png
imusim-jax simulate a9_s1_t3_skeleton.mat --profile s1.json -o a9_s1_t3.csv
```"""),
    new_code_cell("""profile.save("s1.json")
print(open("s1.json").read()[:400])"""),
]


def _write(cells, name):
    nb = new_notebook(cells=cells, metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                             "language": "python"}})
    if "--no-execute" not in sys.argv:  # ship the notebook with its outputs, so it reads well on GitHub
        from nbclient import NotebookClient

        NotebookClient(nb, timeout=900, kernel_name="python3", resources={"metadata": {"path": str(HERE)}}).execute()
    nbformat.write(nb, HERE / name)
    print("wrote", HERE / name)


_write(quickstart, "quickstart.ipynb")
_write(calibrate, "calibrate.ipynb")
