"""Real-IMU readers: the resampler (bursty, duplicated, chunked stamps; saturation flags), the generic CSV, and each
dataset's reader (UP-Fall, SmartFallMM, WEDA-FALL, UTD-MHAD inertial, BROAD).

Part (a) writes a few rows in each source's exact layout and checks units (a resting sensor reads |a| = 9.80665
after the g conversion; deg/s to rad/s), metadata from the names, the registry's choice, and one-line errors.
Part (b) reads the real files under ``../shared/realdata`` (skipped when absent) and checks physics and counts.
"""
import csv
import datetime as dt
import glob
import gzip
import os

import h5py
import numpy as np
import pytest
import scipy.io

import imusim_jax as ij
from imusim_jax.datasets import smartfallmm
from imusim_jax.io import (clock_seconds, find_reader, nice_rate, read_recordings, read_signal, readers,
                           resample_streams, resample_uniform, saturation_mask, write_signal)

G = ij.STANDARD_GRAVITY
D2R = np.pi / 180.0


def one_line_error(match, fn, *args, **kwargs):
    with pytest.raises(ij.InputError, match=match) as err:
        fn(*args, **kwargs)
    assert "\n" not in str(err.value)
    return str(err.value)


# ---------------------------------------------------------------------------------------------------------------
# (a) the resampler
# ---------------------------------------------------------------------------------------------------------------


def bursty_stamps(seed=0, duration=10.0, burst_every=0.1, per_burst=4):
    """A watch's stamps: bursts of rows 0-3 ms apart every ``burst_every`` s (``per_burst / burst_every`` rows/s),
    some stamps duplicated, one backward step."""
    rng = np.random.default_rng(seed)
    # rows 1 ms apart (distinct at the files' millisecond resolution) with sub-millisecond jitter
    t = np.concatenate([b + np.arange(per_burst) * 0.001 + rng.uniform(0, 0.0004, per_burst)
                        for b in np.arange(0, duration, burst_every)])
    t = np.insert(t, [40, 80, 81], t[[40, 80, 81]])  # duplicated stamps (a row logged twice)
    k = len(t) // 2
    t[k], t[k + 1] = t[k + 1] + 0.002, t[k]  # a backward step
    return t


def test_resample_recovers_a_sine_and_the_rate_from_bursty_chunked_stamps():
    t_a = bursty_stamps(0)
    t_b = 500.0 + bursty_stamps(1, duration=4.0)  # a second, shorter chunk: the clock jumped
    t = np.concatenate([t_b, t_a])  # file order: the short chunk first

    def f(tt):
        return np.stack([np.sin(2 * np.pi * 0.5 * tt), 2.0 * np.cos(2 * np.pi * 0.3 * tt)], -1)

    r = resample_uniform(t, f(t))
    rep = r.report.streams[0]
    assert r.rate_hz == 40.0 and r.report.rate_source == "measured"
    assert 38 < rep.rate_measured_hz < 42
    assert len(rep.chunks) == 2 and rep.chunks[rep.kept][0] < 1.0  # the longer (first in time) chunk is kept
    assert rep.duplicates == len(t) - len(np.unique(t)) >= 5 and rep.backward_steps >= 2 and rep.rows == len(t)
    assert r.report.duplicates == rep.duplicates and r.report.chunks == 2
    np.testing.assert_allclose(np.diff(r.t), 1 / 40.0, atol=1e-9)
    assert r.t[0] == pytest.approx(t_a.min()) and r.t[-1] <= t_a.max() + 1e-9
    assert r.report.n_samples == len(r.t) == 397
    # linear interpolation across the 100 ms between bursts: error <= w^2 A dt^2 / 8 (0.012 for the sine)
    err = np.abs(r.x - f(r.t)).max(axis=0)
    assert err[0] < 0.015 and err[1] < 0.02, err
    assert r.saturated is None
    assert "2 chunk(s)" in r.report.summary() and "40 Hz (measured)" in r.report.summary()


def test_resample_given_rate_and_chosen_chunk():
    t = np.r_[np.arange(0, 2, 0.01), 10 + np.arange(0, 5, 0.01)]
    x = np.sin(t)[:, None]
    r = resample_uniform(t, x, rate_hz=50)
    assert r.report.rate_source == "given" and r.rate_hz == 50.0 and r.t[0] == pytest.approx(10.0)
    np.testing.assert_allclose(r.x[:, 0], np.sin(r.t), atol=1e-4)
    r0 = resample_uniform(t, x, chunk=0)
    assert r0.t[0] == 0.0 and r0.t[-1] <= 1.99 + 1e-9 and r0.rate_hz == 100.0
    one_line_error("chunk must be", resample_uniform, t, x, chunk=5)


def test_two_streams_on_one_grid_over_their_overlap():
    ta = np.arange(0.0, 6.0, 1 / 34.0)  # accelerometer ~34 rows/s
    tg = np.arange(1.0, 8.0, 1 / 50.0)  # gyroscope 50 rows/s, started later
    r = resample_streams([(ta, np.c_[ta, ta, ta]), (tg, np.c_[-tg, tg, 2 * tg])])
    assert r.rate_hz == 50.0  # the faster stream's
    assert r.t[0] == pytest.approx(1.0) and r.t[-1] <= ta[-1] + 1e-9
    np.testing.assert_allclose(r.x[:, 0], r.t, atol=1e-9)
    np.testing.assert_allclose(r.x[:, 3], -r.t, atol=1e-9)
    assert [s.rate_measured_hz for s in r.report.streams] == pytest.approx([34.0, 50.0])
    one_line_error("do not overlap", resample_streams, [(ta, ta[:, None]), (tg + 20, tg[:, None])])


def test_saturation_flags_survive_resampling():
    t = np.arange(0, 2, 0.03)
    x = np.c_[3.0 * np.sin(2 * np.pi * t), np.zeros_like(t)]
    x = np.clip(x, -2.0, 2.0)  # a sensor with a 2 g range
    sat = saturation_mask(x, [2.0, 2.0])
    assert sat[:, 0].sum() > 5 and not sat[:, 1].any()
    assert (saturation_mask(np.array([[1.999], [1.997]]), 2.0)[:, 0] == [True, False]).all()  # 0.1 % tolerance
    r = resample_uniform(t, x, rate_hz=50, saturated=sat)
    # reference: a grid sample is flagged when a stamp with a non-zero weight is, or a flagged stamp is nearest it
    i = np.clip(np.searchsorted(t, r.t, side="right") - 1, 0, len(t) - 1)
    j = np.minimum(i + 1, len(t) - 1)
    expect = sat[i, 0] | (sat[j, 0] & (r.t > t[i]))
    expect[np.unique(np.rint(t[sat[:, 0]] * 50).astype(int))] = True
    np.testing.assert_array_equal(r.saturated[:, 0], expect)
    # a clipped sample between two grid samples (a burst) that none leans on still flags its nearest
    tb = np.r_[0.0, 0.021, 0.022, 0.023, 0.04, 0.06]  # grid 0.02 leans on 0 and 0.021, grid 0.04 on 0.04 alone
    rb = resample_uniform(tb, np.c_[[0, 0, 2.0, 0, 0, 0]], rate_hz=50, saturated=np.c_[[0, 0, 1, 0, 0, 0]] > 0)
    assert rb.saturated[:, 0].tolist() == [False, True, False, False]
    assert r.saturated[:, 0].sum() > sat[:, 0].sum()  # a flagged stamp flags the grid samples on both its sides
    assert not r.saturated[:, 1].any()
    # every grid sample at the range is flagged; none well below it is
    assert r.saturated[np.abs(r.x[:, 0]) >= 2.0 - 1e-9, 0].all()
    assert not r.saturated[np.abs(r.x[:, 0]) < 1.0, 0].any()
    # a duplicated stamp is flagged if any of its rows is
    r2 = resample_uniform([0, 0, 0.02, 0.04], [[2.0], [1.0], [0.0], [0.0]], rate_hz=50,
                          saturated=[[True], [False], [False], [False]])
    assert r2.x[0, 0] == 1.5 and r2.saturated[:, 0].tolist() == [True, False, False]


@pytest.mark.parametrize("t,x,kw,match", [
    ([np.nan, np.nan], [[1.0], [2.0]], {}, "no usable time base"),
    ([3.0, 3.0, 3.0], [[1.0], [2.0], [3.0]], {}, "no usable time base .*one time stamp"),
    ([0.0, 0.001], [[1.0], [2.0]], {"rate_hz": 50}, "too short"),
    ([0.0, 5.0, 10.0], [[1.0], [2.0], [3.0]], {}, "too short"),  # three chunks of one stamp each
    (np.linspace(0, 0.2, 400), np.zeros((400, 1)), {"max_rate_hz": 500}, "one burst"),
    (np.arange(0, 4, 0.02), np.zeros((200, 1)), {"min_duration_s": 5}, "too short.*at least 5 s"),
    ([0.0, 0.1], [[1.0]], {}, "time stamps for values"),
])
def test_resample_errors_are_one_line(t, x, kw, match):
    one_line_error(match, resample_uniform, t, x, **kw)


def test_nice_rate_and_clock_seconds():
    assert [nice_rate(r) for r in (47.3, 52.0, 131.0, 81.4, 18.4, 31.9, 285.7, 7.04)] == \
        [50.0, 50.0, 128.0, 81.0, 20.0, 32.0, 290.0, 7.0]
    base = clock_seconds("2022-07-26 14:45:16")
    assert clock_seconds("2022-07-26 14:45:16.44") - base == pytest.approx(0.44)  # '.44' is 440 ms
    assert clock_seconds("2022-07-26T14:45:16.738369") - base == pytest.approx(0.738369)
    assert base == (dt.datetime(2022, 7, 26, 14, 45, 16) - dt.datetime(1970, 1, 1)).total_seconds()
    with pytest.raises(ValueError):
        clock_seconds("0.0087.1")


# ---------------------------------------------------------------------------------------------------------------
# (a) the generic CSV
# ---------------------------------------------------------------------------------------------------------------


def test_csv_resolves_to_the_generic_reader_and_the_own_files_read_back_identically(tmp_path):
    assert find_reader("x.csv", "imu").name == "csv"
    assert find_reader("x.csv", "imu", format="imusim-csv").name == "imusim-csv"
    rng = np.random.default_rng(0)
    sig = ij.ImuSignal(rng.normal(size=(60, 3)), rng.normal(size=(60, 3)), rate_hz=50.0)
    path = tmp_path / "own.csv"
    write_signal(sig, path)
    a = read_recordings(path)[0]
    b = read_recordings(path, format="imusim-csv")[0]
    np.testing.assert_array_equal(a.signal.accel, b.signal.accel)
    np.testing.assert_array_equal(a.signal.gyro, b.signal.gyro)
    assert a.signal.rate_hz == b.signal.rate_hz == 50.0 and a.meta == b.meta == {"dataset": "imusim-jax"}
    np.testing.assert_allclose(a.signal.accel, sig.accel, rtol=1e-8)
    assert read_signal(path, rate_hz=25).rate_hz == 25.0  # the own reader's override, through the generic one


def test_csv_other_names_units_in_the_header_and_milliseconds(tmp_path):
    n = 50
    t_ms = 1000 * np.arange(n) / 100.0
    lines = ["time_ms,AccX (g),AccY (g),AccZ (g),GyrX (deg/s),GyrY (deg/s),GyrZ (deg/s),temp"]
    lines += [f"{t:.0f},0,0,1,90,0,-180,21.5" for t in t_ms]
    (tmp_path / "watch.csv").write_text("\n".join(lines) + "\n")
    rec = read_recordings(tmp_path / "watch.csv")[0]
    assert rec.signal.rate_hz == 100.0 and rec.meta["t0_s"] == 0.0
    np.testing.assert_allclose(np.linalg.norm(rec.signal.accel, axis=1), G)
    np.testing.assert_allclose(rec.signal.gyro[0], [np.pi / 2, 0, -np.pi])
    assert rec.meta["units_read"] == {"accel": "g", "gyro": "deg/s", "t": "ms"}
    # the options win over the header: here the header's "(g)" is wrong
    rec = read_recordings(tmp_path / "watch.csv", accel_unit="m/s^2", gyro_unit="rad/s")[0]
    np.testing.assert_allclose(rec.signal.accel[0], [0, 0, 1])
    np.testing.assert_allclose(rec.signal.gyro[0], [90, 0, -180])


def test_csv_columns_option_rate_without_time_and_ranges(tmp_path):
    rows = ["a,b,c,d,e,f,g"] + [f"{k},{0.0},{0.0},{G},{0.1},{0.2},{0.3}" for k in range(20)]
    (tmp_path / "x.csv").write_text("\n".join(rows) + "\n")
    rec = read_recordings(tmp_path / "x.csv", columns={"t": "a", "ax": "b", "ay": "c", "az": "d", "gx": "e",
                                                       "gy": "f", "gz": "g"}, time_unit="s")[0]
    assert rec.signal.rate_hz == 1.0 and rec.signal.num_samples == 20
    rec = read_recordings(tmp_path / "x.csv", columns="b,c,d,e,f,g", rate_hz=52)[0]  # no time column
    assert rec.signal.rate_hz == 52.0 and rec.meta["t0_s"] == 0.0
    np.testing.assert_allclose(rec.signal.gyro[3], [0.1, 0.2, 0.3])
    rec = read_recordings(tmp_path / "x.csv", columns="1,2,3,4,5,6", rate_hz=52, gyro_range=0.2)[0]
    assert rec.signal.saturated[:, 3:].tolist() == [[False, True, True]] * 20  # by column number; range flags
    # a file without a header row: t,ax,ay,az,gx,gy,gz in SI
    (tmp_path / "bare.csv").write_text("\n".join(f"{k / 50},0,{G},0,0,0,1" for k in range(10)) + "\n")
    rec = read_recordings(tmp_path / "bare.csv")[0]
    assert rec.signal.rate_hz == 50.0 and rec.signal.accel[0, 1] == G


def test_csv_irregular_and_wall_clock_stamps_are_resampled(tmp_path):
    t = bursty_stamps(2, duration=5.0)
    t0 = dt.datetime(2024, 7, 23, 16, 57, 34)
    lines = ["timestamp,ax,ay,az,gx,gy,gz"]
    lines += [f"{(t0 + dt.timedelta(seconds=float(s))).isoformat(sep=' ', timespec='milliseconds')},"
              f"0,0,{G},{np.sin(s)},0,0" for s in t]
    (tmp_path / "bursty.csv").write_text("\n".join(lines) + "\n")
    rec = read_recordings(tmp_path / "bursty.csv")[0]
    rep = rec.meta["resample"]
    assert rec.signal.rate_hz == 40.0 and rep.duplicates >= 3
    np.testing.assert_allclose(rec.signal.gyro[:, 0], np.sin(rec.signal.t + rec.meta["t0_s"] - clock_seconds(
        t0.isoformat(sep=" "))), atol=5e-3)
    rec = read_recordings(tmp_path / "bursty.csv", rate_hz=25)[0]
    assert rec.signal.rate_hz == 25.0 and rec.meta["resample"].rate_source == "given"


@pytest.mark.parametrize("content,kw,match", [
    ("time,ax,ay,az\n0,1,2,3\n0.1,1,2,3\n", {}, "no column found for gx,gy,gz.*columns=.*upfall"),
    ("ax,ay,az,gx,gy,gz\n0,0,9.8,0,0,0\n0,0,9.8,0,0,0\n", {}, "no time column; pass the rate"),
    ("t,ax,ay,az,gx,gy,gz\n0,0,0,1,0,0,0\n0.1,0,0,1,0,0,0\n", {"accel_unit": "furlong"}, "accel_unit must be"),
    ("t,ax,ay,az,gx,gy,gz\n0,0,0,1,0,0,0\n0.1,0,0,1,0,0,0\n", {"columns": {"t": "t", "ax": "ax", "ay": "ay",
                                                                            "az": "az", "gx": "gx", "gy": "gy"}},
     "does not name gz"),
    ("t,ax,ay,az,gx,gy,gz\n0,0,0,1,0,0,0\n0.1,0,0,1,0,0,0\n", {"columns": "t,ax,ay,az,gx,gy,gz,x"}, "7 columns"),
    ("t,ax,ay,az,gx,gy,gz\n0,0,0,1,0,0,0\n0.1,0,0,1,0,0,0\n", {"columns": "t,ax,ay,az,gx,gy,q"}, "no column 'q'"),
    ("t,ax,ay,az,gx,gy,gz\n0,0,0,1,0,0,0\n0.1,0,0,x,0,0,0\n", {"time_unit": "s"}, "row 3, column 'az'"),
    ("t,ax,ay,az,gx,gy,gz\n", {"time_unit": "s"}, "no data rows"),
    ("t,ax,ay,az,gx,gy,gz\n0,0,0,1,0,0,0\n0.1,0,0,1,0,0,0\n", {"fps": 3}, "csv files take no fps"),
])
def test_csv_errors_are_one_line(tmp_path, content, kw, match):
    (tmp_path / "bad.csv").write_text(content)
    one_line_error(match, read_recordings, tmp_path / "bad.csv", **kw)


def test_csv_in_g_without_a_declared_unit_is_warned_about(tmp_path):
    (tmp_path / "g.csv").write_text("t,ax,ay,az,gx,gy,gz\n" + "".join(f"{k / 50},0,0,1,0,0,0\n" for k in range(5)))
    with pytest.warns(UserWarning, match="looks like g"):
        read_recordings(tmp_path / "g.csv", time_unit="s")


# ---------------------------------------------------------------------------------------------------------------
# (a) UP-Fall
# ---------------------------------------------------------------------------------------------------------------

UPFALL_TOP = (["TimeStamps"] + [f"{s}{k}" if i == 0 else "" for s in ("Ankle", "RightPocket", "Belt", "Neck", "Wrist")
                                for k, w in (("Accelerometer", 3), ("AngularVelocity", 3), ("Luminosity", 1))
                                for i in range(w)]
              + ["BrainSensor"] + [f"Infrared{i}" for i in range(1, 7)] + ["Subject", "Activity", "Trial", "Tag"])
UPFALL_SECOND = (["Time"] + [c for _ in range(5) for c in ("x-axis (g)", "y-axis (g)", "z-axis (g)", "x-axis (deg/s)",
                                                          "y-axis (deg/s)", "z-axis (deg/s)", "illuminance (lx)")]
                 + ["raw"] + ["occupancy"] * 6 + ["", "", "", ""])


def upfall_rows(subject, activity, trial, n, t0, wrist_acc=(0.0, 0.0, 1.0), wrist_gyro=(90.0, 0.0, 0.0), tags=None):
    rows = []
    for k in range(n):
        stamp = t0 + dt.timedelta(seconds=k / 18.4 + (0.004 if k % 3 == 1 else 0.0))  # jittered, as the CSV's
        r = [stamp.isoformat(timespec="microseconds")] + ["7.5"] * 35 + ["45"] + ["1"] * 6
        r[29:32] = [str(v) for v in wrist_acc]
        r[32:35] = [str(v) for v in wrist_gyro]
        r += [str(subject), str(activity), str(trial), str(activity if tags is None else tags[k])]
        rows.append(r)
    return rows


def write_csv(path, rows):
    with open(path, "w", newline="") as f:
        csv.writer(f).writerows(rows)


def test_upfall_layout_header_constants_match_the_documented_columns():
    assert len(UPFALL_TOP) == len(UPFALL_SECOND) == 47
    assert UPFALL_TOP[29] == "WristAccelerometer" and UPFALL_TOP[32] == "WristAngularVelocity"
    assert UPFALL_TOP[43:47] == ["Subject", "Activity", "Trial", "Tag"]


def test_upfall_complete_dataset_one_recording_per_trial(tmp_path):
    t0 = dt.datetime(2018, 7, 4, 12, 4, 17, 738369)
    fall_tags = [7] * 30 + [1] * 10 + [11] * 20  # standing, the fall, lying: the Tag marks the fall
    rows = [UPFALL_TOP, UPFALL_SECOND]
    rows += upfall_rows(1, 1, 1, 60, t0, tags=fall_tags)
    rows += upfall_rows(1, 8, 2, 40, t0 + dt.timedelta(minutes=5), wrist_acc=(0.6, 0.8, 0.0), wrist_gyro=(0, 0, -45))
    path = tmp_path / "CompleteDataSet.csv"
    write_csv(path, rows)
    assert find_reader(path, "imu").name == "upfall"
    recs = read_recordings(path)
    assert len(recs) == 2
    a, b = recs
    assert (a.meta["subject"], a.meta["activity"], a.meta["trial"]) == (1, 1, 1)
    assert (b.meta["subject"], b.meta["activity"], b.meta["trial"]) == (1, 8, 2)
    assert a.meta["side"] == "left" and a.meta["fall"] and not b.meta["fall"]
    assert a.meta["activity_name"] == "falling forward using hands"
    assert a.signal.rate_hz == b.signal.rate_hz == 18.4
    for r in recs:
        np.testing.assert_allclose(np.linalg.norm(r.signal.accel, axis=1), G, rtol=1e-9)
    np.testing.assert_allclose(a.signal.gyro, np.tile([np.pi / 2, 0, 0], (a.signal.num_samples, 1)))
    np.testing.assert_allclose(b.signal.gyro[:, 2], -np.pi / 4)
    t_first = clock_seconds(t0.isoformat())
    assert a.meta["t0_s"] == pytest.approx(t_first)
    assert [tag for tag, _, _ in a.meta["tag_runs"]] == [7, 1, 11]
    assert a.meta["fall_s"][0] == pytest.approx(t_first + 30 / 18.4, abs=0.01)
    assert "fall_s" not in b.meta
    assert a.signal.num_samples == 60  # the 60 rows' span, 59 / 18.4 s, on the 18.4 Hz grid


def test_upfall_per_trial_file_by_format_and_by_column_numbers(tmp_path):
    t0 = dt.datetime(2018, 7, 4, 12, 4, 17)
    path = tmp_path / "Subject3Activity6Trial2.csv"
    write_csv(path, [UPFALL_TOP, UPFALL_SECOND] + upfall_rows(3, 6, 2, 30, t0))
    assert find_reader(path, "imu").name == "csv"  # .csv is every CSV's: the dataset is named
    one_line_error("format=.*upfall", read_recordings, path)
    rec = read_recordings(path, format="upfall")[0]
    assert (rec.meta["subject"], rec.meta["activity"], rec.meta["trial"]) == (3, 6, 2)
    np.testing.assert_allclose(np.linalg.norm(rec.signal.accel, axis=1), G)
    # no sensor names in the first header row and no id columns' names: the documented column numbers, the name
    top = ["TimeStamps"] + [""] * 46
    write_csv(path, [top, UPFALL_SECOND] + upfall_rows(3, 6, 2, 30, t0, wrist_gyro=(0, 180, 0)))
    rec = read_recordings(path, format="upfall")[0]
    assert (rec.meta["subject"], rec.meta["activity"], rec.meta["trial"]) == (3, 6, 2)
    np.testing.assert_allclose(rec.signal.gyro[:, 1], np.pi)
    np.testing.assert_allclose(np.linalg.norm(rec.signal.accel, axis=1), G)


def test_upfall_falls_export_splits_where_the_activity_changes(tmp_path):
    header = ("Ank_ACCX,Ank_ACCY,Ank_ACCZ,Ank_VELX,Ank_VELY,Ank_VELZ,Ank_LUMX,WristACCX,WristACCY,WristACCZ,"
              "WristVELX,WristVELY,WristVELZ,WristLUMX,BrainSensor,Activity,LABEL")
    lines = [header]
    labels = {1: [0] * 5 + [1] * 10 + [0] * 3 + [1] * 7, 2: [""] * 2 + [0] * 3 + [1] * 15, 3: [1] * 10}
    for act in (1, 2, 1, 3):
        for lab in labels[act]:
            lines.append(f"9,9,9,9,9,9,0,0,-1,0,0,0,{18.0 * act},2108,45,{act},{lab}")
    path = tmp_path / "upfall_falls_wrist.csv"
    path.write_text("\n".join(lines) + "\n")
    recs = read_recordings(path)
    assert [(r.meta["activity"], r.meta["run"]) for r in recs] == [(1, 1), (2, 1), (1, 2), (3, 1)]
    assert [r.signal.num_samples for r in recs] == [25, 20, 25, 10]
    assert recs[0].meta["impact_rows"] == [5, 18] and recs[1].meta["impact_rows"] == [5]
    assert recs[3].meta["impact_rows"] == [0]
    assert recs[0].meta["impact_s"] == pytest.approx([5 / 18.4, 18 / 18.4])
    assert np.isnan(recs[1].meta["label"][:2]).all() and recs[2].meta["rows"] == (45, 70)
    for r in recs:
        assert r.signal.rate_hz == 18.4 and r.meta["side"] == "left" and r.meta["subject"] is None
        np.testing.assert_allclose(np.linalg.norm(r.signal.accel, axis=1), G)
        np.testing.assert_allclose(r.signal.gyro[:, 2], 18.0 * r.meta["activity"] * D2R)


@pytest.mark.parametrize("content,match", [
    ("a,b\n1,2\n", "not an UP-Fall CSV"),
    ("WristACCX,WristACCY,WristACCZ,WristVELX,WristVELY,Activity\n0,0,1,0,0,1\n0,0,1,0,0,1\n", "no column 'WristVELZ'"),
    ("WristACCX,WristACCY,WristACCZ,WristVELX,WristVELY,WristVELZ,Activity\n0,0,1,0,0,0,1\n0,0,,0,0,0,1\n",
     "row 3 has an empty"),
    ("TimeStamps,x\nTime,y\n", "two header rows and 0 data row"),
])
def test_upfall_errors_are_one_line(tmp_path, content, match):
    (tmp_path / "f.csv").write_text(content)
    one_line_error(match, read_recordings, tmp_path / "f.csv", format="upfall")


# ---------------------------------------------------------------------------------------------------------------
# (a) SmartFallMM
# ---------------------------------------------------------------------------------------------------------------


def watch_stamp(t0, s):
    stamp = (t0 + dt.timedelta(seconds=float(s))).isoformat(sep=" ", timespec="milliseconds")
    return stamp.rstrip("0").rstrip(".") if stamp.endswith("0") else stamp  # upstream writes '.44' for 440 ms


def write_gz(path, lines):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with gzip.open(path, "wt") as f:
        f.write("\n".join(lines) + "\n")


def test_smartfallmm_watch_trial(tmp_path):
    t0 = dt.datetime(2024, 7, 23, 16, 57, 34)
    root = tmp_path / "smartfallmm"
    ta = bursty_stamps(3, duration=6.0, burst_every=0.04, per_burst=5)  # ~125 rows/s
    tg = np.arange(0.0, 6.5, 0.01)  # 100 rows/s
    acc = [f"{watch_stamp(t0, s)},0.0,0.0,{G}" for s in ta]
    acc[100] = f"{watch_stamp(t0, ta[100])},80.1,0.0,{G}"  # clipped at +-8 g (78.47 m/s^2 in the files)
    acc[100] = acc[100].replace("80.1", "78.47042")
    acc += [f"{watch_stamp(t0 + dt.timedelta(minutes=3), s)},1,1,1" for s in np.arange(0, 2, 0.01)]  # later chunk
    gyr = ["2024-07-23 16:57:34.0,0.05375614,-0.18448131,0.05375614.1"]  # the pandas-mangled first row
    gyr += [f"{watch_stamp(t0, s)},0.1,-0.2,0.3" for s in tg]
    write_gz(root / "young" / "accelerometer" / "watch" / "S44A10T02.csv.gz", acc)
    write_gz(root / "young" / "gyroscope" / "watch" / "S44A10T02.csv.gz", gyr)
    path = root / "young" / "accelerometer" / "watch" / "S44A10T02.csv.gz"
    assert find_reader(path, "imu").name == "smartfallmm"
    rec = read_recordings(path)[0]
    m = rec.meta
    assert (m["dataset"], m["trial_id"], m["subject"], m["activity"], m["trial"]) == ("SmartFallMM", "S44A10T02", 44,
                                                                                      10, 2)
    assert m["fall"] and m["activity_name"] == "back fall" and m["side"] == "left" and "watch" in m["device"]
    assert m["group"] == "young" and m["t0_s"] == pytest.approx(clock_seconds(str(t0)), abs=0.01)
    assert rec.signal.rate_hz == 125.0 and m["resample"].chunks == 2
    assert [s.rows for s in m["resample"].streams] == [len(acc), len(gyr) - 1]
    np.testing.assert_allclose(rec.signal.gyro, np.tile([0.1, -0.2, 0.3], (rec.signal.num_samples, 1)), atol=1e-12)
    sat = np.asarray(rec.signal.saturated)
    assert sat[:, 0].any() and not sat[:, 1:].any()  # the clipped x sample, and only it (and its neighbours)
    assert sat[:, 0].sum() <= 2
    assert 5.9 < rec.signal.num_samples / 125.0 < 6.01
    same = smartfallmm.read_smartfallmm_trial(root, "S44A10T02")
    np.testing.assert_array_equal(same.signal.accel, rec.signal.accel)
    assert smartfallmm.find_smartfallmm_trials(root) == ["S44A10T02"]


def test_smartfallmm_meta_wrist_in_g_and_deg_s_saturates(tmp_path):
    root = tmp_path / "sf"
    t0 = dt.datetime(2022, 7, 22, 10, 22, 12)
    acc, gyr = [], []
    for k in range(100):  # 25 Hz accelerometer, with the spreadsheet-rounded epoch column
        s = k * 0.04
        z = 2.0 if 40 <= k < 43 else 1.0
        acc.append(f"1.6585E+12,{(t0 + dt.timedelta(seconds=s)).isoformat(timespec='milliseconds')},{8.5 + s},"
                   f"0.0,0.0,{z}")
    for k in range(130):  # 32 Hz gyroscope
        s = k * 0.031
        gyr.append(f"1658500000000.0,{(t0 + dt.timedelta(seconds=s)).isoformat(timespec='milliseconds')},{s},"
                   f"{124.874 if k == 60 else 10.0},0.0,-90")
    write_gz(root / "young" / "accelerometer" / "meta_wrist" / "S31A01T02.csv.gz", acc)
    write_gz(root / "young" / "gyroscope" / "meta_wrist" / "S31A01T02.csv.gz", gyr)
    rec = smartfallmm.read_smartfallmm_trial(root, "S31A01T02", device="meta_wrist")
    assert rec.meta["side"] == "right" and "MetaMotion" in rec.meta["device"] and not rec.meta["fall"]
    assert rec.signal.rate_hz == 32.0
    a, g, sat = np.asarray(rec.signal.accel), np.asarray(rec.signal.gyro), np.asarray(rec.signal.saturated)
    rest = ~sat[:, 2]
    np.testing.assert_allclose(np.linalg.norm(a[rest], axis=1), G, rtol=1e-9)
    np.testing.assert_allclose(g[:, 2], -np.pi / 2)
    assert sat[:, 2].any() and sat[:, 3].any() and not sat[:, [0, 1, 4, 5]].any()
    assert np.abs(a[sat[:, 2], 2]).max() == pytest.approx(2 * G)


def test_smartfallmm_errors_are_one_line(tmp_path):
    root = tmp_path / "sf"
    acc = root / "young" / "accelerometer" / "watch" / "S30A01T01.csv.gz"
    gyr = root / "young" / "gyroscope" / "watch" / "S30A01T01.csv.gz"
    write_gz(acc, [f"2022-07-26 14:45:16.{k:03d},0,0,9.8" for k in range(0, 900, 30)])
    one_line_error("no gyroscope file", read_recordings, acc)
    write_gz(gyr, ["2022-07-26 14:45:16.000,0,0,Unnamed: 3"])  # header-only (S30's empty files)
    one_line_error("0 data row", read_recordings, acc)
    one_line_error("read from its accelerometer file", read_recordings, gyr)
    write_gz(gyr, [f"2022-07-26 14:45:16.{k:03d},0,0,0" for k in range(0, 900, 20)] + ["garbage,1"])
    one_line_error("line 46 is not time,x,y,z", read_recordings, acc)
    write_gz(gyr, [f"2022-07-26 14:45:16.{k:03d},0,0,0" for k in range(400)])  # 400 rows within 0.4 s
    one_line_error("one burst", read_recordings, acc)
    write_gz(root / "young" / "skeleton" / "S30A01T01.csv.gz", ["1,2,3"])
    one_line_error("not in SmartFallMM's layout", read_recordings, root / "young" / "skeleton" / "S30A01T01.csv.gz")
    (acc.parent / "S30A01T02.csv.gz").write_bytes(b"not gzip")
    write_gz(gyr.parent / "S30A01T02.csv.gz", ["2022-07-26 14:45:16.000,0,0,0"])
    one_line_error("cannot read", read_recordings, acc.parent / "S30A01T02.csv.gz")
    one_line_error("device must be", smartfallmm.read_smartfallmm_trial, root, "S30A01T01", device="phone")


# ---------------------------------------------------------------------------------------------------------------
# (a) WEDA-FALL
# ---------------------------------------------------------------------------------------------------------------


def test_weda_fall_recording_with_its_fall_time(tmp_path):
    root = tmp_path / "weda"
    d = root / "50Hz" / "F03"
    d.mkdir(parents=True)
    ta = bursty_stamps(4, duration=12.0, burst_every=0.1, per_burst=4)
    ta -= ta.min()
    tg = bursty_stamps(5, duration=12.0, burst_every=0.1, per_burst=4)
    tg -= tg.min()
    (d / "U02_R03_accel.csv").write_text("accel_time_list,accel_x_list,accel_y_list,accel_z_list\n"
                                         + "".join(f"{s:.3f},0.0,9.8,0.0\n" for s in ta))
    (d / "U02_R03_gyro.csv").write_text("gyro_time_list,gyro_x_list,gyro_y_list,gyro_z_list\n"
                                        + "".join(f"{s:.3f},0.1,0.0,-0.2\n" for s in tg))
    (d / "U02_R03_vertical_accel.csv").write_text("vertical_Accel_x,vertical_Accel_y,vertical_Accel_z,"
                                                  "accel_time_list\n0,0,0,0\n")
    (root / "fall_timestamps.csv").write_text("\ufefffilename,start_time,end_time\nF03/U02_R03,7.0,10.0\n",
                                             encoding="utf-8")
    rec = read_recordings(d / "U02_R03_accel.csv", format="weda-fall")[0]
    m = rec.meta
    assert (m["dataset"], m["subject"], m["activity"], m["trial"], m["fall"]) == ("WEDA-FALL", 2, "F03", 3, True)
    assert m["side"] is None and "which" in m["side_note"] and m["device"] == "Fitbit Sense"
    assert m["fall_s"] == (7.0, 10.0) and m["activity_name"].startswith("backward fall")
    assert rec.signal.rate_hz == 40.0
    assert m["t0_s"] <= 7.0 and 10.0 <= m["t0_s"] + (rec.signal.num_samples - 1) / rec.signal.rate_hz
    np.testing.assert_allclose(rec.signal.accel[:, 1], 9.8)
    np.testing.assert_allclose(rec.signal.gyro[:, 2], -0.2)
    reader = find_reader(d / "U02_R03_accel.csv", "imu", format="weda-fall")
    assert "u02_r03_accel.csv".endswith(reader.search) and not "u02_r03_vertical_accel.csv".endswith(reader.search)
    one_line_error("read from its U<user>_R<rep>_accel.csv", read_recordings, d / "U02_R03_vertical_accel.csv",
                   format="weda-fall")
    (d / "U02_R03_gyro.csv").unlink()
    one_line_error("no gyroscope file", read_recordings, d / "U02_R03_accel.csv", format="weda-fall")
    (d / "U02_R04_accel.csv").write_text("t,x,y,z\n0,0,0,0\n")
    (d / "U02_R04_gyro.csv").write_text("t,x,y,z\n0,0,0,0\n")
    one_line_error("expected WEDA-FALL's header", read_recordings, d / "U02_R04_accel.csv", format="weda-fall")


# ---------------------------------------------------------------------------------------------------------------
# (a) UTD-MHAD inertial and BROAD
# ---------------------------------------------------------------------------------------------------------------


def test_utd_inertial(tmp_path):
    n = 120
    d = np.tile([0.0, -1.0, 0.0, 0.0, 0.0, 57.29577951308232], (n, 1))
    d[50] = [8.0, -1.0, 0.0, 1000.5, 0.0, 0.0]  # at the ranges: 8 g, 1000 deg/s
    scipy.io.savemat(tmp_path / "a23_s2_t4_inertial.mat", {"d_iner": d})
    scipy.io.savemat(tmp_path / "a3_s1_t1_inertial.mat", {"d_iner": d})
    rec = read_recordings(tmp_path / "a23_s2_t4_inertial.mat")[0]
    m = rec.meta
    assert (m["dataset"], m["subject"], m["activity"], m["trial"]) == ("UTD-MHAD", 2, 23, 4)
    assert m["side"] == "right" and m["placement"] == "right thigh" and m["activity_name"] == "walking in place"
    assert read_recordings(tmp_path / "a3_s1_t1_inertial.mat")[0].meta["placement"] == "right wrist"
    assert rec.signal.rate_hz == 50.0 and rec.signal.num_samples == n
    rest = np.r_[0:50, 51:n]
    np.testing.assert_allclose(np.linalg.norm(rec.signal.accel[rest], axis=1), G)
    np.testing.assert_allclose(rec.signal.gyro[rest, 2], 1.0)
    sat = np.asarray(rec.signal.saturated)
    assert np.flatnonzero(sat.any(axis=1)).tolist() == [50] and sat[50].tolist() == [1, 0, 0, 1, 0, 0]
    assert read_recordings(tmp_path / "a3_s1_t1_inertial.mat", rate_hz=25)[0].signal.rate_hz == 25.0
    scipy.io.savemat(tmp_path / "x_inertial.mat", {"d_skel": np.zeros((20, 3, 4))})
    one_line_error("no variable 'd_iner'", read_recordings, tmp_path / "x_inertial.mat")
    scipy.io.savemat(tmp_path / "y_inertial.mat", {"d_iner": np.zeros((5, 4))})
    one_line_error(r"\(N, 6\)", read_recordings, tmp_path / "y_inertial.mat")


def test_broad_trial(tmp_path):
    n = 600
    rate = 2000.0 / 7.0
    movement = np.zeros(n, bool)
    movement[100:300] = movement[400:500] = True
    acc = np.tile([0.0, 0.0, G], (n, 1))
    gyr = np.zeros((n, 3))
    gyr[movement, 0] = 2.0
    path = tmp_path / "09_undisturbed_fast_rotation_with_breaks_B.hdf5"
    with h5py.File(path, "w") as f:
        f["imu_acc"], f["imu_gyr"], f["movement"] = acc, gyr, movement
        f["opt_quat"] = np.tile([1.0, 0, 0, 0], (n, 1))
        f.attrs["sampling_rate"] = rate
    rec = read_recordings(path)[0]
    m = rec.meta
    assert rec.signal.rate_hz == pytest.approx(285.714, abs=1e-3) and m["trial_number"] == 9
    assert m["dataset"] == "BROAD" and m["side"] is None and m["movement"].sum() == 300
    assert len(m["rest_segments"]) == 3 and m["rest_segments"][1] == pytest.approx((300 / rate, 399 / rate))
    np.testing.assert_array_equal(rec.signal.gyro, gyr)
    assert rec.signal.saturated is None and "opt_quat" not in m
    with h5py.File(tmp_path / "other.h5", "w") as f:
        f["accel"] = acc
    one_line_error("no dataset 'imu_acc'", read_recordings, tmp_path / "other.h5")
    (tmp_path / "junk.hdf5").write_bytes(b"not hdf5")
    one_line_error("cannot read .* as HDF5", read_recordings, tmp_path / "junk.hdf5")


def test_every_reader_is_registered_and_reachable():
    names = {r.name for r in readers("imu")}
    assert {"csv", "imusim-csv", "imusim-npz", "imusim-parquet", "upfall", "smartfallmm", "weda-fall",
            "utd-mhad-inertial", "broad"} <= names
    by_suffix = {"x.csv": "csv", "CompleteDataSet.csv": "upfall", "upfall_falls_wrist.csv": "upfall",
                 "S31A10T01.csv.gz": "smartfallmm", "a1_s1_t1_inertial.mat": "utd-mhad-inertial",
                 "09_trial.hdf5": "broad", "trial.h5": "broad", "x.npz": "imusim-npz"}
    for name, fmt in by_suffix.items():
        assert find_reader(name, "imu").name == fmt, name
    assert find_reader("U01_R01_accel.csv", "imu", format="weda-fall").name == "weda-fall"
    assert find_reader("Subject1Activity1Trial1.csv", "imu", format="upfall").name == "upfall"


# ---------------------------------------------------------------------------------------------------------------
# (b) the real files
# ---------------------------------------------------------------------------------------------------------------


def rest_magnitude(rec, gyro_below=0.05):
    a, g = np.asarray(rec.signal.accel), np.asarray(rec.signal.gyro)
    still = np.linalg.norm(g, axis=1) < gyro_below
    return float(np.median(np.linalg.norm(a[still], axis=1))) if still.sum() >= 10 else None


@pytest.mark.realdata
def test_real_smartfallmm_every_usable_watch_trial_reads(realdata):
    root = realdata / "smartfallmm"
    if not (root / "trials.csv").exists():
        pytest.skip("no smartfallmm in realdata")
    with open(root / "trials.csv") as f:
        usable = [r["trial"] for r in csv.DictReader(f) if r["usable"] == "1"]
    assert len(usable) == 139
    rest, rates = [], set()
    for trial in usable:
        rec = smartfallmm.read_smartfallmm_trial(root, trial)
        assert rec.meta["side"] == "left" and rec.meta["trial_id"] == trial
        assert 30 <= rec.signal.rate_hz <= 130 and rec.signal.num_samples >= 2
        assert np.isfinite(rec.signal.accel).all() and np.isfinite(rec.signal.gyro).all()
        rates.add(rec.signal.rate_hz)
        m = rest_magnitude(rec)
        if m is not None:
            rest.append(m)
    assert len(rest) > 50
    assert 9.5 < np.median(rest) < 10.1 and np.percentile(rest, 10) > 9.0, np.percentile(rest, [10, 50, 90])
    assert {50.0, 128.0} <= rates  # 2022's gyroscope at ~50 rows/s, 2024's accelerometer at ~125-131


@pytest.mark.realdata
def test_real_smartfallmm_meta_wrist_saturates(realdata):
    root = realdata / "smartfallmm"
    trials = smartfallmm.find_smartfallmm_trials(root, device="meta_wrist")
    if not trials:
        pytest.skip("no smartfallmm meta_wrist in realdata")
    read = flagged = 0
    for trial in trials[-30:]:  # the 2024 (S44, S46) recordings: both streams overlap
        try:
            rec = smartfallmm.read_smartfallmm_trial(root, trial, device="meta_wrist")
        except ij.InputError as e:
            assert "do not overlap" in str(e)  # 2022's streams were cropped at different times
            continue
        read += 1
        flagged += bool(np.asarray(rec.signal.saturated)[:, 3:].any())
        g = np.abs(np.asarray(rec.signal.gyro))
        assert g.max() <= 124.874 * D2R + 1e-9
    assert read >= 20 and flagged >= read // 2


@pytest.mark.realdata
def test_real_broad_rest_reads_g_and_no_rotation(realdata):
    files = sorted(glob.glob(str(realdata / "broad" / "*.hdf5")))
    if not files:
        pytest.skip("no BROAD files in realdata")
    for path in files:
        (rec,) = read_recordings(path)
        assert rec.signal.rate_hz == pytest.approx(285.714, abs=1e-3)
        rest = ~rec.meta["movement"]
        assert 0.3 < rest.mean() < 0.6 and len(rec.meta["rest_segments"]) >= 2
        a = np.linalg.norm(np.asarray(rec.signal.accel)[rest], axis=1)
        w = np.linalg.norm(np.asarray(rec.signal.gyro)[rest], axis=1)
        assert abs(np.median(a) - G) < 0.15 and np.median(w) < 0.02, (path, np.median(a), np.median(w))


@pytest.mark.realdata
def test_real_utd_inertial_at_50_hz(realdata):
    files = sorted(glob.glob(str(realdata / "utd_mhad" / "Inertial" / "*_inertial.mat")))
    if not files:
        pytest.skip("no UTD-MHAD inertial files in realdata")
    first = []
    for path in files[::8]:
        (rec,) = read_recordings(path)
        assert rec.signal.rate_hz == 50.0 and rec.meta["side"] == "right"
        assert rec.meta["placement"] == ("right wrist" if rec.meta["activity"] <= 21 else "right thigh")
        first.append(np.linalg.norm(np.asarray(rec.signal.accel)[:10], axis=1).mean())
    assert 9.3 < np.median(first) < 10.3  # the subjects start standing still


@pytest.mark.realdata
def test_real_weda_fall_times_lie_inside_the_recordings(realdata):
    files = sorted(glob.glob(str(realdata / "weda_fall" / "50Hz" / "F*" / "U*_R*_accel.csv")))
    files = [f for f in files if not f.endswith("_vertical_accel.csv")]
    if not files:
        pytest.skip("no WEDA-FALL files in realdata")
    for path in files:
        (rec,) = read_recordings(path, format="weda-fall")
        m = rec.meta
        end = m["t0_s"] + (rec.signal.num_samples - 1) / rec.signal.rate_hz
        assert m["fall"] and m["t0_s"] <= m["fall_s"][0] < m["fall_s"][1] <= end, (path, m["fall_s"], end)
        assert rec.signal.rate_hz in (40.0, 50.0)
    assert len(files) >= 96  # F01-F08, U01-U04, 3 or more repetitions


@pytest.mark.realdata
def test_real_upfall_falls_export_splits_into_the_five_activities_runs(realdata):
    path = realdata / "upfall" / "upfall_falls_wrist.csv"
    if not path.exists():
        pytest.skip("no UP-Fall export in realdata")
    recs = read_recordings(path)
    assert sum(r.signal.num_samples for r in recs) == 13940
    assert [r.meta["activity"] for r in recs] == [1, 2, 3, 4, 5] * 5
    # LABEL turns to 1 once per trial: three trials a run (one run's labels are empty after its first)
    assert sum(len(r.meta["impact_rows"]) == 3 for r in recs) >= 24
    for r in recs:
        assert 500 < r.signal.num_samples < 600 and 1 <= len(r.meta["impact_rows"]) <= 3
        a = np.linalg.norm(np.asarray(r.signal.accel), axis=1)
        assert 0.9 * G < np.median(a) < 1.2 * G
        assert a.max() > 2 * G  # the impacts
