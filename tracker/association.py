"""Association: cost matrices built in one shot, gating, and optimal assignment.

All functions are pure numpy over whole arrays. Costs are distances (lower is
better); ``np.inf`` marks a pair that must never match.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import linear_sum_assignment

EPS = 1e-9  # guards divisions by zero areas


def _overlap(a0: np.ndarray, a1: np.ndarray, b0: np.ndarray, b1: np.ndarray) -> np.ndarray:
    """Length of the overlap of intervals [a0, a1] and [b0, b1], every pair, (N,M)."""
    out = np.minimum(a1[:, None], b1[None, :])
    out -= np.maximum(a0[:, None], b0[None, :])
    return np.maximum(out, 0, out=out)


def _area(boxes: np.ndarray) -> np.ndarray:
    return np.maximum(boxes[:, 2] - boxes[:, 0], 0) * np.maximum(boxes[:, 3] - boxes[:, 1], 0)


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU (N,M) between xyxy boxes ``a`` (N,4) and ``b`` (M,4), in float32.

    Written as separable x and y overlaps on (N,M) planes, with no (N,M,2)
    temporaries: this is the hottest function of every tracker.
    """
    a = np.asarray(a, np.float32).reshape(-1, 4)
    b = np.asarray(b, np.float32).reshape(-1, 4)
    inter = _overlap(a[:, 0], a[:, 2], b[:, 0], b[:, 2])
    inter *= _overlap(a[:, 1], a[:, 3], b[:, 1], b[:, 3])
    union = _area(a)[:, None] + _area(b)[None, :]
    union -= inter
    np.maximum(union, EPS, out=union)
    return np.divide(inter, union, out=inter)


def giou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Generalised IoU (N,M) in [-1, 1]: IoU minus the empty share of the enclosing box."""
    a = np.asarray(a, np.float64).reshape(-1, 4)
    b = np.asarray(b, np.float64).reshape(-1, 4)
    inter = _overlap(a[:, 0], a[:, 2], b[:, 0], b[:, 2]) * _overlap(a[:, 1], a[:, 3], b[:, 1], b[:, 3])
    union = _area(a)[:, None] + _area(b)[None, :] - inter
    hull_w = np.maximum(a[:, None, 2], b[None, :, 2]) - np.minimum(a[:, None, 0], b[None, :, 0])
    hull_h = np.maximum(a[:, None, 3], b[None, :, 3]) - np.minimum(a[:, None, 1], b[None, :, 1])
    hull = hull_w * hull_h
    return inter / np.maximum(union, EPS) - (hull - union) / np.maximum(hull, EPS)


def iou_distance(tracks_xyxy: np.ndarray, dets_xyxy: np.ndarray) -> np.ndarray:
    return 1.0 - iou_matrix(tracks_xyxy, dets_xyxy)


def cosine_distance(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """1 - cosine similarity (N,M) of L2-normalised rows, in [0, 2]."""
    if len(a) == 0 or len(b) == 0:
        return np.zeros((len(a), len(b)))
    return np.clip(1.0 - np.asarray(a, np.float64) @ np.asarray(b, np.float64).T, 0.0, 2.0)


def gallery_distance(gallery: np.ndarray, counts: np.ndarray, features: np.ndarray) -> np.ndarray:
    """Smallest cosine distance (T,M) between each track's stored features and each detection.

    gallery: (T,K,D) features per track, of which the first ``counts[t]`` are filled.
    """
    t, k, d = gallery.shape
    if t == 0 or len(features) == 0:
        return np.zeros((t, len(features)))
    k = max(int(counts.max()), 1)  # slots past the fullest gallery are empty for everyone
    sim = (gallery[:, :k].reshape(t * k, d) @ np.asarray(features, gallery.dtype).T).reshape(t, k, -1)
    filled = np.arange(k)[None, :] < counts[:, None]
    sim = np.where(filled[:, :, None], sim, -np.inf)
    return np.clip(1.0 - sim.max(axis=1), 0.0, 2.0).astype(np.float64)


def fuse_score(cost: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """Weight an IoU distance by detection confidence: 1 - IoU * score (ByteTrack)."""
    return 1.0 - (1.0 - cost) * np.asarray(scores, np.float64)[None, :]


def gate(cost: np.ndarray, forbidden: np.ndarray) -> np.ndarray:
    """Return a copy of ``cost`` with forbidden pairs set to inf."""
    return np.where(forbidden, np.inf, cost)


def class_mismatch(track_classes: np.ndarray, det_classes: np.ndarray) -> np.ndarray:
    return np.asarray(track_classes)[:, None] != np.asarray(det_classes)[None, :]


def linear_assignment(cost: np.ndarray, threshold: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Minimum-cost one-to-one assignment keeping only pairs with cost <= threshold.

    Returns (matches (K,2) [row, col], unmatched rows, unmatched cols), all int64.
    Pairs above the threshold (or inf) are made infeasible before solving, so the
    solver never trades a good pair for a forbidden one.
    """
    rows, cols = cost.shape
    if rows == 0 or cols == 0:
        return np.zeros((0, 2), np.int64), np.arange(rows), np.arange(cols)
    feasible = np.isfinite(cost) & (cost <= threshold)
    big = threshold + 1.0 + (np.abs(cost[feasible]).sum() if feasible.any() else 0.0)
    r, c = linear_sum_assignment(np.where(feasible, cost, big))
    keep = feasible[r, c]
    matches = np.stack([r[keep], c[keep]], axis=1).astype(np.int64)
    unmatched_rows = np.setdiff1d(np.arange(rows), matches[:, 0])
    unmatched_cols = np.setdiff1d(np.arange(cols), matches[:, 1])
    return matches, unmatched_rows, unmatched_cols
