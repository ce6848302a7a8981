"""What a batch worker does: load the models once, then run job after job.

A job is a whole source (:class:`SourceJob`: tracked into its output folder by
:func:`~tracker.pipeline.run`), one part of a long file (:class:`ChunkJob`: its tracks come
back as a :class:`~.chunks.ChunkTracks`), or the stitch of a file's parts
(:class:`StitchJob`: written into its output folder like one run). A :class:`TrackWorker`
is a plain object: :mod:`.executors` runs it in this process or as a Ray actor, where the
driver reads :meth:`TrackWorker.progress` and calls :meth:`TrackWorker.stop` from another
thread while :meth:`TrackWorker.run` works.
"""

from __future__ import annotations

import os
import socket
import threading
from dataclasses import dataclass

from ..config import Config, apply_overrides
from ..errors import ClusterError, TrackerError
from ..io.sources import open_source
from ..pipeline import RunSummary, embedder_for, run, wants_images, write_run
from .chunks import Chunk, ChunkTracks, chunk_frames, stitch, stitched_results, track_chunk
from .cores import describe, pin_process, process_cores
from .ledger import DONE, FAILED, INTERRUPTED

PER_SOURCE_DETECTORS = frozenset({"mot"})  # read each source's own det.txt: built per job, not once per worker


@dataclass(frozen=True)
class SourceJob:
    key: str  # the source as the batch names it (its batch.csv row)
    source: str
    out_dir: str


@dataclass(frozen=True)
class ChunkJob:
    key: str
    source: str
    chunk: Chunk


@dataclass(frozen=True)
class StitchJob:
    key: str
    source: str
    out_dir: str
    parts: tuple[ChunkTracks, ...]


@dataclass
class Outcome:
    """How a job ended: ``done``, ``failed`` (``error`` says why) or ``interrupted``."""

    status: str
    frames: int = 0  # frames tracked (a part) or written (a source, a stitch)
    error: str = ""
    exit_code: int = 0  # a failure's TrackerError exit code (1: a bug)
    summary: RunSummary | None = None  # a source's or a stitch's run
    part: ChunkTracks | None = None  # a part's tracks


def worker_config(cfg: Config, threads: int | None) -> Config:
    """``cfg`` for a batch worker: no window, no browser view, and ``threads`` for the detector and embedder
    when set."""
    overrides = {"output.show": False, "serve.port": None}
    if threads is not None:
        overrides["detector.threads"] = cfg.detector.threads or threads
        overrides["appearance.threads"] = cfg.appearance.threads or threads
    return apply_overrides(cfg, overrides)


class TrackWorker:
    """Tracks jobs with models loaded once. ``threads``: CPU threads for its models (None: every core);
    ``cores``: the cores its whole process is pinned to (None: not pinned; see :mod:`.cores`)."""

    def __init__(self, cfg: Config, threads: int | None = None, cores: tuple[int, ...] | None = None):
        self.cfg = worker_config(cfg, threads)
        self.threads = threads
        self.cores = cores
        self._pin_error: str | None = None  # raised by load(), where the executor reports it as one line
        if cores is not None:  # first of all, so every thread this worker starts inherits it
            try:
                pin_process(cores)
            except OSError as exc:
                self._pin_error = exc.strerror or type(exc).__name__
        self.detector = self.embedder = None
        self._stop = threading.Event()
        self._job: str | None = None
        self._frames = 0  # frames done in the current job
        self._total: int | None = None  # frames the current job will do, once known
        self.on_progress = None  # called as on_progress(job key, frames, total) after each frame, in this process

    def load(self) -> str:
        """Load the models; returns where this worker runs. A TrackerError here (bad weights) is every job's."""
        from ..detect.detectors import build_detector
        from ..tracking import build_tracker

        if self._pin_error is not None:
            raise ClusterError(f"cannot pin a worker to cores {describe([self.cores])}: {self._pin_error}",
                               "Run the workers unpinned: --set batch.pin_cores=false")  # fmt: skip
        if self.cfg.detector.name not in PER_SOURCE_DETECTORS:
            self.detector = build_detector(self.cfg.detector)
        classes = len(self.detector.class_names) if self.detector is not None else 1
        probe = build_tracker(self.cfg.tracker, self.cfg.source.default_fps, classes)  # does it use appearance?
        self.embedder = embedder_for(self.cfg, probe, self.detector)
        if self.threads is not None:
            _limit_threads(self.threads)
        pinned = "" if self.cores is None else f", pinned to cores {describe([self.affinity()])}"
        return f"{socket.gethostname()} pid {os.getpid()}{pinned}"

    def affinity(self) -> list[int]:
        """The cores this worker's threads may run on (every thread of its process)."""
        return process_cores()

    def progress(self) -> tuple[str | None, int, int | None]:
        """(job key, frames done, frames it will do when known) of the job in progress."""
        return self._job, self._frames, self._total

    def stop(self) -> None:
        """Stop the job in progress between two frames, and any later one before it starts."""
        self._stop.set()

    def _tick(self, frames: int, total: int | None = None) -> None:
        self._frames = frames
        if total is not None:
            self._total = total
        if self.on_progress is not None:
            self.on_progress(self._job, frames, self._total)
        if self._stop.is_set():
            raise KeyboardInterrupt("the batch is stopping")

    def run(self, job) -> Outcome:
        self._job, self._frames, self._total = job.key, 0, None
        try:
            self._tick(0)
            if isinstance(job, ChunkJob):
                self._total = chunk_frames(job.chunk, self.cfg.source.vid_stride)
                part = track_chunk(job.source, self.cfg, job.chunk, self.detector, self.embedder, self._tick)
                return Outcome(DONE, frames=len(part.frames), part=part)
            if isinstance(job, StitchJob):
                summary = self._write_stitched(job)
            else:
                summary = run(
                    job.source, job.out_dir, self.cfg, progress=False, detector=self.detector,
                    embedder=self.embedder, on_frame=lambda s: self._tick(s.frames, s.frame_count),
                )  # fmt: skip
            smooth_run(summary, self.cfg)
        except KeyboardInterrupt:
            return Outcome(INTERRUPTED, frames=self._frames)
        except TrackerError as exc:
            return Outcome(FAILED, frames=self._frames, error=str(exc), exit_code=exc.exit_code)
        finally:
            self._job = None
        if summary.source_error is not None:  # the outputs are complete up to the frame it broke at
            error = summary.source_error
            text = f"{error.problem}; outputs up to frame {summary.last_frame} are complete"
            return Outcome(FAILED, summary.frames, error=text, exit_code=error.exit_code, summary=summary)
        return Outcome(INTERRUPTED if summary.interrupted else DONE, summary.frames, summary=summary)

    def _write_stitched(self, job: StitchJob):
        """The stitched parts written into the job's folder as one run (the video re-reads the file's frames)."""
        stitched = stitch(list(job.parts), self.cfg.chunks.min_iou)
        self._total = len(stitched.frames)
        source = open_source(job.source, self.cfg.source)
        try:
            frames = source if wants_images(self.cfg) else None
            results = stitched_results(stitched, self.cfg.source.fps or source.info.fps, frames)
            summary = write_run(results, job.out_dir, self.cfg, source.info, stitched.class_names,
                                on_frame=lambda s: self._tick(s.frames))  # fmt: skip
        finally:
            source.close()
        summary.source_stats = {"failed_reads": stitched.stats["failed_reads"]}
        summary.invalid_detections = stitched.stats["invalid_detections"]
        return summary


def smooth_run(summary: RunSummary, cfg: Config) -> None:
    """``smoothing.enabled`` (the default; ``--no-smooth``): fill gaps and RTS-smooth the tracks a finished run
    wrote, as ``tracker track`` does; the tracker's own files join ``summary.outputs``."""
    from ..analyze.smoothing import smooth_finished_run

    smoothing = smooth_finished_run(summary.out_dir, cfg, summary.source_fps, summary.outputs)
    if smoothing is not None:
        summary.outputs += smoothing["raw"]


def _limit_threads(threads: int) -> None:
    """Keep this worker's libraries to ``threads`` threads (OpenCV; torch when a model loaded it: the torch
    detectors and embedders), so workers sharing a machine do not fight over its cores. The ONNX models got
    ``threads`` through detector.threads / appearance.threads; torch is not imported for them."""
    import sys

    import cv2

    cv2.setNumThreads(threads)
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.set_num_threads(threads)
