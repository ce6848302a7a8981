"""What every embedder shares: unit-length features."""

from __future__ import annotations

import numpy as np

NORM_EPS = 1e-12  # floor of a vector norm, so an all-zero feature stays finite


def l2_normalise(features: np.ndarray) -> np.ndarray:
    """Rows of ``features`` scaled to unit length, as contiguous float32."""
    features = np.asarray(features, np.float32)
    norms = np.linalg.norm(features, axis=1, keepdims=True)
    return np.ascontiguousarray(features / np.maximum(norms, NORM_EPS), dtype=np.float32)


def flip_average(unit: np.ndarray, mirrored: np.ndarray) -> np.ndarray:
    """Unit vectors of the mean of a crop's and its mirror image's unit vectors (test-time flip averaging)."""
    return l2_normalise(unit + mirrored)
