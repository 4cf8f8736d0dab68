"""Writes notebooks/quickstart.ipynb from the cells below (kept as code so diffs stay readable).

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

nb = new_notebook(cells=quickstart, metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                              "language": "python"}})
if "--no-execute" not in sys.argv:  # ship the notebook with its outputs, so it reads well on GitHub
    from nbclient import NotebookClient

    NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(HERE)}}).execute()
nbformat.write(nb, HERE / "quickstart.ipynb")
print("wrote", HERE / "quickstart.ipynb")
