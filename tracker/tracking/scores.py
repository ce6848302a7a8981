"""Detection scores relative to what the detector gives, so one set of thresholds fits any detector.

Detectors disagree on what a score means: YOLOX-Nano gives people 0.7-0.9, a YOLOv8s fine-tuned on
falls stays below 0.6, MOTChallenge det.txt files hold DPM scores (-0.5 to 4) or ACF scores (0 to 85).
An absolute threshold right for one is wrong for the others. :class:`ScoreScale` divides each score
by a high quantile of the scores the detector has given so far in this video (a running reference of
"a confident detection"), capped at 1: thresholds then read as fractions of that
(``tracker.score_scale: relative``).
"""

from __future__ import annotations

import math

import numpy as np

# Scores remembered for the reference: the latest this many (a few hundred frames of a busy scene).
SCORE_WINDOW = 4096


def quantile(values: np.ndarray, q: float) -> float:
    """``np.quantile(values, q)`` of finite float64 ``values`` (default, linear rule), to the bit, by one partition:
    np.quantile's general machinery (axes, NaNs, methods) costs ~30 us on a frame's few thousand scores, a tenth
    of a frame of 10 objects. Its rule: the value at fractional position ``(n - 1) * q`` of the sorted values,
    interpolated between its two neighbours, from the nearer one."""
    top = len(values) - 1
    position = top * q
    if position >= top:
        return float(values.max())
    lo = math.floor(position)
    below, above = np.partition(values, (lo, lo + 1))[lo : lo + 2]
    gamma = position - lo
    step = above - below
    return float(above - step * (1 - gamma) if gamma >= 0.5 else below + step * gamma)


class ScoreScale:
    """Running ``quantile`` of the latest scores; :meth:`__call__` adds a frame's and rescales them."""

    def __init__(self, quantile: float, window: int = SCORE_WINDOW):
        self.quantile = quantile
        self.memory = np.zeros(window, np.float64)
        self.seen = 0

    def reference(self) -> float:
        """The current reference score (the quantile of those remembered); 1 before any score."""
        filled = self.memory[: min(self.seen, len(self.memory))]
        return quantile(filled, self.quantile) if len(filled) else 1.0

    def __call__(self, scores: np.ndarray) -> np.ndarray:
        scores = np.asarray(scores)
        if len(scores) == 0:
            return scores
        slots = (self.seen + np.arange(len(scores))) % len(self.memory)
        self.memory[slots[-len(self.memory) :]] = scores[-len(self.memory) :]
        self.seen += len(scores)
        ref = self.reference()
        if not ref > 0:  # every score so far non-positive: nothing to scale by
            return scores
        return np.minimum(scores / ref, 1.0).astype(scores.dtype)
