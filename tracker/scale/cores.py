"""CPU affinity of batch workers: which cores each one gets, and pinning a whole worker process to them.

A worker of one thread is not one core: its decoding, detection, embedding, tracking and encoding
run in threads of their own and overlap (about 1.7 cores for a "one-thread" worker), so unpinned
workers on one machine spill onto each other's cores and fight. Pinned, a worker of ``threads``
threads uses exactly ``threads`` cores, and throughput per worker is predictable.

On Linux ``sched_setaffinity`` acts on one thread, and a new thread inherits its creator's
affinity: :func:`pin_process` therefore pins every thread the process has (Ray's own included),
so every thread started later (pipeline stages, ONNX Runtime and torch pools) is pinned too.
Where the OS has no affinity call (macOS), :data:`CAN_PIN` is False and nothing is pinned.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence

CAN_PIN = hasattr(os, "sched_setaffinity")
THREADS_DIR = "/proc/self/task"  # one entry per thread of this process, named by its thread id (Linux)


def usable_cores() -> list[int]:
    """The cores this process may run on, in order (every core where the OS has no affinity)."""
    if CAN_PIN:
        return sorted(os.sched_getaffinity(0))
    return list(range(os.cpu_count() or 1))


def core_sets(available: Sequence[int], workers: int, threads: int) -> list[tuple[int, ...]]:
    """Round robin over ``available``: worker i gets cores i*threads ... i*threads+threads-1, wrapping around
    (so workers share cores only when there are more worker threads than cores)."""
    return [
        tuple(sorted({available[(i * threads + k) % len(available)] for k in range(threads)})) for i in range(workers)
    ]


def worker_cores(pin_cores: str | bool, local: bool, workers: int, threads: int) -> list[tuple[int, ...]] | None:
    """Each worker's cores (:func:`core_sets` over :func:`usable_cores`), or None: not pinned. Pinned only with
    ``pin_cores`` (``batch.pin_cores``) auto on a ``local`` Ray instance, one this process started on this machine,
    and where the OS can pin."""
    if pin_cores != "auto" or not local or not CAN_PIN:
        return None
    return core_sets(usable_cores(), workers, threads)


def describe(sets: Iterable[Sequence[int]]) -> str:
    """``0, 1`` for two workers of one core each, ``0+1, 2+3`` for two of two."""
    return ", ".join("+".join(map(str, cores)) for cores in sets)


def _thread_ids() -> list[int]:
    try:
        return [int(tid) for tid in os.listdir(THREADS_DIR)]
    except FileNotFoundError:  # no /proc: the calling thread only
        return [0]


def pin_process(cores: Iterable[int]) -> None:
    """Pin every thread of this process to ``cores``. Passes repeat until one finds no thread it has not pinned
    yet: a thread started during a pass by a thread not yet pinned inherited the old affinity."""
    cores = set(cores)
    pinned: set[int] = set()
    while fresh := set(_thread_ids()) - pinned:
        for tid in fresh:
            try:
                os.sched_setaffinity(tid, cores)
            except ProcessLookupError:  # the thread ended meanwhile
                pass
        pinned |= fresh


def process_cores() -> list[int]:
    """The cores any thread of this process may run on (the union over its threads)."""
    if not CAN_PIN:
        return usable_cores()
    cores: set[int] = set()
    for tid in _thread_ids():
        try:
            cores |= os.sched_getaffinity(tid)
        except ProcessLookupError:
            pass
    return sorted(cores)
