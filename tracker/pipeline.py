"""The streaming pipeline: source -> detector -> appearance -> tracker -> sinks.

:func:`track` is the Python API: a generator of :class:`FrameResult`, one per
frame, that owns and releases every resource it opens. :func:`run` drives it into
the output files and guarantees that whatever was processed is on disk however
the run ends (end of input, Ctrl-C, SIGTERM, or an error).
"""

from __future__ import annotations

import logging
import os
import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .config import Config, apply_overrides, load_config
from .errors import OutputError
from .structures import FrameResult

log = logging.getLogger(__name__)


def _resolve_config(config: Config | str | os.PathLike | None, overrides=None) -> Config:
    if isinstance(config, Config):
        return apply_overrides(config, overrides) if overrides else config
    return load_config(config, overrides=overrides)


def _batches(frames, size: int) -> Iterator[list]:
    batch = []
    for frame in frames:
        batch.append(frame)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def _time_step(previous, frame, fps: float, live: bool) -> float:
    """Seconds since the previous frame: the clock for live sources (outages, drops), frame numbers for files."""
    if previous is None:
        return 1.0 / fps
    if live:
        return max(frame.time_s - previous.time_s, 1.0 / fps)
    return (frame.index - previous.index) / fps


class Session:
    """The models and the source of one run, built from a :class:`Config`."""

    def __init__(self, source, cfg: Config, detector=None, embedder=None):
        from .appearance import build_embedder
        from .detectors import build_detector
        from .sources import open_source
        from .trackers import build_tracker

        self.cfg = cfg
        self.last_tracker_seconds = 0.0  # time of the latest tracker.update, for benchmarks
        self.detector = detector or build_detector(cfg.detector, source=str(source))
        self.source = open_source(source, cfg.source)
        try:
            self.fps = cfg.source.fps or self.source.info.fps
            self.tracker = build_tracker(cfg.tracker, self.fps, len(self.detector.class_names))
            wants = self.tracker.uses_appearance and cfg.appearance.name != "none"
            self.embedder = (embedder or build_embedder(cfg.appearance)) if wants else None
        except BaseException:
            self.source.close()
            raise

    @property
    def info(self):
        return self.source.info

    @property
    def class_names(self) -> list[str]:
        return list(self.detector.class_names)

    def close(self) -> None:
        self.source.close()

    def results(self, keep_images: bool = False) -> Iterator[FrameResult]:
        live = self.info.is_live
        batch_size = 1 if live else self.cfg.detector.batch_size
        previous = None
        for batch in _batches(self.source, batch_size):
            detections = self.detector.detect([f.image for f in batch], [f.index for f in batch])
            for frame, dets in zip(batch, detections):
                if self.embedder is not None:
                    dets.embeddings = (
                        self.embedder.embed(frame.image, dets.boxes)
                        if len(dets)
                        else np.zeros((0, self.embedder.dim), np.float32)
                    )
                dt = _time_step(previous, frame, self.fps, live)
                previous = frame
                started = time.perf_counter()
                tracks = self.tracker.update(dets, frame.image, dt=dt)
                self.last_tracker_seconds = time.perf_counter() - started
                yield FrameResult(
                    frame_index=frame.index,
                    time_s=frame.time_s,
                    tracks=tracks,
                    detections=dets,
                    image=frame.image if keep_images else None,
                )


def track(
    source,
    config: Config | str | os.PathLike | None = None,
    *,
    overrides=None,
    keep_images: bool = False,
    detector=None,
    embedder=None,
) -> Iterator[FrameResult]:
    """Track objects in ``source`` and yield one :class:`FrameResult` per frame.

    source: video path, MOTChallenge sequence folder, webcam index or stream URL.
    config: a :class:`Config`, a YAML path, or None for ``configs/default.yaml``.
    overrides: ``["tracker.max_age=60"]`` or ``{"tracker.max_age": 60}``.
    keep_images: attach each BGR frame to its result (for drawing).
    detector / embedder: prebuilt models to reuse across calls.
    """
    cfg = _resolve_config(config, overrides)
    session = Session(source, cfg, detector=detector, embedder=embedder)
    try:
        yield from session.results(keep_images=keep_images)
    finally:
        session.close()


@dataclass
class RunSummary:
    out_dir: Path
    frames: int = 0
    tracks: int = 0
    seconds: float = 0.0
    interrupted: bool = False
    outputs: list[Path] = field(default_factory=list)
    source_stats: dict = field(default_factory=dict)

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else 0.0


@contextmanager
def _sigterm_as_interrupt():
    """Turn SIGTERM into KeyboardInterrupt so both stop the run the same clean way."""

    def handler(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")

    try:
        previous = signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread: leave signals alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def prepare_out_dir(out_dir: str | os.PathLike) -> Path:
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / ".write-test"
        probe.write_text("")
        probe.unlink()
    except OSError as exc:
        raise OutputError(f"cannot write to output folder {out}: {exc.strerror}", "Choose another --out folder") from None
    return out


def run(
    source,
    out_dir: str | os.PathLike,
    config: Config | str | os.PathLike | None = None,
    *,
    overrides=None,
    progress: bool = True,
    detector=None,
    embedder=None,
) -> RunSummary:
    """Track ``source`` and write the outputs named in ``config.output`` into ``out_dir``.

    Everything processed is flushed and the video finalised even when the run is
    stopped by Ctrl-C / SIGTERM (``summary.interrupted`` is then True) or fails.
    """
    from .sinks import open_sinks

    cfg = _resolve_config(config, overrides)
    out = prepare_out_dir(out_dir)
    (out / "config.yaml").write_text(cfg.to_yaml())
    summary = RunSummary(out_dir=out)
    keep_images = cfg.output.video or cfg.output.show
    started = time.perf_counter()
    seen_ids: set[int] = set()
    with _sigterm_as_interrupt():
        session = Session(source, cfg, detector=detector, embedder=embedder)
        try:
            with open_sinks(out, cfg.output, session.info, session.class_names) as sinks:
                summary.outputs = list(getattr(sinks, "paths", []))
                bar = _progress(session.info, progress)
                started = time.perf_counter()  # models are loaded: time the tracking alone
                try:
                    for result in session.results(keep_images=keep_images):
                        sinks.write(result)
                        summary.frames += 1
                        seen_ids.update(result.tracks.track_ids.tolist())
                        if bar is not None:
                            bar.set_postfix_str(f"tracks={len(result.tracks)}", refresh=False)
                            bar.update(1)
                except KeyboardInterrupt:
                    summary.interrupted = True
                finally:
                    if bar is not None:
                        bar.close()
        finally:
            summary.source_stats = dict(vars(session.source.stats)) if hasattr(session.source, "stats") else {}
            session.close()
    summary.tracks = len(seen_ids)
    summary.seconds = time.perf_counter() - started
    return summary


def _progress(info, enabled: bool):
    if not enabled:
        return None
    from tqdm import tqdm

    return tqdm(total=info.frame_count, unit="frame", desc=info.name, dynamic_ncols=True, leave=True)
