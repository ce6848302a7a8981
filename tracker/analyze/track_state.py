"""Per-track accumulators keyed by track id, for consumers of each frame's Tracks (summary.csv, counting)."""

from __future__ import annotations

import numpy as np


class TrackState:
    """Per-track state in growing numpy columns, one row per track id ever seen.

    ``rows(ids)`` maps a frame's ids to rows, adding rows for new ids (vectorised:
    a sorted id array and ``searchsorted``), so accumulators update whole frames at once.
    """

    INITIAL_ROWS = 64  # capacity of a new table; doubles when full

    def __init__(self, **columns: tuple[tuple[int, ...], type, object]):
        """columns: ``name=(shape_tail, dtype, fill)``, e.g. ``last_xy=((2,), np.float64, np.nan)``."""
        self._spec = columns
        self._columns = {
            name: np.full((self.INITIAL_ROWS, *tail), fill, dtype) for name, (tail, dtype, fill) in columns.items()
        }
        self._ids = np.zeros(self.INITIAL_ROWS, np.int64)  # track id of each row
        self._sorted_ids = np.zeros(0, np.int64)
        self._sorted_rows = np.zeros(0, np.int64)
        self.size = 0

    def __len__(self) -> int:
        return self.size

    @property
    def ids(self) -> np.ndarray:
        """Track id of each row, in order of first appearance."""
        return self._ids[: self.size]

    def __getitem__(self, name: str) -> np.ndarray:
        """The column ``name`` (all rows, writable view)."""
        return self._columns[name][: self.size]

    def column(self, name: str) -> np.ndarray:
        """The whole backing array of ``name`` (capacity rows), for fancy-indexed updates by ``rows``."""
        return self._columns[name]

    def rows(self, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(rows, is_new) for ``ids`` (unique within a call); unseen ids get new rows filled with defaults."""
        ids = np.asarray(ids, np.int64).reshape(-1)
        n_known = len(self._sorted_ids)
        pos = np.searchsorted(self._sorted_ids, ids)
        found = pos < n_known
        found[found] = self._sorted_ids[pos[found]] == ids[found]
        rows = np.empty(len(ids), np.int64)
        rows[found] = self._sorted_rows[pos[found]]
        new = ~found
        n_new = int(new.sum())
        if n_new:
            fresh = np.arange(self.size, self.size + n_new)
            rows[new] = fresh
            self._reserve(self.size + n_new)
            self._ids[fresh] = ids[new]
            self.size += n_new
            all_ids = np.concatenate([self._sorted_ids, ids[new]])
            order = np.argsort(all_ids, kind="stable")
            self._sorted_ids = all_ids[order]
            self._sorted_rows = np.concatenate([self._sorted_rows, fresh])[order]
        return rows, new

    def _reserve(self, n: int) -> None:
        capacity = len(self._ids)
        if n <= capacity:
            return
        while capacity < n:
            capacity *= 2
        for name, (tail, dtype, fill) in self._spec.items():
            grown = np.full((capacity, *tail), fill, dtype)
            grown[: self.size] = self._columns[name][: self.size]
            self._columns[name] = grown
        ids = np.zeros(capacity, np.int64)
        ids[: self.size] = self._ids[: self.size]
        self._ids = ids
