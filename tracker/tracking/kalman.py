"""Constant-velocity Kalman filter, vectorised over all tracks.

The filter is stateless in the style of nwojke/deep_sort: functions map
``(mean, cov) -> (mean, cov)`` for N tracks at once, ``mean`` (N,8) and ``cov``
(N,8,8). The state is a 4-d box measurement plus its velocity. Two
parameterisations are offered, each a :class:`StateLayout` in :data:`LAYOUTS` that owns
what depends on it (dimensions, box conversions, size coordinates, noise, warp pairs):

- ``xyah``: centre x, centre y, aspect ratio w/h, height (DeepSORT, ByteTrack)
- ``xywh``: centre x, centre y, width, height (BoT-SORT)

Velocities are in units per *second* and the time step ``dt`` is in seconds, so
the filter does not assume a frame rate. Process noise follows a random walk:
its variance grows linearly with ``dt``. Standard deviations scale with box size
(see :class:`tracker.config.KalmanConfig`).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from ..config import KalmanConfig

NDIM = 4  # measured box coordinates
# From this many tracks the Cholesky written out over all of them beats LAPACK's batched inverse
# (4x4 matrices: ~100 us of fixed cost against ~0.5 us a matrix; they cross near 200).
WRITTEN_OUT_INVERSE_MIN = 200
# NSA (StrongSORT): the measurement variance of a detection of confidence c is scaled by 1 - c; a
# detection at or above this confidence is trusted no more than this (scores of 1 and above, as some
# det.txt files have, would otherwise give a noise-free measurement).
NSA_MIN_SCALE = 0.05


def xyxy_to_xywh(boxes: np.ndarray) -> np.ndarray:
    boxes = np.asarray(boxes, np.float64)
    wh = boxes[:, 2:] - boxes[:, :2]
    return np.concatenate([boxes[:, :2] + wh / 2, wh], axis=1)


def xywh_to_xyxy(m: np.ndarray) -> np.ndarray:
    half = m[:, 2:4] / 2
    return np.concatenate([m[:, :2] - half, m[:, :2] + half], axis=1)


# xyah through xywh: whole-array steps cost less than building the four columns one by one
def xyxy_to_xyah(boxes: np.ndarray) -> np.ndarray:
    m = xyxy_to_xywh(boxes)
    m[:, 2] /= m[:, 3]  # aspect ratio = width / height
    return m


def xyah_to_xyxy(m: np.ndarray) -> np.ndarray:
    m = m[:, :4].copy()
    m[:, 2] *= m[:, 3]  # width = aspect ratio x height
    return xywh_to_xyxy(m)


class StateLayout:
    """One parameterisation of the box state: everything that depends on it, in one object.

    Its dimensions (``ndim`` measured coordinates, then their velocities), how an xyxy box
    becomes a measurement and back, which measured coordinates are box sizes (kept from
    shrinking through zero), how noise scales with the box (:attr:`scaled_by`), and which pairs
    of state coordinates an affine camera warp maps as 2-D vectors. One instance per state,
    as BoxMOT's ``xyah_kf.py`` / ``xywh_kf.py``: :data:`LAYOUTS`.
    """

    name: str
    ndim = NDIM
    size: slice
    # per measured coordinate: the measured coordinate (a box size) its noise is proportional to, or None
    # for a noise of fixed size (the aspect ratio's)
    scaled_by: tuple[int | None, ...]
    warp_pairs: tuple[tuple[int, int], ...]

    @property
    def dim(self) -> int:
        """State dimensions: the measured coordinates and their velocities."""
        return 2 * self.ndim

    def to_measurement(self, boxes_xyxy: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def to_xyxy(self, measurement: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def noise(self, *levels: tuple[float, float]) -> NoiseLevels:
        """Standard deviations of the measured coordinates for each ``(weight, aspect)`` level, side by side:
        ``weight`` times the box size, and ``aspect`` for an aspect-ratio coordinate."""
        scaled_by = [c for _ in levels for c in self.scaled_by]
        columns = [0 if c is None else c for c in scaled_by]
        factors = [w if c is not None else a for w, a in levels for c in self.scaled_by]
        fixed = [k for k, c in enumerate(scaled_by) if c is None]
        return NoiseLevels(np.array(columns), np.array(factors), np.array(fixed, np.int64))


@dataclass(frozen=True, eq=False)
class NoiseLevels:
    """Standard deviations (N,K) proportional to the box, ``m[:, columns] * factors``, except the ``fixed``
    ones, which are their factor; set up once (:meth:`StateLayout.noise`), applied every frame."""

    columns: np.ndarray  # (K,) the measured coordinate each standard deviation scales with
    factors: np.ndarray  # (K,) its weight, or for a fixed one the standard deviation itself
    fixed: np.ndarray  # indices of the fixed ones

    def __call__(self, m: np.ndarray) -> np.ndarray:
        """The standard deviations for the (N,>=4) measurements or states ``m``."""
        std = m[:, self.columns] * self.factors
        if len(self.fixed):
            std[:, self.fixed] = self.factors[self.fixed]
        return std


class Xyah(StateLayout):
    """Centre x, centre y, aspect ratio w/h, height (DeepSORT, ByteTrack); noise scales with the height."""

    name = "xyah"
    size = slice(3, 4)
    scaled_by = (3, 3, None, 3)
    warp_pairs = ((0, 1), (4, 5))  # centre and its velocity; the aspect ratio and height stay

    def to_measurement(self, boxes_xyxy: np.ndarray) -> np.ndarray:
        return xyxy_to_xyah(boxes_xyxy)

    def to_xyxy(self, measurement: np.ndarray) -> np.ndarray:
        return xyah_to_xyxy(measurement)


class Xywh(StateLayout):
    """Centre x, centre y, width, height (BoT-SORT); noise scales with the width and the height."""

    name = "xywh"
    size = slice(2, 4)
    scaled_by = (2, 3, 2, 3)
    warp_pairs = ((0, 1), (4, 5), (2, 3), (6, 7))  # centre, and the size is rotated / scaled too

    def to_measurement(self, boxes_xyxy: np.ndarray) -> np.ndarray:
        return xyxy_to_xywh(boxes_xyxy)

    def to_xyxy(self, measurement: np.ndarray) -> np.ndarray:
        return xywh_to_xyxy(measurement)


LAYOUTS: dict[str, StateLayout] = {layout.name: layout for layout in (Xyah(), Xywh())}


def per_second(cfg: KalmanConfig, fps: float) -> KalmanConfig:
    """``cfg`` with its noise per second; ``kalman.noise_unit: frame`` values are converted at ``fps``.

    A per-frame process standard deviation s (a random walk over one frame of 1 / fps seconds) is
    s * sqrt(fps) per sqrt(second); a velocity in units per frame is fps times that per second, so
    a per-frame velocity noise s becomes s * fps * sqrt(fps), and an initial velocity uncertainty
    s * fps. One step of 1 / fps seconds then adds exactly the per-frame noise the papers' filters
    add. Initial uncertainties are no rates: a position's stays, a velocity's is fps times its per-frame value.
    """
    if cfg.noise_unit == "second":
        return cfg
    root = np.sqrt(fps)
    return cfg.model_copy(update={
        "std_position": cfg.std_position * root, "std_velocity": cfg.std_velocity * fps * root,
        "std_aspect": cfg.std_aspect * root, "std_aspect_velocity": cfg.std_aspect_velocity * fps * root,
        "init_std_velocity": cfg.init_std_velocity * fps,
        "init_std_aspect_velocity": cfg.init_std_aspect_velocity * fps, "noise_unit": "second",
    })  # fmt: skip


@dataclass(frozen=True)
class StateSpace:
    """The filter's state layout (``kalman.state``) and its box-size-relative noise levels."""

    cfg: KalmanConfig

    @cached_property
    def layout(self) -> StateLayout:
        return LAYOUTS[self.cfg.state]

    @property
    def name(self) -> str:
        return self.cfg.state

    def to_measurement(self, boxes_xyxy: np.ndarray) -> np.ndarray:
        return self.layout.to_measurement(boxes_xyxy)

    def to_xyxy(self, measurement: np.ndarray) -> np.ndarray:
        return self.layout.to_xyxy(measurement)

    @cached_property
    def process_std(self) -> NoiseLevels:
        """Per-second standard deviations of the process noise (N,8) of states (N,8)."""
        c = self.cfg
        return self.layout.noise((c.std_position, c.std_aspect), (c.std_velocity, c.std_aspect_velocity))

    @cached_property
    def measurement_std(self) -> NoiseLevels:
        """Standard deviations of the measurement noise (N,4) of states (N,8)."""
        return self.layout.noise((self.cfg.std_measurement, self.cfg.std_aspect_measurement))

    @cached_property
    def initial_std(self) -> NoiseLevels:
        """Standard deviations (N,8) of the state a measurement (N,4) starts."""
        c = self.cfg
        return self.layout.noise(
            (c.init_std_position, c.init_std_aspect), (c.init_std_velocity, c.init_std_aspect_velocity)
        )


class KalmanFilter:
    """Vectorised constant-velocity Kalman filter over N tracks."""

    def __init__(self, space: StateSpace):
        self.space = space
        self.ndim = space.layout.ndim

    def initiate(self, measurement: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        n = self.ndim
        measurement = np.asarray(measurement, np.float64).reshape(-1, n)
        mean = np.concatenate([measurement, np.zeros_like(measurement)], axis=1)
        cov = np.zeros((len(mean), 2 * n, 2 * n))
        _diagonals(cov)[:] = self.space.initial_std(measurement) ** 2
        return mean, cov

    def predict(self, mean: np.ndarray, cov: np.ndarray, dt) -> tuple[np.ndarray, np.ndarray]:
        """Advance every track by ``dt`` seconds (a scalar or one value per track)."""
        n = self.ndim
        if len(mean) == 0:
            return mean, cov
        if np.ndim(dt):  # one step per track: a column for the rows of the mean, a stack for the covariance blocks
            dt = np.asarray(dt, np.float64)
            dt, t = dt[:, None], dt[:, None, None]
        else:
            dt = t = float(dt)
        q = self.space.process_std(mean) ** 2 * dt
        mean = mean.copy()
        mean[:, :n] += dt * mean[:, n:]
        # F P F^T for F = [[I, dt I], [0, I]], written blockwise.
        a, b = cov[:, :n, :n], cov[:, :n, n:]
        c, d = cov[:, n:, :n], cov[:, n:, n:]
        td = t * d
        new = np.empty(cov.shape, cov.dtype)
        new[:, :n, :n] = a + t * (b + c) + t * t * d
        new[:, :n, n:] = b + td
        new[:, n:, :n] = c + td
        new[:, n:, n:] = d
        _diagonals(new)[:] += q
        return mean, new

    def project(self, mean: np.ndarray, cov: np.ndarray, noise_scale: np.ndarray | None = None
                ) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
        """Predicted measurement and its covariance (N,4), (N,4,4), measurement noise included
        (its variance times ``noise_scale`` (N,) when given)."""
        n = self.ndim
        r = self.space.measurement_std(mean) ** 2
        if noise_scale is not None:
            r = r * np.asarray(noise_scale, np.float64)[:, None]
        s = cov[:, :n, :n].copy()
        _diagonals(s)[:] += r
        return mean[:, :n].copy(), s

    def update(self, mean: np.ndarray, cov: np.ndarray, measurement: np.ndarray,
               noise_scale: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
        """Correct each track i with measurement i (rows paired); ``noise_scale`` (N,) multiplies the
        measurement variance of each (see :func:`nsa_scale`)."""
        n = self.ndim
        if len(mean) == 0:
            return mean, cov
        z, s = self.project(mean, cov, noise_scale)
        hp = cov[:, :n, :]  # H P, (N,4,8); P H^T is its transpose (P is symmetric)
        # K = P H^T S^-1; S is symmetric so K^T = S^-1 H P.
        gain = np.swapaxes(_inverse_spd(s) @ hp, 1, 2)
        innovation = np.asarray(measurement, np.float64) - z
        mean = mean + (gain @ innovation[:, :, None])[:, :, 0]
        cov = cov - gain @ hp  # K S K^T, with K S = P H^T
        # P - K S K^T is symmetric in exact arithmetic only; after extreme size jumps the
        # rounding error grows, so restore the symmetry every gating step relies on.
        cov = 0.5 * (cov + np.swapaxes(cov, 1, 2))
        return mean, cov

    def gating_distance(self, mean: np.ndarray, cov: np.ndarray, measurements: np.ndarray) -> np.ndarray:
        """Squared Mahalanobis distance (N_tracks, M) between every track and every measurement."""
        n = self.ndim
        measurements = np.asarray(measurements, np.float64).reshape(-1, n)
        if len(mean) == 0 or len(measurements) == 0:
            return np.zeros((len(mean), len(measurements)))
        z, s = self.project(mean, cov)
        chol = np.linalg.cholesky(s)  # (N,4,4)
        diff = measurements[None, :, :] - z[:, None, :]  # (N,M,4)
        # Solve L y = diff^T for every track at once: (N,4,M)
        y = np.linalg.solve(chol, np.swapaxes(diff, 1, 2))
        return np.sum(y * y, axis=1)


def reupdate(kf: KalmanFilter, mean: np.ndarray, cov: np.ndarray, z_from: np.ndarray, z_to: np.ndarray,
             steps: np.ndarray, dt: float, noise_scale: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """OC-SORT's observation-centric re-update (ORU) of tracks found again after a gap.

    ``mean``, ``cov``: each track's state right after its last observation ``z_from``; ``z_to``: the
    observation that ends the gap, ``steps`` (>= 1) frames of ``dt`` seconds later. The filter is run
    again over the gap on observations interpolated linearly from ``z_from`` to ``z_to`` (the last one
    is ``z_to``, with ``noise_scale``), so the velocity learnt is the one the two observations imply
    rather than the drift of predicting blind. One loop over the gap's frames, all tracks at once.
    """
    mean, cov = mean.copy(), cov.copy()
    steps = np.asarray(steps, np.int64)
    for j in range(1, int(steps.max(initial=0)) + 1):
        rows = np.flatnonzero(steps >= j)
        m, c = kf.predict(mean[rows], cov[rows], dt)
        frac = (j / steps[rows])[:, None]
        z = z_from[rows] + frac * (z_to[rows] - z_from[rows])
        scale = None
        if noise_scale is not None:
            scale = np.where(steps[rows] == j, noise_scale[rows], 1.0)
        mean[rows], cov[rows] = kf.update(m, c, z, scale)
    return mean, cov


def nsa_scale(confidence: np.ndarray) -> np.ndarray:
    """Measurement variance factor of detections of ``confidence`` (NSA Kalman, StrongSORT): ``1 - c``,
    kept within [NSA_MIN_SCALE, 1] so scores outside 0..1 stay meaningful."""
    return np.clip(1.0 - np.asarray(confidence, np.float64), NSA_MIN_SCALE, 1.0)


def _diagonals(a: np.ndarray) -> np.ndarray:
    """(N,d) view of the diagonals of a C-contiguous stack of square matrices ``a`` (N,d,d)."""
    return a.reshape(len(a), a.shape[1] * a.shape[2])[:, :: a.shape[1] + 1]


def _inverse_spd(s: np.ndarray) -> np.ndarray:
    """Inverse of N symmetric positive definite matrices ``s`` (N,d,d) with d small.

    Cholesky ``s = L L^T`` and ``L^-1`` written out entry by entry over the N matrices at
    once, then ``s^-1 = L^-T L^-1``: on a thousand tracks the batched LAPACK solve pays
    about a microsecond per matrix, this a few dozen array operations in all. Below
    WRITTEN_OUT_INVERSE_MIN matrices those few dozen operations cost more: LAPACK then.
    """
    if len(s) < WRITTEN_OUT_INVERSE_MIN:
        return np.linalg.inv(s)
    d = s.shape[1]
    entries = np.ascontiguousarray(np.moveaxis(s, 0, -1))  # (d,d,N): each entry a contiguous array
    low = [[None] * d for _ in range(d)]
    for i in range(d):
        for j in range(i + 1):
            acc = entries[i, j] - sum(low[i][k] * low[j][k] for k in range(j))
            low[i][j] = np.sqrt(acc) if i == j else acc / low[j][j]
    inv = np.zeros_like(entries)  # L^-1, lower triangular
    for i in range(d):
        inv[i, i] = 1.0 / low[i][i]
        for j in range(i):
            inv[i, j] = -sum(low[i][k] * inv[k, j] for k in range(j, i)) * inv[i, i]
    inv = np.moveaxis(inv, -1, 0)
    return np.swapaxes(inv, 1, 2) @ inv
