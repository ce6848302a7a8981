"""Association: cost matrices built in one shot, gating, and optimal assignment.

All functions are pure numpy over whole arrays. Costs are distances (lower is
better); ``np.inf`` marks a pair that must never match.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import linear_sum_assignment

EPS = 1e-9  # guards divisions by zero areas


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU (N,M) between xyxy boxes ``a`` (N,4) and ``b`` (M,4)."""
    a = np.asarray(a, np.float64).reshape(-1, 4)
    b = np.asarray(b, np.float64).reshape(-1, 4)
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    wh = np.clip(rb - lt, 0, None)
    inter = wh[..., 0] * wh[..., 1]
    area_a = np.prod(np.clip(a[:, 2:] - a[:, :2], 0, None), axis=1)
    area_b = np.prod(np.clip(b[:, 2:] - b[:, :2], 0, None), axis=1)
    union = area_a[:, None] + area_b[None, :] - inter
    return inter / np.maximum(union, EPS)


def giou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Generalised IoU (N,M) in [-1, 1]: IoU minus the empty share of the enclosing box."""
    a = np.asarray(a, np.float64).reshape(-1, 4)
    b = np.asarray(b, np.float64).reshape(-1, 4)
    iou = iou_matrix(a, b)
    area_a = np.prod(np.clip(a[:, 2:] - a[:, :2], 0, None), axis=1)
    area_b = np.prod(np.clip(b[:, 2:] - b[:, :2], 0, None), axis=1)
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.prod(np.clip(rb - lt, 0, None), axis=2)
    union = area_a[:, None] + area_b[None, :] - inter
    hull = np.prod(np.maximum(a[:, None, 2:], b[None, :, 2:]) - np.minimum(a[:, None, :2], b[None, :, :2]), axis=2)
    return iou - (hull - union) / np.maximum(hull, EPS)


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
    t, k, _ = gallery.shape
    if t == 0 or len(features) == 0:
        return np.zeros((t, len(features)))
    dist = 1.0 - np.einsum("tkd,md->tkm", gallery, features)
    filled = np.arange(k)[None, :] < counts[:, None]
    dist = np.where(filled[:, :, None], dist, np.inf)
    return np.clip(dist.min(axis=1), 0.0, 2.0)


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
