"""Controlling a run over a source: stop signals held between whole frames, frame batches, the progress bar.

Shared by the tracking run (:func:`tracker.pipeline.run`) and the detection cache
(:func:`tracker.detect.caching.cache_detections`).
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np

from .errors import ConfigError


def batches(frames, size: int) -> Iterator[list]:
    """``frames`` in lists of ``size`` (the last one shorter), for detectors that take batches."""
    batch = []
    for frame in frames:
        batch.append(frame)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def check_max_frames(max_frames: int | None) -> None:
    """A ConfigError unless ``max_frames`` is None or a whole number of at least 1."""
    if max_frames is None:
        return
    if isinstance(max_frames, bool) or not isinstance(max_frames, (int, np.integer)) or max_frames < 1:
        raise ConfigError(f"max_frames must be a whole number of at least 1, got {max_frames!r}", "Pass e.g. 100")


STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class StopSignals:
    """SIGINT and SIGTERM stop a run as KeyboardInterrupt, but never in the middle of a :meth:`deferred` block.

    A context manager that installs the handlers (main thread only; elsewhere signals
    are left alone) and restores the previous ones on exit.
    """

    def __init__(self):
        self._deferring = False
        self._pending: int | None = None
        self._previous: dict[int, object] = {}

    def _handle(self, signum, frame) -> None:
        if self._deferring:
            self._pending = signum
            return
        raise KeyboardInterrupt(f"signal {signum}")

    def __enter__(self) -> StopSignals:
        try:
            for signum in STOP_SIGNALS:
                self._previous[signum] = signal.signal(signum, self._handle)
        except ValueError:  # not the main thread: signals are not ours to handle
            self.__exit__()
        return self

    def __exit__(self, *exc) -> None:
        for signum, previous in self._previous.items():
            signal.signal(signum, previous)
        self._previous.clear()

    @contextmanager
    def deferred(self, raise_after: bool = True):
        """Hold stop signals until the block ends; then raise KeyboardInterrupt (or, with
        ``raise_after=False``, forget them: the run is ending anyway)."""
        self._deferring = True
        try:
            yield
        finally:
            self._deferring = False
        pending, self._pending = self._pending, None
        if pending is not None and raise_after:
            raise KeyboardInterrupt(f"signal {pending}")


def progress_bar(info, enabled: bool, max_frames: int | None = None):
    """A tqdm bar over the frames the run will process (None when disabled)."""
    if not enabled:
        return None
    from tqdm import tqdm

    total = info.processed_frames
    if max_frames is not None:
        total = max_frames if total is None else min(total, max_frames)
    return tqdm(total=total, unit="frame", desc=info.name, dynamic_ncols=True, leave=True)
