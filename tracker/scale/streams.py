"""``tracker track --sources LIST``: many cameras or streams in one process, one batched detector call per step.

Each source keeps its own decoding thread (reconnecting on its own, keeping only its newest
frame when the process falls behind: ``source.drop_stale_frames``), its own tracker and its
own outputs in ``OUT/<name>/``, written by its own thread through
:func:`~tracker.pipeline.write_run` (the same files as ``tracker track``). The main loop only
takes, without waiting on any source, the newest frame of every source that has one and
whose writer is free, runs the detector once on all of them, and hands each its detections.
So a slow, stalled or dead source never holds the others back: it simply has no frame in a
step (and its stale frames are dropped at its source); a source that does not come back
within ``source.reconnect_timeout_s`` ends with an error while the others go on.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from ..config import Config
from ..errors import TrackerError
from ..io.files import prepare_out_dir
from ..io.run_folder import check_out_dir
from ..io.sources import FrameSource, open_source
from ..detect.appearance import embed_detections
from ..detect.frames import detect_batch
from ..pipeline import (
    FrameTracker, RunSummary, camera_motion_for, embedder_for, upload_plan, wants_images, write_run,
)
from .sourcelist import NamedSource, expand_sources, read_source_list
from .worker import smooth_run

log = logging.getLogger(__name__)

IDLE_WAIT_S = 0.005  # no source had a new frame: look again after this long
# Detected frames waiting for a stream's tracker and writer: one taken by it as the next is detected (with 1,
# a writer that has not yet picked its frame up looks busy and its stream misses the next batched call).
WRITER_QUEUE = 2
_END = object()


@dataclass
class StreamResult:
    source: NamedSource
    out_dir: Path
    summary: RunSummary | None = None
    error: str = ""
    exit_code: int = 0


@dataclass
class StreamsResult:
    streams: list[StreamResult]
    interrupted: bool = False
    steps: int = 0  # detector calls
    frames: int = 0  # frames detected, all streams together

    @property
    def failed(self) -> list[StreamResult]:
        return [s for s in self.streams if s.error]


@dataclass
class _Stream:
    """One source: its frames, its tracker, and the thread that tracks and writes what the loop detected."""

    result: StreamResult
    source: FrameSource | None = None
    frames: int = 0  # handed to the writer
    ended: bool = False
    inbox: queue.Queue = field(default_factory=lambda: queue.Queue(maxsize=WRITER_QUEUE))
    writer: threading.Thread | None = None

    def start(self, cfg: Config, tracker, embedder, class_names: list[str]) -> None:
        """Start its writer thread: it tracks (``tracker``, its own camera motion, the shared ``embedder``)
        and writes each frame the loop detected, as :func:`~tracker.pipeline.run` does, smoothing at the end."""
        info = self.source.info
        step = FrameTracker(tracker, camera_motion_for(cfg), embedder, cfg.source.fps or info.fps, info.is_live,
                            class_names)  # fmt: skip
        keep_images = wants_images(cfg)

        def results():
            while (item := self.inbox.get()) is not _END:
                frame, dets, embed_image = item
                if step.embeds_ahead:
                    embed_detections(embedder, embed_image, dets)
                yield step(frame, dets, embed_image, keep_images)

        def write():
            try:
                self.result.summary = write_run(results(), self.result.out_dir, cfg, info, class_names,
                                                start_thresholds=tracker.start_thresholds)  # fmt: skip
                self.result.summary.invalid_detections = int(getattr(tracker, "invalid_detections", 0))
                smooth_run(self.result.summary, cfg)
            except TrackerError as exc:
                self._fail(str(exc), exc.exit_code)
            except Exception as exc:  # a bug: this stream ends with it; the others go on
                log.exception("stream %s failed", self.result.source.spec)
                self._fail(f"internal error: {type(exc).__name__}: {exc}", 1)
            finally:
                self.ended = True

        self.writer = threading.Thread(target=write, name=f"tracker-write:{info.name}", daemon=True)
        self.writer.start()

    def _fail(self, error: str, exit_code: int) -> None:
        self.result.error, self.result.exit_code = error, exit_code
        self.ended = True

    @property
    def free(self) -> bool:
        """Whether its writer can take a frame now."""
        return not self.ended and not self.inbox.full()

    def poll(self):
        """Its newest frame, None when it has none yet; ends the stream at its end or on its error."""
        try:
            return self.source.poll()
        except StopIteration:
            self.finish()
        except TrackerError as exc:  # e.g. it did not come back within source.reconnect_timeout_s
            self._fail(str(exc), exc.exit_code)
            self.finish()
        return None

    def finish(self) -> None:
        """Let the writer finish what it has, close its files, and release the source."""
        self.ended = True
        if self.writer is not None:
            self.inbox.put(_END)  # the writer is draining: there is room soon
            self.writer.join()
            self.writer = None
        if self.source is not None:
            if self.result.summary is not None:
                self.result.summary.source_stats = dict(vars(self.source.stats))
            self.source.close()


def run_streams(list_spec: str, out_dir, cfg: Config, *, max_frames: int | None = None,
                progress: bool = True) -> StreamsResult:  # fmt: skip
    """Track every source the text file ``list_spec`` lists (one a line, any suffix), at once, into ``out_dir/<name>/``.

    max_frames: each stream stops after this many frames. Ctrl-C stops them all; every output is finalised.
    """
    from ..detect.detectors import build_detector
    from ..tracking import build_tracker

    named = expand_sources(read_source_list(Path(list_spec)))  # whatever its suffix: --sources names a list
    out = prepare_out_dir(check_out_dir(out_dir))
    streams = [_Stream(StreamResult(s, out / s.name)) for s in named]
    result = StreamsResult([s.result for s in streams])
    try:
        _open_all(streams, cfg)
        live = [s for s in streams if s.source is not None]
        if not live:
            return result
        detector = build_detector(cfg.detector)
        class_names = list(detector.class_names)
        trackers = [build_tracker(cfg.tracker, cfg.source.fps or s.source.info.fps, len(class_names)) for s in live]
        embedder = embedder_for(cfg, trackers[0], detector)  # one model for every stream: its sessions are thread-safe
        for stream, tracker in zip(live, trackers):
            stream.start(cfg, tracker, embedder, class_names)
        _detect_loop(live, detector, upload_plan(detector, embedder), max_frames, result, progress)
    except KeyboardInterrupt:
        result.interrupted = True
    finally:
        for stream in streams:
            stream.finish()
    return result


def _open_all(streams: list[_Stream], cfg: Config) -> None:
    """Open every source at once (a dead one may take source.stream_timeout_s to say so)."""

    def open_one(stream: _Stream) -> None:
        try:
            stream.source = open_source(stream.result.source.spec, cfg.source)
        except TrackerError as exc:
            stream._fail(str(exc), exc.exit_code)

    with ThreadPoolExecutor(max_workers=len(streams)) as pool:
        list(pool.map(open_one, streams))


def _detect_loop(streams: list[_Stream], detector, upload: tuple, max_frames: int | None, result: StreamsResult,
                 progress: bool) -> None:  # fmt: skip
    """Until every stream ended: the newest frame of each stream that has one and whose writer is free, detected
    in one call (uploaded once to the GPU when ``upload``, :func:`~tracker.pipeline.upload_plan`, says so) and
    handed to its writer."""
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(unit="frame", desc=f"{len(streams)} streams", dynamic_ncols=True, leave=True)
    try:
        while any(not s.ended for s in streams):
            ready = []
            for stream in streams:
                if stream.free and (frame := stream.poll()) is not None:
                    ready.append((stream, frame))
            if not ready:
                time.sleep(IDLE_WAIT_S)
                continue
            for (stream, _), item in zip(ready, detect_batch(detector, [f for _, f in ready], upload)):
                stream.inbox.put(item)
                stream.frames += 1
                if max_frames is not None and stream.frames >= max_frames:
                    stream.finish()
            result.steps += 1
            result.frames += len(ready)
            if bar is not None:
                bar.update(len(ready))
    finally:
        if bar is not None:
            bar.close()


def format_streams(result: StreamsResult) -> str:
    """One line per stream, then where the frames went."""
    lines = []
    for stream in result.streams:
        name = stream.source.name
        if stream.error:
            lines.append(f"{name}: failed: {stream.error}")
            if stream.summary is None:
                continue
        summary = stream.summary
        if summary is None:
            lines.append(f"{name}: not started")
            continue
        stats = summary.source_stats
        lines.append(
            f"{name}: {summary.frames} frames, {summary.tracks} tracks -> {summary.out_dir} "
            f"({stats.get('dropped_frames', 0)} stale frames dropped, {stats.get('outages', 0)} outages, "
            f"{stats.get('reconnects', 0)} reconnects, {summary.invalid_detections} invalid detections dropped)"
        )
    state = "interrupted: " if result.interrupted else ""
    per_call = result.frames / result.steps if result.steps else 0.0
    lines.append(f"{state}{result.frames} frames of {len(result.streams)} streams in {result.steps} detector calls "
                 f"({per_call:.1f} frames per call)")  # fmt: skip
    return "\n".join(lines)


__all__ = ["StreamsResult", "format_streams", "run_streams"]
