"""A pipeline stage: a producer generator run in its own thread, feeding a bounded queue.

The pipeline overlaps its stages with threads (decoding in :mod:`.sources`; detection and
appearance embedding here; tracking and writing in the caller's thread). onnxruntime,
OpenCV and torch release the GIL while they compute, so the threads run in parallel.

A :class:`Stage` keeps the guarantees of running the producer in the caller's thread:

- items come out in the order the producer yields them;
- an exception raised by the producer is raised by the consumer (the same object, so the
  same type and message) after every item produced before it;
- the queue is bounded, so a slow consumer holds the producer back and memory stays flat;
- :meth:`Stage.close` stops the thread however the consumer ends (end of input, an
  exception, an early ``break``): the producer finishes the item it is working on, its
  generator is closed in its own thread, and ``close`` waits for it.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Generic, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")

POLL_S = 0.1  # how often a producer blocked on a full queue re-checks the stop flag
JOIN_TIMEOUT_S = 60.0  # close(): how long to wait for the item in progress (one detector call)


class _End:
    """Queue item: the producer finished."""


@dataclass
class _Failure:
    """Queue item: the producer raised ``error``; the consumer re-raises it."""

    error: BaseException


_END = _End()


class Stage(Generic[T]):
    """Iterator over the items of ``produce()``, which runs in a daemon thread named ``name``.

    ``produce`` is called once, in the thread, and must return an iterator (normally a
    generator, whose ``finally`` then runs in the thread too). ``queue_size`` items at most
    wait between the two threads. Use as a context manager, or call :meth:`close`.
    """

    def __init__(
        self,
        name: str,
        produce: Callable[[], Iterator[T]],
        queue_size: int,
        *,
        drop_oldest: bool = False,
        on_drop: Callable[[], None] | None = None,
        stop: threading.Event | None = None,
        join_timeout_s: float = JOIN_TIMEOUT_S,
    ):
        """drop_oldest: a full queue drops its oldest item for the new one instead of holding the
        producer back (live sources: latency stays bounded), calling ``on_drop`` each time.
        stop: an event shared with the producer, set when the stage is asked to stop (e.g. so a
        stream reader waiting to reconnect gives up at once)."""
        if queue_size < 1:
            raise ValueError(f"queue_size must be at least 1, got {queue_size}")
        self.name = name
        self._produce = produce
        self._queue: queue.Queue = queue.Queue(maxsize=queue_size)
        self._stop = stop if stop is not None else threading.Event()
        self._drop_oldest = drop_oldest
        self._on_drop = on_drop
        self._join_timeout_s = join_timeout_s
        self._finished = False
        self._closed = False
        self._thread = threading.Thread(target=self._run, name=f"tracker-{name}", daemon=True)
        self._thread.start()

    # consumer side -------------------------------------------------------------
    def __iter__(self) -> Stage[T]:
        return self

    def __next__(self) -> T:
        if self._finished:
            raise StopIteration
        return self._take(self._queue.get())

    def poll(self) -> T | None:
        """The next item if one is waiting, else None at once; like ``next()`` at the end and on an error.

        For a consumer that serves several stages in turn and must not wait on any of them."""
        if self._finished:
            raise StopIteration
        try:
            item = self._queue.get_nowait()
        except queue.Empty:
            return None
        return self._take(item)

    def _take(self, item) -> T:
        if isinstance(item, _End):
            self._finished = True
            raise StopIteration
        if isinstance(item, _Failure):
            self._finished = True
            raise item.error
        return item

    def __enter__(self) -> Stage[T]:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def request_stop(self) -> None:
        """Ask the producer to stop after its current item, without waiting (see :meth:`close`)."""
        self._stop.set()
        self._drain()  # frees a producer blocked on a full queue at once

    def close(self, timeout: float | None = None) -> None:
        """Stop the producer and wait for its thread; safe to call more than once.

        A producer blocked waiting for its own input (e.g. the frame source) must be woken
        by closing that input between :meth:`request_stop` and this call.
        """
        if self._closed:
            return
        self._closed = True
        self._finished = True
        self.request_stop()
        timeout = self._join_timeout_s if timeout is None else timeout
        if self._thread is not threading.current_thread():
            self._thread.join(timeout)
        if self._thread.is_alive():
            log.warning("stage %s did not stop within %.0f s; it ends when its current item is done", self.name, timeout)
        self._drain()
        try:
            self._queue.put_nowait(_END)  # wakes a consumer blocked in another thread
        except queue.Full:  # a producer that outlived the join just queued an item; the consumer is done anyway
            pass

    @property
    def closed(self) -> bool:
        return self._closed

    # producer side -------------------------------------------------------------
    def _run(self) -> None:
        final: _End | _Failure = _END
        try:
            items = self._produce()
            try:
                for item in items:
                    if not self._put(item):
                        break
            finally:
                close = getattr(items, "close", None)
                if close is not None:
                    close()  # the generator's cleanup runs in this thread
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer, which re-raises it
            final = _Failure(exc)
        finally:
            self._put(final, may_drop=False)  # the end is never dropped: the consumer waits for it

    def _put(self, item, may_drop: bool = True) -> bool:
        """Queue ``item``; False once the stage is being stopped."""
        drop = self._drop_oldest and may_drop
        while not self._stop.is_set():
            try:
                if drop:
                    self._queue.put_nowait(item)
                else:
                    self._queue.put(item, timeout=POLL_S)
                return True
            except queue.Full:
                if drop:
                    try:
                        self._queue.get_nowait()
                    except queue.Empty:
                        continue
                    if self._on_drop is not None:
                        self._on_drop()
        return False

    def _drain(self) -> None:
        try:
            while True:
                self._queue.get_nowait()
        except queue.Empty:
            pass


__all__ = ["Stage"]
