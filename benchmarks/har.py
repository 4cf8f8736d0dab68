"""HAR on real wrist IMUs: train on synthetic, test on real (``imusim_jax.models.har``), against baselines run in
the same script.

Measurements (each model trained and scored with the same ``train``/``evaluate`` code the command line runs, on
a dataset this script builds from ``../shared/realdata`` with the dataset builder, as ``imusim-jax build-dataset``
would, from the manifest ``manifest()`` writes):

* ``utd``: UTD-MHAD, the 21 wrist actions (``--label source_label``), subjects 1-2 train, the real IMU of subjects
  3-4 test. TRTR (train on the real IMU), TSTR (train on IMU simulated from the skeletons with ``watch-right``),
  TSTR with the mount profile ``{"preset": "watch-right", "turn_deg": [0, 180, 0]}`` (UTD's sensor sits turned
  about 180 degrees about y; a rotation fitted on the training subjects finds it), TSTR with the profile paired
  calibration fits on subjects 1-2 (``calibrate --mode paired``: mount, gains, noise, clock offset; in the
  manifest's ``profiles``), TSTR with orientation-robust augmentation (random 180-degree flips, any turn about the
  forearm), and mixed (real + turned simulation).
* ``falls``: SmartFallMM's real left-wrist watch, two subject folds ({S31, S34, S46} / {S38, S44}), trained on
  signals simulated from the other fold's skeletons only (``watch-left``), against the same model trained on the
  other fold's real watch; WEDA-FALL's Fitbit (users U01-U04) scored by models trained on all of SmartFallMM's
  simulation or real watch. Fall vs not-fall from the safety head (the largest window ``p(unsafe)`` of a clip
  over 0.5; WEDA's D07 stumble is unsafe in the taxonomy but counts as not a fall here): F1 and the falls' recall.
* ``speed``: training windows per second and inference latency per window (jitted JAX, batch 1 and 256;
  onnxruntime, batch 1) of the default-size model on this machine.

Baselines, same splits: the majority class; per-channel statistics (mean, std, min, max, 10/50/90th percentiles,
mean absolute difference of the six axes, |a| and |w|) with a multinomial logistic regression (NumPy/SciPy
L-BFGS, L2) or a random forest when scikit-learn is installed.

Usage::

    .venv/bin/python benchmarks/har.py [--only utd,falls,speed] [--out benchmarks/out/har] [--epochs N]
        [--realdata ../shared/realdata] [--rebuild]

The dataset is built in ``OUT/data`` (resumed when there; ``--rebuild`` remakes it), runs in ``OUT/runs``,
every figure in ``OUT/results.json``.
"""
from __future__ import annotations

import argparse
import csv
import dataclasses
import json
import os
import platform
import re
import shutil
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

G = 9.80665
UTD_TURN = {"preset": "watch-right", "turn_deg": [0, 180, 0]}
SFMM_FOLDS = (("S31", "S34", "S46"), ("S38", "S44"))


def log(*a):
    print(*a, flush=True)


# ---------------------------------------------------------------------------------------------------------------
# data: built by the dataset builder, as a user would (imusim-jax build-dataset)
# ---------------------------------------------------------------------------------------------------------------

def manifest(real: str, out: str) -> dict:
    """The benchmark's manifest: UTD-MHAD real and simulated (``watch-right``, and turned by ``UTD_TURN``),
    SmartFallMM's usable trials (``trials.csv``) real (left-wrist watch) and simulated (``watch-left``), WEDA-FALL
    real; bmi160 noise, no jitter or time stretch (the training augments instead)."""
    turned = os.path.join(out, "utd_turned_mount.json")
    os.makedirs(out, exist_ok=True)
    with open(turned, "w") as f:
        json.dump(UTD_TURN, f)
    sf = os.path.join(real, "smartfallmm")
    with open(os.path.join(sf, "trials.csv")) as f:
        unusable = [f"young/{r['trial']}" for r in csv.DictReader(f) if r["usable"] != "1"]
    utd = os.path.join(real, "utd_mhad")
    return {"name": "har-benchmark", "rate_hz": 50, "seed": 11, "profiles": ["bmi160"], "cutoff_hz": "auto",
            "shard_size": 64, "sources": [
                {"name": "utd_real", "type": "utd_mhad", "signal": "real", "path": utd},
                {"name": "utd_sim", "type": "utd_mhad", "signal": "simulated", "path": utd,
                 "mounts": ["watch-right"]},
                {"name": "utd_sim_turned", "type": "utd_mhad", "signal": "simulated", "path": utd,
                 "mounts": [turned]},
                {"name": "utd_sim_calibrated", "type": "utd_mhad", "signal": "simulated", "path": utd,
                 "mounts": ["watch-right"], "profiles": [calibrated_profile(utd, out)]},
                {"name": "sfmm_real", "type": "smartfallmm", "signal": "real", "device": "watch", "path": sf,
                 "exclude": {"clip_id": unusable}},
                {"name": "sfmm_sim", "type": "smartfallmm", "signal": "simulated", "path": sf,
                 "mounts": ["watch-left"], "exclude": {"clip_id": unusable}},
                {"name": "weda_real", "type": "weda_fall", "path": os.path.join(real, "weda_fall")}]}


def calibrated_profile(utd: str, out: str) -> str:
    """A profile from paired calibration (``imusim-jax calibrate --mode paired``) on the training subjects' (1-2)
    wrist trials (actions 1-21), made once: mount, gains, noise and clock offset of UTD-MHAD's sensor."""
    from imusim_jax.workflows.calibrate import calibrate_files

    path = os.path.join(out, "utd_paired_s1_s2.json")
    if os.path.exists(path):
        return path
    pat = re.compile(r"^a(\d+)_s([12])_t\d+_inertial\.mat$")
    real = sorted(os.path.join(utd, "Inertial", n) for n in os.listdir(os.path.join(utd, "Inertial"))
                  if (m := pat.match(n)) and int(m.group(1)) <= 21)
    motion = [f.replace("Inertial", "Skeleton").replace("_inertial.mat", "_skeleton.mat") for f in real]
    t0 = time.perf_counter()
    profile, _ = calibrate_files("paired", real, motion=motion, mount="watch-right", progress=False,
                                 name="utd-paired-s1-s2")
    profile.save(path)
    log(f"  paired calibration on {len(real)} trials of subjects 1-2: {time.perf_counter() - t0:.0f} s -> {path}")
    return path


def build(real: str, out: str, rebuild: bool) -> None:
    """``build_dataset`` of ``manifest`` into ``out`` (resumed when it exists, unless ``rebuild``)."""
    import yaml

    from imusim_jax.workflows.dataset import build_dataset

    inputs = os.path.dirname(os.path.abspath(out))     # the manifest and its mount/profile files, beside OUT/data
    path = os.path.join(inputs, "manifest.yaml")
    os.makedirs(inputs, exist_ok=True)
    with open(path, "w") as f:
        yaml.safe_dump(manifest(real, inputs), f, sort_keys=False)
    t0 = time.perf_counter()
    log(f"building the dataset in {out} (imusim-jax build-dataset {path}) ...")
    rep = build_dataset(path, out, overwrite=rebuild, progress=False)
    log(f"  {rep.rows} rows, {len(rep.written)} shards written, {len(rep.skipped)} kept, "
        f"{time.perf_counter() - t0:.0f} s")


# ---------------------------------------------------------------------------------------------------------------
# baselines
# ---------------------------------------------------------------------------------------------------------------

def features(clips, rate: float = 50.0) -> np.ndarray:
    """Per clip: mean, std, min, max, 10/50/90th percentiles and mean |difference| of the six axes, |a| and |w|."""
    from imusim_jax.models.har.data import resample_clip

    out = []
    for x, r in zip(clips.imu, clips.rate_hz):
        y = resample_clip(x, float(r), rate).astype(np.float64)
        y = np.concatenate([y, np.linalg.norm(y[:, :3], axis=1, keepdims=True),
                            np.linalg.norm(y[:, 3:], axis=1, keepdims=True)], axis=1)
        d = np.abs(np.diff(y, axis=0)).mean(0) if len(y) > 1 else np.zeros(y.shape[1])
        out.append(np.concatenate([y.mean(0), y.std(0), y.min(0), y.max(0), *np.percentile(y, [10, 50, 90], axis=0),
                                   d]))
    return np.asarray(out)


class LogReg:
    """Multinomial logistic regression on standardised features, L2 (``C``), fitted by SciPy's L-BFGS."""

    def __init__(self, C: float = 1.0, class_weight: str = "balanced"):
        self.C, self.class_weight = C, class_weight

    def fit(self, X, y, k):
        from scipy.optimize import minimize

        self.mu, self.sd = X.mean(0), X.std(0) + 1e-9
        Z = (X - self.mu) / self.sd
        n, d = Z.shape
        Y = np.eye(k)[y]
        cnt = np.bincount(y, minlength=k).astype(float)
        w = (n / (np.count_nonzero(cnt) * np.maximum(cnt, 1)))[y] if self.class_weight == "balanced" else np.ones(n)
        lam = 1.0 / (self.C * n)

        def f(theta):
            W = theta[:d * k].reshape(d, k)
            b = theta[d * k:]
            S = Z @ W + b
            S = S - S.max(1, keepdims=True)
            P = np.exp(S)
            P /= P.sum(1, keepdims=True)
            loss = -np.sum(w * np.log(np.sum(P * Y, 1) + 1e-12)) / n + 0.5 * lam * np.sum(W * W)
            G_ = (P - Y) * w[:, None] / n
            return loss, np.concatenate([(Z.T @ G_ + lam * W).ravel(), G_.sum(0)])

        r = minimize(f, np.zeros(d * k + k), jac=True, method="L-BFGS-B", options={"maxiter": 500})
        self.W, self.b = r.x[:d * k].reshape(d, k), r.x[d * k:]
        return self

    def predict_proba(self, X):
        S = ((X - self.mu) / self.sd) @ self.W + self.b
        S = S - S.max(1, keepdims=True)
        P = np.exp(S)
        return P / P.sum(1, keepdims=True)


def feature_model():
    try:
        from sklearn.ensemble import RandomForestClassifier  # noqa: F401

        return "random forest (scikit-learn)"
    except ImportError:
        return "logistic regression (NumPy/SciPy)"


def fit_features(Xtr, ytr, k, seed=0):
    try:
        from sklearn.ensemble import RandomForestClassifier

        m = RandomForestClassifier(n_estimators=300, class_weight="balanced", random_state=seed, n_jobs=2)
        m.fit(Xtr, ytr)

        class _RF:
            def predict_proba(self, X):
                P = np.zeros((len(X), k))
                P[:, m.classes_] = m.predict_proba(X)
                return P

        return _RF()
    except ImportError:
        return LogReg().fit(Xtr, ytr, k)


def macro_f1(y, p, classes):
    from imusim_jax.models.har.metrics import classification_report

    return classification_report(y, p, classes)


# ---------------------------------------------------------------------------------------------------------------
# experiments
# ---------------------------------------------------------------------------------------------------------------

def read(out, filters):
    from imusim_jax.models.har import data as D

    return D.read_dataset(out, D.parse_filters(filters))


def train_eval(out, runs, name, train_filters, test_sets, cfg, label, epochs):
    """Train on ``train_filters`` and score every ``test_sets`` entry (name -> filters); metrics per test set."""
    from imusim_jax.models.har.evaluate import evaluate
    from imusim_jax.models.har.train import train

    run_dir = os.path.join(runs, name)
    shutil.rmtree(run_dir, ignore_errors=True)   # a fresh run: the timings are part of the figures
    t0 = time.perf_counter()
    res = train(out, run_dir, filters=train_filters, label=label, config=cfg, epochs=epochs, progress=False,
                log=lambda s: None)
    dt = time.perf_counter() - t0
    scores = {}
    for tname, tf in test_sets.items():
        clips = read(out, tf)
        m = evaluate(run_dir, out, filters=tf, clips=clips, log=lambda s: None)
        scores[tname] = {"metrics": m, "clips": clips}
    log(f"  {name}: {res.steps} steps in {dt:.0f} s ({res.windows_per_s:.0f} windows/s)")
    return res, scores


def fall_truth(clips) -> np.ndarray:
    """Fall or not from the source's own class: SmartFallMM A10-A14, WEDA-FALL F01-F08."""
    out = []
    for m in clips.meta:
        code = str(m["source_label"]).split()[0]
        out.append(code in {f"A{a}" for a in range(10, 15)} or code.startswith("F"))
    return np.asarray(out, bool)


def fall_scores(p_unsafe, truth) -> dict:
    from imusim_jax.models.har.metrics import binary_report, recall_at_false_alarm, roc_auc

    p = np.asarray(p_unsafe, np.float64)
    r = binary_report(p > 0.5, truth)
    return {"f1": r["f1"], "recall": r["recall"], "precision": r["precision"], "auc": roc_auc(p, truth),
            "recall_at_5pct_false_alarm": recall_at_false_alarm(p, truth, 0.05)["recall"],
            "n": int(len(truth)), "falls": int(truth.sum())}


def utd_config(epochs):
    from imusim_jax.models.har.config import config_from_dict

    return config_from_dict({
        "label": "source_label",
        "window": {"rate_hz": 50, "length_s": 3.2, "stride_s": 0.32},
        "optim": {"epochs": epochs, "batch_size": 64, "lr": 1e-3, "weight_decay": 0.05},
        "split": {"val_fraction": 0.0},
        "loss": {"safety": 0.0, "severity": 0.0},
        "augment": {"rotate_forearm_deg": 15, "mirror_prob": 0.0, "stretch": 0.1, "rate_prob": 0.2,
                    "saturate_prob": 0.1},
        "export_onnx": False})


def run_utd(out, runs, epochs, results):
    from imusim_jax.models.har.data import encode

    cfg = utd_config(epochs)
    train_sub, test_sub = "subject=s1,s2", "subject=s3,s4"
    test = {"real_3_4": ["source=utd_real", "placement=wrist", test_sub]}
    robust = dataclasses.replace(cfg, augment=dataclasses.replace(cfg.augment, rotate_forearm_deg=180.0,
                                                                  flip_prob=0.5))
    setups = {
        "TRTR": (["source=utd_real", "placement=wrist", train_sub], cfg),
        "TSTR watch-right": (["source=utd_sim", "placement=wrist", train_sub], cfg),
        "TSTR turned profile": (["source=utd_sim_turned", "placement=wrist", train_sub], cfg),
        "TSTR paired-calibrated profile (subjects 1-2)": (["source=utd_sim_calibrated", "placement=wrist",
                                                            train_sub], cfg),
        "TSTR watch-right, orientation-robust aug.": (["source=utd_sim", "placement=wrist", train_sub], robust),
        "mixed (real + turned sim)": (["source=utd_real,utd_sim_turned", "placement=wrist", train_sub], cfg),
    }
    res = {}
    test_clips = read(out, test["real_3_4"])
    for name, (tf, c) in setups.items():
        slug = "utd_" + re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")
        r, sc = train_eval(out, runs, slug, tf, test, c, "source_label", None)
        m = sc["real_3_4"]["metrics"]
        res[name] = {"macro_f1": m["macro_f1"], "accuracy": m["accuracy"], "n": m["n"],
                     "window_macro_f1": m["window"]["macro_f1"], "windows_per_s": r.windows_per_s,
                     "unknown": m["unknown"]["n"]}
        log(f"    {name}: macro-F1 {m['macro_f1']:.3f}, accuracy {m['accuracy']:.3f} (n {m['n']})")
    # baselines on the same splits (clip-level features)
    Xte = features(test_clips)
    for tname, tf in (("real", "source=utd_real"), ("sim watch-right", "source=utd_sim"),
                      ("sim turned", "source=utd_sim_turned"), ("sim calibrated", "source=utd_sim_calibrated")):
        tr = read(out, [tf, "placement=wrist", train_sub])
        classes = sorted({m["source_label"] for m in tr.meta})
        ytr = encode([m["source_label"] for m in tr.meta], classes)
        yte = encode([m["source_label"] for m in test_clips.meta], classes)
        mdl = fit_features(features(tr), ytr, len(classes))
        rep = macro_f1(yte, np.argmax(mdl.predict_proba(Xte), 1), classes)
        res[f"features + {feature_model().split(' (')[0]}, trained on {tname}"] = {
            "macro_f1": rep["macro_f1"], "accuracy": rep["accuracy"], "n": rep["n"]}
        log(f"    features ({tname}): macro-F1 {rep['macro_f1']:.3f}")
        if tname == "real":
            maj = np.bincount(ytr).argmax()
            rep = macro_f1(yte, np.full(len(yte), maj), classes)
            res["majority class"] = {"macro_f1": rep["macro_f1"], "accuracy": rep["accuracy"], "n": rep["n"]}
    results["utd"] = res
    trtr = res["TRTR"]["macro_f1"]
    tstr = max(v["macro_f1"] for k, v in res.items() if k.startswith("TSTR"))
    results["utd_gap"] = {"TRTR": trtr, "best TSTR": tstr, "TSTR / TRTR": tstr / trtr if trtr else None}


def falls_config(epochs):
    from imusim_jax.models.har.config import config_from_dict

    return config_from_dict({
        "label": "activity",
        "window": {"rate_hz": 50, "length_s": 2.56, "stride_s": 0.64, "eval_stride_s": 0.64},
        "optim": {"epochs": epochs, "batch_size": 64, "lr": 1e-3, "weight_decay": 0.05},
        "split": {"val_fraction": 0.0},
        "loss": {"activity": 0.5, "safety": 1.0, "severity": 0.25},
        "augment": {"rotate_forearm_deg": 30, "mirror_prob": 0.5, "stretch": 0.1, "rate_prob": 0.3,
                    "rate_min_hz": 25, "saturate_prob": 0.3, "accel_limits_g": [4, 8, 16]},
        "export_onnx": False})


def run_falls(out, runs, epochs, results):
    cfg = falls_config(epochs)
    res = {}
    pooled = {}
    for i, (tr, te) in enumerate((SFMM_FOLDS, SFMM_FOLDS[::-1])):
        trs, tes = "subject=" + ",".join(tr), "subject=" + ",".join(te)
        test = {"sfmm_real": ["source=sfmm_real", tes]}
        for kind in ("sim", "real"):
            _, sc = train_eval(out, runs, f"sfmm_{kind}_fold{i}", [f"source=sfmm_{kind}", trs], test, cfg, "activity",
                               None)
            m, clips = sc["sfmm_real"]["metrics"], sc["sfmm_real"]["clips"]
            pooled.setdefault(kind, ([], [], []))
            pooled[kind][0].extend(m["safety"]["p_unsafe"])
            pooled[kind][1].extend(fall_truth(clips).tolist())
            pooled[kind][2].append(m["macro_f1"])
        # feature baseline on the same fold, trained on the real watch and on the simulation
        te_clips = read(out, ["source=sfmm_real", tes])
        Xte, yte = features(te_clips), fall_truth(te_clips)
        for kind in ("real", "sim"):
            tr_clips = read(out, [f"source=sfmm_{kind}", trs])
            mdl = fit_features(features(tr_clips), fall_truth(tr_clips).astype(int), 2)
            pooled.setdefault(f"features_{kind}", ([], [], []))
            pooled[f"features_{kind}"][0].extend(mdl.predict_proba(Xte)[:, 1].tolist())
            pooled[f"features_{kind}"][1].extend(yte.tolist())
        pooled.setdefault("majority", ([], [], []))
        pooled["majority"][0].extend([0.0] * len(yte))   # the majority class is not-a-fall in every fold
        pooled["majority"][1].extend(yte.tolist())
    names = {"sim": "IMU-Patchformer trained on simulation only", "real": "IMU-Patchformer trained on the real watch",
             "features_real": f"features + {feature_model()}, trained on the real watch",
             "features_sim": f"features + {feature_model()}, trained on simulation", "majority": "majority class"}
    sf = {}
    for k, (p, y, f1s) in pooled.items():
        sf[names[k]] = fall_scores(p, np.asarray(y, bool))
        if f1s:
            sf[names[k]]["activity_macro_f1_per_fold"] = f1s
        log(f"    SmartFallMM {names[k]}: fall F1 {sf[names[k]]['f1']:.3f}, recall {sf[names[k]]['recall']:.3f}")
    res["smartfallmm (2 subject folds, pooled)"] = sf
    # WEDA-FALL: trained on all of SmartFallMM
    weda = read(out, ["source=weda_real"])
    yw = fall_truth(weda)
    wf = {}
    for kind in ("sim", "real"):
        _, sc = train_eval(out, runs, f"sfmm_{kind}_all", [f"source=sfmm_{kind}"], {"weda": ["source=weda_real"]},
                           cfg, "activity", None)
        wf[names[kind]] = fall_scores(sc["weda"]["metrics"]["safety"]["p_unsafe"], yw)
    Xw = features(weda)
    for kind in ("real", "sim"):
        tr_clips = read(out, [f"source=sfmm_{kind}"])
        mdl = fit_features(features(tr_clips), fall_truth(tr_clips).astype(int), 2)
        wf[names[f"features_{kind}"]] = fall_scores(mdl.predict_proba(Xw)[:, 1], yw)
    wf[names["majority"]] = fall_scores(np.zeros(len(yw)), yw)
    for k, v in wf.items():
        log(f"    WEDA-FALL {k}: fall F1 {v['f1']:.3f}, recall {v['recall']:.3f}")
    res["weda_fall (trained on all SmartFallMM)"] = wf
    results["falls"] = res


def run_speed(results, seconds: float = 3.0):
    """Training windows/s and inference latency of the default-size model (128-sample windows, 21 classes)."""
    import jax
    import jax.numpy as jnp

    from imusim_jax.models.har.config import TrainConfig, config_to_dict
    from imusim_jax.models.har.train import Trainer

    cfg = TrainConfig()
    W = cfg.window.length
    tr = Trainer(cfg, 21, 1000)
    params, opt = tr.init(0)
    bs = cfg.optim.batch_size
    rng = np.random.default_rng(0)
    batch = {"x": jnp.asarray(rng.normal(size=(bs, W, 6)), jnp.float32), "mask": jnp.ones((bs, W), bool),
             "activity": jnp.zeros(bs, jnp.int32), "safety": jnp.zeros(bs, jnp.int32),
             "severity": jnp.zeros(bs, jnp.int32), "weight": jnp.ones(bs)}
    t0 = time.perf_counter()
    params, opt, p = tr.step(params, opt, batch, jax.random.key(0))
    jax.block_until_ready(p["loss"])
    compile_s = time.perf_counter() - t0
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        params, opt, p = tr.step(params, opt, batch, jax.random.key(n))
        jax.block_until_ready(p["loss"])
        n += 1
    train_wps = n * bs / (time.perf_counter() - t0)
    lat = {}
    for b in (1, 256):
        x = np.asarray(rng.normal(size=(b, W, 6)), np.float32)
        m = np.ones((b, W), bool)
        jax.block_until_ready(tr.predict_batch(params, x, m))
        ts = []
        for _ in range(30 if b == 1 else 5):
            t1 = time.perf_counter()
            jax.block_until_ready(tr.predict_batch(params, x, m))
            ts.append(time.perf_counter() - t1)
        lat[f"jax_batch{b}_ms_per_window"] = 1e3 * float(np.median(ts)) / b
    try:
        import tempfile

        import onnxruntime as ort

        from imusim_jax.models.har.export import export_onnx

        with tempfile.TemporaryDirectory() as d:
            run = {"format": "imusim-jax/har-run", "version": 1, "config": config_to_dict(cfg),
                   "classes": [str(i) for i in range(21)], "label": "activity"}
            path = export_onnx(params, run, os.path.join(d, "m.onnx"))
            sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
            x = np.asarray(rng.normal(size=(1, W, 6)), np.float32)
            feed = {"imu": x, "mask": np.ones((1, W), np.float32)}
            sess.run(["activity"], feed)
            ts = []
            for _ in range(50):
                t1 = time.perf_counter()
                sess.run(["activity"], feed)
                ts.append(time.perf_counter() - t1)
            lat["onnxruntime_batch1_ms_per_window"] = 1e3 * float(np.median(ts))
    except ImportError:
        pass
    results["speed"] = {"device": str(jax.devices()[0].device_kind), "window_samples": W, "batch": bs,
                        "compile_s": compile_s, "train_windows_per_s": train_wps, **lat}
    log(f"    train {train_wps:.0f} windows/s (batch {bs}, {W} samples; compile {compile_s:.1f} s); "
        + ", ".join(f"{k} {v:.3f}" for k, v in lat.items()))


def machine() -> dict:
    from machine import cpu_model

    import jax

    return {"cpu": cpu_model(), "cores": os.cpu_count(), "load_average": list(os.getloadavg()),
            "python": platform.python_version(), "jax": jax.__version__, "device": str(jax.devices()[0])}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--realdata", default=os.environ.get("IMUSIM_REALDATA",
                                                         os.path.join(HERE, "..", "..", "shared", "realdata")))
    ap.add_argument("--out", default=os.path.join(HERE, "out", "har"))
    ap.add_argument("--only", default="utd,falls,speed")
    ap.add_argument("--epochs", type=int, default=None, help="override every model's epochs")
    ap.add_argument("--utd-epochs", type=int, default=60)
    ap.add_argument("--falls-epochs", type=int, default=30)
    ap.add_argument("--rebuild", action="store_true")
    a = ap.parse_args(argv)
    import jax

    jax.config.update("jax_enable_x64", False)
    parts = [p.strip() for p in a.only.split(",") if p.strip()]
    real = os.path.abspath(a.realdata)
    if any(p in ("utd", "falls") for p in parts) and not os.path.isdir(real):
        log(f"no real data at {real}: skipping utd and falls")
        parts = [p for p in parts if p == "speed"]
    out = os.path.abspath(a.out)
    data, runs = os.path.join(out, "data"), os.path.join(out, "runs")
    os.makedirs(runs, exist_ok=True)
    results_path = os.path.join(out, "results.json")
    results = {}
    if os.path.exists(results_path):
        with open(results_path) as f:
            results = json.load(f)
    results["machine_start"] = machine()
    if any(p in ("utd", "falls") for p in parts):
        build(real, data, a.rebuild)
    t0 = time.perf_counter()
    if "utd" in parts:
        log("UTD-MHAD, 21 wrist actions, train subjects 1-2, test real subjects 3-4:")
        run_utd(data, runs, a.epochs or a.utd_epochs, results)
    if "falls" in parts:
        log("Falls on real watches:")
        run_falls(data, runs, a.epochs or a.falls_epochs, results)
    if "speed" in parts:
        log("Speed (default-size model):")
        run_speed(results)
    results["machine_end"] = machine()
    results["elapsed_s"] = time.perf_counter() - t0
    with open(results_path, "w") as f:
        json.dump(results, f, indent=1, default=float)
    log(f"wrote {results_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
