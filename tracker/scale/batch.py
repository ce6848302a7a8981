"""``tracker batch``: many sources (and long files in parallel parts) on Ray workers, resumable.

:func:`run_batch` expands the sources, skips those an earlier run finished (``batch.csv``),
plans the parts of each file when ``chunks > 1``, and hands the jobs to an executor. The
:class:`Scheduler` is the executor's view of the batch: it hands out jobs, turns a file's
finished parts into its stitch job, retries a job whose worker was lost, writes a row of
``batch.csv`` as each source ends, and keeps one progress bar over every frame to track.

Ctrl-C (or SIGTERM) on the driver asks every worker to stop after its current frame: each
stopped run finalises its outputs as ``tracker track`` does, its row says ``interrupted``
and the sources not started say ``pending``; the next run redoes both. A second Ctrl-C
leaves at once.
"""

from __future__ import annotations

import signal
import sys
import time
from collections import deque
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from ..config import Config
from ..errors import ClusterError, ConfigError, TrackerError
from ..pipeline import RunSummary
from ..io.files import prepare_out_dir
from ..io.run_folder import check_out_dir
from ..io.sources import open_source
from ..run_control import STOP_SIGNALS
from .chunks import Chunk, chunk_frames, plan_chunks
from .executors import make_executor
from .ledger import DONE, FAILED, INTERRUPTED, PENDING, Ledger, Row
from .sourcelist import NamedSource, expand_sources
from .worker import ChunkJob, Outcome, SourceJob, StitchJob

MAX_ATTEMPTS = 3  # a job whose worker dies with its node is tried this many times in all
BAR_REDRAW_S = 0.1  # frames redraw the progress bar at most this often (every frame with in-process workers)
STITCH_SUFFIX = "#stitch"  # job key of a file's stitch: the source, then this (a part's: the source, #, its index)


@dataclass
class Entry:
    """One source of the batch and what became of it."""

    source: NamedSource
    out_dir: Path
    chunks: list[Chunk] | None = None  # the file's parts, when it is split
    parts: dict = field(default_factory=dict)  # chunk index -> ChunkTracks, as they finish
    started: float | None = None  # monotonic time its first job was handed out
    row: Row | None = None  # its batch.csv row, once it ended


@dataclass
class BatchResult:
    rows: list[Row]  # one per source of this batch, skipped ones included
    skipped: int  # sources an earlier run had finished
    interrupted: bool
    summaries: dict[str, RunSummary]  # source -> its run's summary, for sources tracked now
    frames: int = 0  # frames tracked now (parts, overlaps and stitches count as the work they are)
    seconds: float = 0.0  # from the first frame tracked to the end: the workers' time, not Ray's or the models'

    @property
    def failed(self) -> list[Row]:
        return [r for r in self.rows if r.status == FAILED]


class Scheduler:
    """The jobs of a batch, as its executor sees them."""

    def __init__(self, entries: list[Entry], ledger: Ledger | None, bar=None, notify: Callable[[str], None] = None,
                 stride: int = 1):  # fmt: skip
        self.entries = {e.source.spec: e for e in entries}
        self.ledger = ledger
        self.bar = bar
        self.notify = notify or _print_to_stderr
        self.stopping = False
        self.queue: deque = deque()
        self.attempts: dict[str, int] = {}
        self.frames: dict[str, int] = {}  # job key -> frames done
        self.totals: dict[str, int] = {}  # job key -> frames it does, once known
        self.summaries: dict[str, RunSummary] = {}
        self.exit_codes: dict[str, int] = {}  # source -> exit code of the error that failed it
        self.first_frame_at: float | None = None  # monotonic time of the first frame tracked
        self.ended_at: float | None = None  # and of the last job's end
        self._drawn_at = float("-inf")  # monotonic time the bar was last redrawn
        for entry in entries:
            if entry.row is not None:  # could not even be planned
                self._record(entry)
            elif entry.chunks is None:
                self.queue.append(SourceJob(entry.source.spec, entry.source.spec, str(entry.out_dir)))
            else:
                for chunk in entry.chunks:
                    key = f"{entry.source.spec}#{chunk.index}"
                    self.queue.append(ChunkJob(key, entry.source.spec, chunk))
                    self.totals[key] = chunk_frames(chunk, stride)
                self.totals[entry.source.spec + STITCH_SUFFIX] = -(-entry.chunks[-1].stop // stride)

    def has_work(self) -> bool:
        return bool(self.queue)

    def next_job(self):
        if self.stopping or not self.queue:
            return None
        job = self.queue.popleft()
        entry = self.entries[job.source]
        entry.started = entry.started or time.monotonic()
        return job

    def progress(self, key: str, frames: int, total: int | None) -> None:
        if self.first_frame_at is None:  # the bar's clock (and ETA) starts now, not when Ray and the models loaded
            self.first_frame_at = time.monotonic()
            if self.bar is not None:
                self.bar.reset()
        self.frames[key] = frames
        if total is not None:
            self.totals[key] = total
        if time.monotonic() - self._drawn_at >= BAR_REDRAW_S:  # a job's end always redraws it
            self._refresh()

    def lost(self, job) -> None:
        """``job``'s worker died (its node was lost): try it again, up to MAX_ATTEMPTS in all."""
        self.attempts[job.key] = self.attempts.get(job.key, 1) + 1
        self.frames[job.key] = 0
        if self.attempts[job.key] > MAX_ATTEMPTS:
            error = f"its worker was lost {MAX_ATTEMPTS} times (the cluster is losing nodes)"
            self.finished(job, Outcome(FAILED, error=error, exit_code=ClusterError.exit_code))
        else:
            self.queue.appendleft(job)

    def finished(self, job, outcome: Outcome) -> None:
        entry = self.entries[job.source]
        self.frames[job.key] = self.totals[job.key] = outcome.frames  # what this job does in this run
        if outcome.status == INTERRUPTED:
            self.stopping = True
        if entry.row is not None:  # an earlier part already failed or was interrupted
            self._refresh()
            return
        if isinstance(job, ChunkJob) and outcome.status == DONE:
            entry.parts[job.chunk.index] = outcome.part
            if len(entry.parts) == len(entry.chunks):  # every part is in: stitch them first, so the file is done
                parts = tuple(entry.parts[c.index] for c in entry.chunks)
                self.queue.appendleft(StitchJob(job.source + STITCH_SUFFIX, job.source, str(entry.out_dir), parts))
                entry.parts.clear()
        else:
            self._end(entry, outcome)
        self._refresh()

    def _end(self, entry: Entry, outcome: Outcome) -> None:
        summary = outcome.summary
        if entry.chunks is not None or summary is None:  # a file in parts: wall time from its first part on
            seconds = time.monotonic() - entry.started if entry.started else 0.0
            if summary is not None:
                summary.seconds = seconds
        else:
            seconds = summary.seconds
        frames = summary.frames if summary is not None else 0
        entry.row = Row(
            entry.source.spec, entry.source.name, outcome.status, frames,
            summary.tracks if summary is not None else 0, frames / seconds if seconds > 0 else 0.0, seconds,
            outcome.error,
        )  # fmt: skip
        if summary is not None:
            self.summaries[entry.source.spec] = summary
        if outcome.exit_code:
            self.exit_codes[entry.source.spec] = outcome.exit_code
        if outcome.status != DONE:  # its other parts need not run
            self.queue = deque(j for j in self.queue if j.source != entry.source.spec)
        self._record(entry)

    def _record(self, entry: Entry) -> None:
        if entry.row.status == FAILED:
            self.notify(f"failed: {entry.source.spec}: {entry.row.error}")
        if self.ledger is not None:
            self.ledger.record(entry.row)

    def close_unfinished(self) -> None:
        """Rows for the sources that did not end: ``interrupted`` when started, else ``pending``."""
        for entry in self.entries.values():
            if entry.row is None:
                status = INTERRUPTED if entry.started is not None else PENDING
                entry.row = Row(entry.source.spec, entry.source.name, status)
                self._record(entry)

    def _refresh(self) -> None:
        if self.bar is None:
            return
        # a source's length is known once its worker opened it; until then it counts as the mean known length
        unknown = [
            e for e in self.entries.values() if e.chunks is None and e.row is None and e.source.spec not in self.totals
        ]
        lengths = [v for k, v in self.totals.items() if k in self.entries or k.endswith(STITCH_SUFFIX)]
        if lengths:
            self.bar.total = sum(self.totals.values()) + round(len(unknown) * sum(lengths) / len(lengths))
        self.bar.n = sum(self.frames.values())
        self.bar.refresh()
        self._drawn_at = time.monotonic()


def _plan(entry: Entry, cfg: Config, chunks: int) -> None:
    """Split ``entry``'s file into parts; a source that cannot be split gets its failed row instead."""
    try:
        entry.chunks = plan_file(entry.source.spec, cfg, chunks)
    except TrackerError as exc:
        entry.row = Row(entry.source.spec, entry.source.name, FAILED, error=str(exc))


def plan_file(spec: str, cfg: Config, chunks: int) -> list[Chunk]:
    """The parts of the file ``spec``; ConfigError for a live source or one of unknown length."""
    if spec.strip().isdigit():  # a webcam: no need to open it to know
        raise _cannot_split(f"camera {spec.strip()}", "camera")
    with open_source(spec, cfg.source) as source:
        info = source.info
    if info.is_live:
        raise _cannot_split(info.uri, info.kind)
    if info.frame_count is None:
        raise ConfigError(f"--chunks cannot split {info.uri}: its frame count is unknown", "Track it without --chunks")
    return plan_chunks(info.frame_count, info.fps, chunks, cfg.chunks.overlap_s)


def _cannot_split(uri: str, kind: str) -> ConfigError:
    return ConfigError(
        f"--chunks splits a file, but {uri} is a live {kind}",
        "Track it without --chunks; for several live streams at once use tracker track --sources LIST",
    )


@contextmanager
def _stop_on_signals(scheduler: Scheduler, executor, notify):
    """The first Ctrl-C / SIGTERM stops the batch between frames; a second one raises KeyboardInterrupt."""

    def handle(signum, frame):
        if scheduler.stopping:
            raise KeyboardInterrupt(f"signal {signum}")
        scheduler.stopping = True
        notify("stopping: each worker finishes its current frame and closes its files (Ctrl-C again to quit now)")
        executor.request_stop()

    previous = {}
    try:
        for signum in STOP_SIGNALS:
            previous[signum] = signal.signal(signum, handle)
    except ValueError:  # not the main thread: signals are not ours to handle
        pass
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def execute(entries: list[Entry], cfg: Config, ledger: Ledger | None, *, address=None, workers=None, threads=1,
            gpus=None, progress=True, notify=None, executor=None) -> Scheduler:  # fmt: skip
    """Run ``entries`` to their end (or a stop) and return the scheduler, whose entries hold their rows."""
    notify = notify or _print_to_stderr
    scheduler = Scheduler(entries, ledger, None, notify, cfg.source.vid_stride)
    if not scheduler.queue:  # every source failed before it could start: no worker needed
        return scheduler
    if executor is None:  # first: a cluster that cannot be reached fails before any output
        executor = make_executor(cfg, address, workers, threads, gpus, max_jobs=len(scheduler.queue), notice=notify)
    notify(f"tracking {len(entries)} source{'s' * (len(entries) != 1)} {executor.description}")
    if progress:
        from tqdm import tqdm

        scheduler.bar = tqdm(total=None, unit="frame", desc="batch", dynamic_ncols=True, leave=True)
        if notify is _print_to_stderr:  # above the bar, not through it
            scheduler.notify = lambda text: scheduler.bar.write(text, file=sys.stderr)
    try:
        with _stop_on_signals(scheduler, executor, scheduler.notify):
            try:
                executor.start()
                executor.run(scheduler)
            finally:
                scheduler.ended_at = time.monotonic()
                scheduler.close_unfinished()
                executor.close()
    finally:
        if scheduler.bar is not None:
            scheduler.bar.close()
    return scheduler


def _print_to_stderr(text: str) -> None:
    print(text, file=sys.stderr)


def run_batch(items: list[str], out_dir, cfg: Config, *, chunks: int = 1, force: bool = False,
              **execution) -> BatchResult:  # fmt: skip
    """Track every source ``items`` names into ``out_dir/<name>/`` and record each in ``out_dir/batch.csv``.

    execution: ``address``, ``workers``, ``threads``, ``gpus``, ``progress``, ``notify``, ``executor``
    (see :func:`execute`).
    """
    sources = expand_sources(items)
    out = prepare_out_dir(check_out_dir(out_dir))  # --out "" would write into the current folder
    ledger = Ledger(out)
    todo = [s for s in sources if force or not ledger.finished(s.spec)]
    for source in todo:  # every source has its row, in order, from the start
        ledger.rows[source.spec] = Row(source.spec, source.name, PENDING)
    ledger.save()
    entries = []
    for source in todo:
        entry = Entry(source, out / source.name)
        if source.problem:
            entry.row = Row(source.spec, source.name, FAILED, error=source.problem)
        elif chunks > 1:
            _plan(entry, cfg, chunks)
        entries.append(entry)
    result = BatchResult([], len(sources) - len(todo), False, {})
    if entries:
        scheduler = execute(entries, cfg, ledger, **execution)
        result.interrupted, result.summaries = scheduler.stopping, scheduler.summaries
        result.frames = sum(scheduler.frames.values())
        if scheduler.first_frame_at is not None:
            result.seconds = scheduler.ended_at - scheduler.first_frame_at
    result.rows = [ledger.rows[s.spec] for s in sources]
    return result


def run_chunked(source: str, out_dir, cfg: Config, chunks: int, **execution) -> RunSummary:
    """``tracker track SOURCE --chunks K``: one file in K parts into ``out_dir``, as one run writes it."""
    spec = expand_sources([source])[0]
    entry = Entry(spec, Path(out_dir))
    entry.chunks = plan_file(spec.spec, cfg, chunks)
    prepare_out_dir(check_out_dir(out_dir))
    scheduler = execute([entry], cfg, None, **execution)
    if entry.row.status == FAILED:
        raise WorkerError(entry.row.error, scheduler.exit_codes.get(spec.spec, WorkerError.exit_code))
    summary = scheduler.summaries.get(spec.spec) or RunSummary(out_dir=Path(out_dir))
    summary.interrupted = entry.row.status != DONE
    return summary


class WorkerError(TrackerError):
    """A job that failed in a worker, reported with the exit code of the error it met there."""

    def __init__(self, message: str, exit_code: int):
        super().__init__(message)
        self.exit_code = exit_code


def format_batch(result: BatchResult, out_dir) -> str:
    """The lines printed after a batch."""
    counts: dict[str, int] = {}
    for row in result.rows:
        counts[row.status] = counts.get(row.status, 0) + 1
    parts = [f"{counts[s]} {s}" for s in (DONE, FAILED, INTERRUPTED, PENDING) if counts.get(s)]
    skipped = f" ({result.skipped} finished before, skipped; --force redoes them)" if result.skipped else ""
    lines = [f"batch: {', '.join(parts)}{skipped} -> {Path(out_dir) / 'batch.csv'}"]
    if result.seconds > 0:
        lines.append(f"  {result.frames} frames in {result.seconds:.1f} s ({result.frames / result.seconds:.1f} fps)")
    if result.interrupted:
        lines.append("  run the same command again to track the interrupted and pending sources")
    return "\n".join(lines)
