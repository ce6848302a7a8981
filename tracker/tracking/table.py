"""The live tracks of a tracker, as one table of parallel numpy arrays (struct of arrays).

:class:`TrackTable` declares each column once, by an empty array that gives its dtype and
trailing shape; :meth:`~TrackTable.append` adds rows to every column and
:meth:`~TrackTable.select` keeps rows of all of them, so no column can be forgotten when
tracks are born or removed. A column may be a part: a nested table kept row-aligned with
this one, such as the :class:`FeatureBank` of appearance features.
"""

from __future__ import annotations

import numpy as np

from .association import lengths


class TrackTable:
    """Rows of parallel arrays, one row per track; columns are attributes (``table.mean``)."""

    def __init__(self, **columns: np.ndarray | TrackTable):
        self._names = list(columns)
        for name, column in columns.items():
            setattr(self, name, column)

    def __len__(self) -> int:
        return len(getattr(self, self._names[0]))

    @property
    def nbytes(self) -> int:
        """Bytes held by every column, parts included."""
        return sum(getattr(self, name).nbytes for name in self._names)

    def add_column(self, name: str, column: np.ndarray) -> None:
        """Declare a column after the fact, with one row per track so far."""
        self._names.append(name)
        setattr(self, name, column)

    def append(self, **rows) -> None:
        """Add rows: ``rows[name]`` for every column, or for a part the keyword arguments of its ``append``."""
        for name in self._names:
            column = getattr(self, name)
            if isinstance(column, TrackTable):
                column.append(**rows[name])
            else:
                setattr(self, name, np.concatenate([column, np.asarray(rows[name], column.dtype)]))

    def select(self, mask: np.ndarray) -> None:
        """Keep the rows where ``mask`` is True (or those an index array names), in every column and part."""
        for name in self._names:
            column = getattr(self, name)
            if isinstance(column, TrackTable):
                column.select(mask)
            else:
                setattr(self, name, column[mask])


class FeatureBank(TrackTable):
    """Appearance memory of every track.

    ``budget == 1`` with ``ema_alpha`` keeps one exponentially smoothed feature
    (BoT-SORT); ``budget > 1`` keeps a ring buffer of the latest features
    (DeepSORT's gallery). ``alpha == 0`` with budget 1 keeps the latest feature.
    A track may have no feature yet (``known`` is False): trackers that embed on
    demand start some tracks without one.
    """

    def __init__(self, budget: int, ema_alpha: float = 0.0):
        super().__init__(
            counts=np.zeros(0, np.int64),  # filled slots per track
            cursor=np.zeros(0, np.int64),  # next slot to write per track
            stamp=np.zeros(0, np.int64),  # frame of each track's latest feature
        )
        self.budget = budget
        self.alpha = ema_alpha
        self.gallery: np.ndarray | None = None  # (T,K,D): a column from the first feature on

    @property
    def ready(self) -> bool:
        return self.gallery is not None

    @property
    def known(self) -> np.ndarray:
        """(T,) whether each track has at least one feature."""
        return self.counts > 0

    @property
    def smoothed(self) -> np.ndarray:
        """(T,D) the single feature of each track (budget 1)."""
        return self.gallery[:, 0, :]

    def append(self, known: np.ndarray, features: np.ndarray | None = None, frame: int = 0) -> None:
        """Add a track for each entry of ``known``: where it is True with its row of ``features`` as first
        feature, elsewhere without a feature."""
        n = len(known)
        if features is not None:
            self._ensure_gallery(features.shape[1])
        rows = dict(counts=known.astype(np.int64), cursor=known.astype(np.int64) % self.budget,
                    stamp=np.full(n, frame, np.int64))  # fmt: skip
        if self.gallery is not None:
            gallery = np.zeros((n,) + self.gallery.shape[1:], np.float32)
            if features is not None:
                gallery[known, 0] = features[known]
            rows["gallery"] = gallery
        super().append(**rows)

    def _ensure_gallery(self, dim: int) -> None:
        """Allocate the (T,budget,dim) gallery, empty for the tracks so far, on the first feature seen."""
        if self.gallery is None:
            self.add_column("gallery", np.zeros((len(self), self.budget, dim), np.float32))

    def update(self, rows: np.ndarray, features: np.ndarray | None, frame: int = 0) -> None:
        if features is None or len(rows) == 0:
            return
        self._ensure_gallery(features.shape[1])  # every track so far may have been born without a feature
        self.stamp[rows] = frame
        if self.budget == 1:
            old = self.gallery[rows, 0]
            fresh = self.counts[rows] == 0
            mixed = self.alpha * old + (1.0 - self.alpha) * features
            mixed[fresh] = features[fresh]
            mixed /= np.maximum(lengths(mixed, keepdims=True), 1e-12)
            self.gallery[rows, 0] = mixed
            self.counts[rows] = 1
            return
        self.gallery[rows, self.cursor[rows]] = features
        self.cursor[rows] = (self.cursor[rows] + 1) % self.budget
        self.counts[rows] = np.minimum(self.counts[rows] + 1, self.budget)
