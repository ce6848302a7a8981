"""Camera motion compensation (CMC).

Estimates the 2x3 affine warp that maps the previous frame onto the current one
(sparse optical flow, ECC or ORB matching) and applies it to every track state
at once. A frame where the motion cannot be estimated falls back to the identity
warp; the failure is logged once and counted in ``failures``, never hidden.

``auto`` switches itself on when the camera moves: it tracks corners with sparse
optical flow as ``sparse`` does, and when a good share of them has not moved at all
(a static camera: background stays put however many people walk by) it returns
the identity instead of a warp fitted to whatever moves. Then a user never has to
know whether their camera moves, and a static camera's tracks never get the noise
of a warp fitted to a crowd. The decision is made per frame from the flow itself;
a frame whose flow cannot be measured is a failure like any other.
"""

from __future__ import annotations

import logging

import cv2
import numpy as np

from ..config import CMCConfig
from .kalman import StateLayout

log = logging.getLogger(__name__)

IDENTITY = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
MIN_POINTS = 4  # fewest point pairs for a partial affine estimate we trust
GFTT_QUALITY = 0.01  # goodFeaturesToTrack quality level relative to the best corner
GFTT_MIN_DISTANCE = 1  # pixels between corners
ORB_RATIO = 0.9  # Lowe ratio test for ORB matches
# auto: a corner moved less than this (pixels of the downscaled frame, about LK's noise) is still; with
# at least this share of still corners the camera is static. Measured on the dev sequences: static
# cameras keep 0.5-0.9 of their corners still in almost every frame, the hand-held MOT16-11 about none.
STILL_PX = 0.25
STATIC_SHARE = 0.25


class CameraMotion:
    """Stateful estimator: call :meth:`estimate` once per frame with the BGR image."""

    def __init__(self, cfg: CMCConfig):
        self.cfg = cfg
        self.failures = 0
        self.moving_frames = 0  # auto: frames judged to come from a moving camera (their warp is applied)
        self._prev_gray: np.ndarray | None = None
        self._prev_points: np.ndarray | None = None
        self._prev_kp = None
        self._prev_desc = None
        self._orb = cv2.ORB_create(cfg.max_features) if cfg.method == "orb" else None
        self._matcher = cv2.BFMatcher(cv2.NORM_HAMMING) if cfg.method == "orb" else None

    @property
    def enabled(self) -> bool:
        return self.cfg.method != "none"

    def _gray(self, image: np.ndarray) -> np.ndarray:
        gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) if image.ndim == 3 else image
        s = self.cfg.downscale
        if s > 1:
            gray = cv2.resize(gray, (gray.shape[1] // s, gray.shape[0] // s), interpolation=cv2.INTER_AREA)
        return gray

    def _fail(self, reason: str) -> np.ndarray:
        if self.failures == 0:
            log.warning("camera motion could not be estimated (%s); using no motion for such frames", reason)
        self.failures += 1
        return IDENTITY.copy()

    def _upscale(self, warp: np.ndarray) -> np.ndarray:
        warp = warp.astype(np.float64).copy()
        warp[:, 2] *= self.cfg.downscale
        return warp

    def estimate(self, image: np.ndarray) -> np.ndarray:
        """Warp (2x3) from the previous frame to this one; identity on the first frame."""
        if not self.enabled:
            return IDENTITY.copy()
        gray = self._gray(image)
        prev, self._prev_gray = self._prev_gray, gray
        if self.cfg.method in ("sparse", "auto"):
            return self._sparse(prev, gray)
        if self.cfg.method == "orb":
            return self._orb_match(gray)
        return self._ecc(prev, gray)

    def _sparse(self, prev: np.ndarray | None, gray: np.ndarray) -> np.ndarray:
        prev_points = self._prev_points
        self._prev_points = cv2.goodFeaturesToTrack(
            gray, maxCorners=self.cfg.max_features, qualityLevel=GFTT_QUALITY, minDistance=GFTT_MIN_DISTANCE
        )
        if prev is None:
            return IDENTITY.copy()
        if prev_points is None or len(prev_points) < MIN_POINTS:
            return self._fail("too few corners")
        points, status, _ = cv2.calcOpticalFlowPyrLK(prev, gray, prev_points, None)
        ok = status.ravel() == 1
        if self.cfg.method == "auto":
            if camera_is_static(prev_points[ok], points[ok]):
                return IDENTITY.copy()
            self.moving_frames += 1
        return self._fit(prev_points[ok], points[ok])

    def _orb_match(self, gray: np.ndarray) -> np.ndarray:
        kp, desc = self._orb.detectAndCompute(gray, None)
        prev_kp, prev_desc = self._prev_kp, self._prev_desc
        self._prev_kp, self._prev_desc = kp, desc
        if prev_kp is None:
            return IDENTITY.copy()
        if desc is None or prev_desc is None or len(kp) < MIN_POINTS or len(prev_kp) < MIN_POINTS:
            return self._fail("too few ORB keypoints")
        pairs = self._matcher.knnMatch(prev_desc, desc, k=2)
        good = [p[0] for p in pairs if len(p) == 2 and p[0].distance < ORB_RATIO * p[1].distance]
        src = np.float32([prev_kp[m.queryIdx].pt for m in good])
        dst = np.float32([kp[m.trainIdx].pt for m in good])
        return self._fit(src, dst)

    def _ecc(self, prev: np.ndarray | None, gray: np.ndarray) -> np.ndarray:
        if prev is None:
            return IDENTITY.copy()
        warp = np.eye(2, 3, dtype=np.float32)
        criteria = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, self.cfg.ecc_iterations, self.cfg.ecc_eps)
        try:
            _, warp = cv2.findTransformECC(prev, gray, warp, cv2.MOTION_EUCLIDEAN, criteria, None, 1)
        except cv2.error as exc:  # ECC did not converge on this pair of frames
            return self._fail(f"ECC: {str(exc).strip().splitlines()[-1]}")
        # With the previous frame as template, the warp maps previous coordinates to current ones.
        return self._upscale(warp)

    def _fit(self, src: np.ndarray, dst: np.ndarray) -> np.ndarray:
        if len(src) < MIN_POINTS:
            return self._fail("too few matched points")
        warp, inliers = cv2.estimateAffinePartial2D(src, dst, method=cv2.RANSAC)
        if warp is None:
            return self._fail("RANSAC found no consistent motion")
        return self._upscale(warp)


def camera_is_static(src: np.ndarray, dst: np.ndarray) -> bool:
    """Whether corners tracked from ``src`` to ``dst`` ((K,1,2) or (K,2)) say the camera did not move: at
    least STATIC_SHARE of them moved less than STILL_PX. Too few corners to tell: not static (the warp
    fit then fails and says so)."""
    if len(src) < MIN_POINTS:
        return False
    src = np.asarray(src, np.float64).reshape(-1, 2)
    moved = np.linalg.norm(np.asarray(dst, np.float64).reshape(-1, 2) - src, axis=1)
    return bool(np.mean(moved < STILL_PX) >= STATIC_SHARE)


def warp_boxes(boxes: np.ndarray, warp: np.ndarray) -> np.ndarray:
    """xyxy ``boxes`` (N,4) moved by an affine camera warp (2x3): corners mapped, then the box around them."""
    if len(boxes) == 0:
        return boxes
    corners = warp_points(boxes[:, [0, 1, 2, 1, 0, 3, 2, 3]].reshape(-1, 4, 2), warp)  # (N,4 corners,2)
    return np.concatenate([corners.min(axis=1), corners.max(axis=1)], axis=1)


def warp_points(points: np.ndarray, warp: np.ndarray) -> np.ndarray:
    """Points (..., 2) moved by an affine camera warp (2x3); nan stays nan."""
    return np.asarray(points, np.float64) @ np.asarray(warp[:, :2], np.float64).T + np.asarray(warp[:, 2], np.float64)


def apply_warp(
    mean: np.ndarray, cov: np.ndarray, warp: np.ndarray, layout: StateLayout
) -> tuple[np.ndarray, np.ndarray]:
    """Move all track states by an affine camera warp (2x3).

    Centre positions get the full affine map; the other pairs of ``layout.warp_pairs``
    (velocities; for the ``xywh`` state the width/height pair and its velocity) the
    linear part.
    """
    if len(mean) == 0:
        return mean, cov
    a = np.asarray(warp[:, :2], np.float64)
    t = np.asarray(warp[:, 2], np.float64)
    r = np.eye(layout.dim)
    for i, j in layout.warp_pairs:
        r[np.ix_([i, j], [i, j])] = a
    mean = mean @ r.T
    mean[:, :2] += t
    cov = r @ cov @ r.T
    return mean, cov
