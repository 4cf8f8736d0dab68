"""The automatic cut-off (Winter's residual analysis): the spectral path behind ``auto_cutoffs`` reproduces SciPy's
``sosfiltfilt`` residuals and choices; routing, edge cases and the vectorised choice."""
import numpy as np
import pytest
import scipy.io
import scipy.signal

import imusim_jax as ij
from imusim_jax import _cutoff
from imusim_jax._cutoff import MAX_AUTO_CUTOFF_HZ
from imusim_jax._kinematics import design_lowpass
from motions import reference_joints

KINECT_ARM = (8, 9, 10, 4)  # Kinect v1 (UTD-MHAD): right shoulder, elbow, wrist, left shoulder


def scipy_residuals(x, fps, grid, order=2):
    """The reference definition: RMS of x - sosfiltfilt(x) (odd extension of min(T - 1, 9) frames), per cut-off."""
    x = np.asarray(x, np.float64) - np.mean(x, 0)
    return np.array([np.sqrt(np.mean((x - scipy.signal.sosfiltfilt(
        scipy.signal.butter(order, fc, fs=fps, output="sos"), x, axis=0, padlen=min(len(x) - 1, 9))) ** 2))
        for fc in grid])


def scipy_choice(x, fps, lo_hz=1.0, step_hz=0.25, max_hz=MAX_AUTO_CUTOFF_HZ):
    """Winter's choice one clip at a time with SciPy and np.polyfit, as auto_cutoff is documented."""
    hi = 0.4 * fps
    if hi <= lo_hz + 4 * step_hz or len(x) < 16:
        return float(min(max(lo_hz, 0.25 * fps), hi, max_hz))
    grid = np.arange(lo_hz, hi + 1e-9, step_hz)
    res = scipy_residuals(x, fps, grid)
    tail = grid >= grid[0] + 0.6 * (grid[-1] - grid[0])
    _, intercept = np.polyfit(grid[tail], res[tail], 1)
    if intercept > 0 and res[-1] < _cutoff.CLEAN_TAIL * intercept:
        return float(max_hz)
    below = np.nonzero(res <= max(intercept, 0.0))[0]
    return float(min(grid[below[0]] if len(below) else grid[-1], max_hz))


def jittery_arms(n, T, fps, seed, noise=0.004):
    """``n`` arms (shoulder, elbow, wrist, other shoulder: 12 channels) swinging at 0.5-3 Hz with white jitter."""
    rng = np.random.default_rng(seed)
    base = reference_joints()[[5, 7, 9, 6]].reshape(12)
    t = np.arange(T)[:, None] / fps
    return [base + 0.1 * np.sin(2 * np.pi * rng.uniform(0.5, 3, 12) * t + rng.uniform(0, 6, 12))
            + rng.normal(0, noise * rng.uniform(0.5, 2), (T, 12)) for _ in range(n)]


def utd_arms(realdata, every=25):
    """Real UTD-MHAD Kinect v1 arms in the z-up world (-x, z, y) of the camera axes, as simulate feeds them."""
    out = []
    for path in sorted((realdata / "utd_mhad" / "Skeleton").glob("*.mat"))[::every]:
        sk = scipy.io.loadmat(path)["d_skel"]
        world = np.stack([-sk[:, 0].T, sk[:, 2].T, sk[:, 1].T], -1)
        out.append(world[:, KINECT_ARM].reshape(len(world), 12))
    return out


def grid_of(fps):
    return np.arange(1.0, min(0.4 * fps, _cutoff.AUTO_GRID_MAX_HZ) + 1e-9, 0.25)


@pytest.mark.parametrize("T, fps", [(16, 30.0), (41, 15.0), (300, 30.0), (240, 100.0)])
def test_spectral_residuals_equal_scipys_sosfiltfilt_residuals(T, fps):
    """The DCT power spectrum plus the rank-8 edge correction gives SciPy's residual at every cut-off of the grid,
    from the shortest clip the analysis takes (16 frames) to a 100 fps clip (157 cut-offs), to float32 rounding."""
    rng = np.random.default_rng(T)
    xs = [np.cumsum(rng.normal(0, 0.01, (T, 6)), 0) + rng.normal(0, 0.003, (T, 6)) for _ in range(3)]
    grid = grid_of(fps)
    setup = _cutoff._dct_setup(T, fps, tuple(grid.tolist()))
    assert setup is not None
    got = _cutoff._dct_residuals(xs, range(len(xs)), setup)
    for b, x in enumerate(xs):
        np.testing.assert_allclose(got[b], scipy_residuals(x, fps, grid), rtol=3e-5, err_msg=str(b))


@pytest.mark.parametrize("order", [1, 3, 4])
def test_spectral_residuals_of_other_filter_orders(order):
    """auto_cutoff's ``order``: a first-order section (a real pole and a pole at zero) and two sections (8 edge
    modes) keep the exact form."""
    xs = jittery_arms(2, 120, 30.0, order)
    grid = grid_of(30.0)
    got = _cutoff._dct_residuals(xs, range(2), _cutoff._dct_setup(120, 30.0, tuple(grid.tolist()), order))
    for b, x in enumerate(xs):
        np.testing.assert_allclose(got[b], scipy_residuals(x, 30.0, grid, order), rtol=3e-5)


def test_spectral_residuals_of_real_kinect_arms(realdata):
    """The same on real UTD-MHAD skeletons (41-101 frames at 15-21 fps): jitter, tracking glitches and edges that
    start and end mid-movement."""
    for x in utd_arms(realdata, every=40):
        fps = 18.0
        grid = grid_of(fps)
        got = _cutoff._dct_residuals([x], [0], _cutoff._dct_setup(len(x), fps, tuple(grid.tolist())))[0]
        np.testing.assert_allclose(got, scipy_residuals(x, fps, grid), rtol=3e-5)


def test_sosfiltfilt_adjoint_is_the_transpose():
    """_sosfiltfilt_adjoint(v) is F^T v for F = sosfiltfilt (odd extension, steady-state starts): <F z, v> = <z,
    F^T v>, and short clips (pad T - 1) too."""
    rng = np.random.default_rng(0)
    for T, pad in [(50, 9), (8, 7)]:
        d = design_lowpass(3.0, 30.0, 2)
        z, v = rng.normal(size=(T, 3)), rng.normal(size=(T, 3))
        Fz = scipy.signal.sosfiltfilt(d.sos, z, axis=0, padlen=pad)
        np.testing.assert_allclose(np.sum(Fz * v, 0), np.sum(z * _cutoff._sosfiltfilt_adjoint(d.sos, d.zi, v, pad), 0),
                                   rtol=1e-10)


def test_batched_choices_are_scipys_on_synthetic_and_real_arms(realdata, monkeypatch):
    """auto_cutoffs on groups of 8+ clips of one length at one rate (the spectral path, checked to run) chooses
    SciPy's cut-off for every clip: jittery synthetic arms at 30 and 25 fps and real Kinect arms cut to one
    length."""
    calls = []
    spectral = _cutoff._dct_residuals
    monkeypatch.setattr(_cutoff, "_dct_residuals", lambda xs, bs, setup: calls.append(len(bs)) or spectral(xs, bs, setup))
    real = [x[:41] for x in utd_arms(realdata, every=25)]
    xs = jittery_arms(10, 150, 30.0, 1) + jittery_arms(8, 90, 25.0, 2) + real
    fps = [30.0] * 10 + [25.0] * 8 + [17.0] * len(real)
    got = ij.auto_cutoffs(xs, fps)
    want = [scipy_choice(x, f) for x, f in zip(xs, fps)]
    assert got == want
    assert sorted(calls) == sorted([10, 8, len(real)])
    assert len(set(want)) > 3  # the clips really differ


def test_mixed_lengths_rates_and_short_clips_in_one_call():
    """One call with a group that takes the spectral path (9 clips, 120 frames, 30 fps), clips of other lengths at
    the same rate (SciPy), another rate (60 fps), a clip under 16 frames and a rate too low for a grid: each gets
    what it would get alone."""
    xs = (jittery_arms(9, 120, 30.0, 3) + jittery_arms(3, 97, 30.0, 4) + jittery_arms(2, 200, 60.0, 5)
          + jittery_arms(1, 12, 30.0, 6) + jittery_arms(1, 40, 4.0, 7))
    fps = [30.0] * 12 + [60.0] * 2 + [30.0, 4.0]
    got = ij.auto_cutoffs(xs, fps)
    assert got == [scipy_choice(x, f) for x, f in zip(xs, fps)]
    assert got[-2] == 7.5 and got[-1] == 1.0  # a quarter of the rate (a short clip), the grid's floor (4 fps)
    assert [ij.auto_cutoff(x, f) for x, f in zip(xs[:2], fps[:2])] == got[:2]


def test_clean_clips_take_the_movement_band_on_the_spectral_path():
    """Noise-free arm motion (the residual at the grid's top still falling: CLEAN_TAIL) takes MAX_AUTO_CUTOFF_HZ;
    the same clips with Kinect-like jitter take Winter's choice, 2-6 Hz."""
    t = np.arange(150)[:, None] / 30.0
    rng = np.random.default_rng(8)
    clean = [0.1 * np.sin(2 * np.pi * rng.uniform(1, 3, 12) * t + rng.uniform(0, 6, 12)) for _ in range(8)]
    assert ij.auto_cutoffs(clean, [30.0] * 8) == [MAX_AUTO_CUTOFF_HZ] * 8
    noisy = [c + rng.normal(0, 0.004, c.shape) for c in clean]
    got = ij.auto_cutoffs(noisy, [30.0] * 8)
    assert got == [scipy_choice(x, 30.0) for x in noisy]
    assert all(2.0 <= c <= 6.0 for c in got)


def test_a_setup_that_fails_its_check_falls_back_to_the_iir_path(monkeypatch):
    """Where the spectral form does not reproduce sosfiltfilt on its probes (_dct_setup returns None), the clips
    take the compiled IIR path, with the same choices."""
    xs = jittery_arms(8, 64, 30.0, 9)
    want = ij.auto_cutoffs(xs, [30.0] * 8)
    monkeypatch.setattr(_cutoff, "_DCT_CHECK", -1.0)  # no set-up passes
    _cutoff._dct_setup.cache_clear()
    assert _cutoff._dct_setup(64, 30.0, tuple(grid_of(30.0).tolist())) is None
    assert ij.auto_cutoffs(xs, [30.0] * 8) == want
    monkeypatch.undo()
    _cutoff._dct_setup.cache_clear()


def test_vectorised_choice_equals_the_single_curve_rule():
    """_winter_choices over many curves equals Winter's rule applied to each with np.polyfit: falling curves,
    clean tails, flat and all-zero curves, a NaN."""
    grid = grid_of(30.0)
    rng = np.random.default_rng(10)
    curves = [0.003 + 0.05 / (1 + (grid / rng.uniform(1, 4)) ** 4) + 2e-5 * (grid.max() - grid)
              + rng.normal(0, 1e-5, len(grid)) for _ in range(200)]
    curves += [0.05 / (1 + (grid / 3) ** 4), np.full(len(grid), 0.01), np.zeros(len(grid)),
               np.where(grid == 5.0, np.nan, 0.01)]
    res = np.array(curves)
    got = _cutoff._winter_choices(grid, res, MAX_AUTO_CUTOFF_HZ)
    for r, g in zip(res, got):
        tail = grid >= grid[0] + 0.6 * (grid[-1] - grid[0])
        _, icpt = np.polyfit(grid[tail], r[tail], 1)
        if icpt > 0 and r[-1] < _cutoff.CLEAN_TAIL * icpt:
            want = MAX_AUTO_CUTOFF_HZ
        else:
            below = np.nonzero(r <= max(icpt, 0.0))[0]
            want = min(grid[below[0]] if len(below) else grid[-1], MAX_AUTO_CUTOFF_HZ)
        assert g == want
    assert got[-4] == MAX_AUTO_CUTOFF_HZ and got[-2] == 1.0


def test_a_batch_array_and_lists_of_views_take_the_spectral_path_with_the_same_choices():
    """auto_cutoffs takes one (B, T, C) array (read a chunk at a time: a contiguous run of clips, or gathered) as
    well as a list of clips (views of a larger array, as simulate hands them over); the cut-offs are SciPy's
    either way, and a clip with fewer frames leaves the group."""
    xs = jittery_arms(10, 120, 30.0, 11)
    X = np.stack([np.concatenate([x, np.zeros((120, 3))], 1) for x in xs]).astype(np.float32)  # extra channels
    want = [scipy_choice(x.astype(np.float32), 30.0) for x in xs]
    assert ij.auto_cutoffs(X[:, :, :12], [30.0] * 10) == want
    assert ij.auto_cutoffs(X[::-1, :, :12], [30.0] * 10) == want[::-1]  # a strided array
    views = [X[b, :120 if b < 9 else 100, :12] for b in range(10)]
    assert ij.auto_cutoffs(views, [30.0] * 10) == want[:9] + [scipy_choice(xs[9][:100].astype(np.float32), 30.0)]
