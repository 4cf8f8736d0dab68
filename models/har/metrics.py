"""Scores (NumPy): macro-F1, accuracy, per-class precision and recall, the confusion matrix, clip-level
aggregation of window predictions, and the safety head's unsafe recall at a stated false-alarm rate.

Conventions: the confusion matrix's rows are the true classes and its columns the predicted ones; macro-F1
averages the F1 of the classes present in the truth or the predictions (scikit-learn's ``average="macro"``), a
class with no prediction has precision 0.

Clip-level scores: a clip's class probabilities are the mean of its windows' softmax probabilities (``mean``;
``max`` takes each class's largest window probability and renormalises), its class the argmax. The safety head's
clip score is the largest window ``p(unsafe)`` by default (an unsafe moment anywhere makes the clip unsafe:
``safety_aggregate: max``), or the mean.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

__all__ = ["confusion_matrix", "classification_report", "aggregate_clips", "recall_at_false_alarm",
           "binary_report", "roc_auc"]


def confusion_matrix(y_true, y_pred, k: int) -> np.ndarray:
    """``(k, k)`` counts: row = true class, column = predicted class (labels outside [0, k) are ignored)."""
    y_true, y_pred = np.asarray(y_true, np.int64), np.asarray(y_pred, np.int64)
    ok = (y_true >= 0) & (y_true < k) & (y_pred >= 0) & (y_pred < k)
    cm = np.zeros((k, k), np.int64)
    np.add.at(cm, (y_true[ok], y_pred[ok]), 1)
    return cm


def classification_report(y_true, y_pred, classes: Sequence[str]) -> dict:
    """``macro_f1``, ``accuracy``, ``n``, ``classes``, ``per_class`` (precision, recall, f1, support, predicted),
    ``confusion_matrix`` (list of rows)."""
    k = len(classes)
    cm = confusion_matrix(y_true, y_pred, k)
    n = int(cm.sum())
    tp = np.diag(cm).astype(np.float64)
    support = cm.sum(axis=1).astype(np.float64)
    predicted = cm.sum(axis=0).astype(np.float64)
    prec = np.divide(tp, predicted, out=np.zeros(k), where=predicted > 0)
    rec = np.divide(tp, support, out=np.zeros(k), where=support > 0)
    f1 = np.divide(2 * prec * rec, prec + rec, out=np.zeros(k), where=(prec + rec) > 0)
    present = (support > 0) | (predicted > 0)
    per_class = {str(c): {"precision": float(prec[i]), "recall": float(rec[i]), "f1": float(f1[i]),
                          "support": int(support[i]), "predicted": int(predicted[i])} for i, c in enumerate(classes)}
    return {"macro_f1": float(f1[present].mean()) if present.any() else 0.0,
            "accuracy": float(tp.sum() / n) if n else 0.0, "n": n, "classes": [str(c) for c in classes],
            "per_class": per_class, "confusion_matrix": cm.tolist()}


def aggregate_clips(probs: np.ndarray, clip: np.ndarray, n_clips: int, how: str = "mean") -> np.ndarray:
    """``(N, K)`` window probabilities and their clip indices -> ``(n_clips, K)`` clip probabilities (``mean`` of
    the windows, or ``max`` renormalised); a clip without windows gets NaN."""
    probs = np.asarray(probs, np.float64)
    k = probs.shape[1]
    out = np.full((n_clips, k), np.nan)
    if how == "mean":
        s = np.zeros((n_clips, k))
        c = np.zeros(n_clips)
        np.add.at(s, clip, probs)
        np.add.at(c, clip, 1.0)
        ok = c > 0
        out[ok] = s[ok] / c[ok, None]
    elif how == "max":
        m = np.full((n_clips, k), -np.inf)
        np.maximum.at(m, clip, probs)
        ok = np.isfinite(m).all(axis=1)
        out[ok] = m[ok] / m[ok].sum(axis=1, keepdims=True)
    else:
        raise ValueError(f"aggregate must be 'mean' or 'max', got {how!r}")
    return out


def roc_auc(scores, positive) -> float:
    """Area under the ROC curve (the probability a positive scores above a negative; ties count half); NaN when a
    class is missing."""
    s, y = np.asarray(scores, np.float64), np.asarray(positive, bool)
    npos, nneg = int(y.sum()), int((~y).sum())
    if npos == 0 or nneg == 0:
        return float("nan")
    from scipy.stats import rankdata

    r = rankdata(s)
    return float((r[y].sum() - npos * (npos + 1) / 2) / (npos * nneg))


def recall_at_false_alarm(scores, positive, far: float) -> dict:
    """The highest recall of ``positive`` whose false-alarm rate (negatives flagged / negatives) is at most
    ``far``: a clip is flagged when its score is above ``threshold``. ``threshold``, ``recall``,
    ``false_alarm_rate`` (reached), ``target_false_alarm_rate``, ``n_positive``, ``n_negative``."""
    s, y = np.asarray(scores, np.float64), np.asarray(positive, bool)
    neg = np.sort(s[~y])[::-1]
    npos, nneg = int(y.sum()), len(neg)
    allowed = int(np.floor(far * nneg + 1e-9))
    thr = float(neg[allowed]) if allowed < nneg else float("-inf")
    flagged = s > thr
    rec = float(flagged[y].mean()) if npos else float("nan")
    fa = float(flagged[~y].mean()) if nneg else float("nan")
    return {"target_false_alarm_rate": float(far), "threshold": thr, "recall": rec, "false_alarm_rate": fa,
            "n_positive": npos, "n_negative": nneg}


def binary_report(pred, positive) -> dict:
    """Precision, recall and F1 of the positive class, with the counts."""
    p, y = np.asarray(pred, bool), np.asarray(positive, bool)
    tp, fp, fn = int((p & y).sum()), int((p & ~y).sum()), int((~p & y).sum())
    prec = tp / (tp + fp) if tp + fp else 0.0
    rec = tp / (tp + fn) if tp + fn else float("nan")
    f1 = 2 * prec * rec / (prec + rec) if tp else 0.0
    return {"precision": prec, "recall": rec, "f1": f1, "tp": tp, "fp": fp, "fn": fn,
            "tn": int((~p & ~y).sum())}
