"""``tracker detect``: run the detector (and the appearance embedder) over a source once and cache the
result (:mod:`tracker.io.det_cache`), so that ``track``, ``eval`` and ``tune`` can reuse it through the
``mot`` detector without running any model again.

Every detection the detector returns is kept (``detector.conf_threshold`` and ``detector.classes``
apply, as they do when tracking) and, unless ``appearance.name`` is ``none``, embedded. Like
:func:`tracker.pipeline.run`, a Ctrl-C or SIGTERM stops cleanly and the cache keeps every frame done.
"""

from __future__ import annotations

import itertools
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from ..config import Config
from ..io.det_cache import CacheWriter
from ..io.files import prepare_out_dir
from ..io.sources import open_source
from ..run_control import StopSignals, batches, check_max_frames, progress_bar
from .appearance import build_embedder, embed_detections
from .detectors import build_detector


@dataclass
class CacheSummary:
    """What :func:`cache_detections` did."""

    out_dir: Path
    frames: int = 0
    detections: int = 0
    embedding_dim: int | None = None  # None: not embedded
    seconds: float = 0.0
    interrupted: bool = False
    outputs: list[Path] = field(default_factory=list)


def cache_detections(source, out_dir: str | os.PathLike, cfg: Config, *, progress: bool = True,
                     max_frames: int | None = None) -> CacheSummary:  # fmt: skip
    """Detect (and embed) every frame of ``source`` (every ``source.vid_stride``-th) into ``out_dir``."""
    check_max_frames(max_frames)
    out = prepare_out_dir(out_dir)
    summary = CacheSummary(out_dir=out)
    with StopSignals() as signals:
        frames = open_source(source, cfg.source)  # first: a bad source fails before models load
        try:
            detector = build_detector(cfg.detector, source=str(source))
            embedder = build_embedder(cfg.appearance)
            summary.embedding_dim = None if embedder is None else int(embedder.dim)
            info = frames.info
            writer = CacheWriter(out, detector.class_names, summary.embedding_dim, {
                "source": info.uri, "fps": info.fps, "vid_stride": info.vid_stride,
                "detector": cfg.detector.model_dump(mode="json"),
                "appearance": None if embedder is None else cfg.appearance.model_dump(mode="json"),
            })  # fmt: skip
            summary.outputs = writer.paths
            bar = progress_bar(info, progress, max_frames)
            started = time.perf_counter()
            try:
                todo = frames if max_frames is None else itertools.islice(frames, max_frames)
                for batch in batches(todo, cfg.detector.batch_size):
                    found = detector.detect([f.image for f in batch], [f.index for f in batch])
                    for frame, dets in zip(batch, found):
                        if embedder is not None:
                            embed_detections(embedder, frame.image, dets)
                        with signals.deferred():  # a frame is in det.txt and det.npy, or in neither
                            writer.write(frame.index, dets)
                            summary.frames += 1
                            summary.detections += len(dets)
                    if bar is not None:
                        bar.update(len(batch))
            except KeyboardInterrupt:
                summary.interrupted = True
            finally:
                summary.seconds = time.perf_counter() - started
                if bar is not None:
                    bar.close()
                with signals.deferred(raise_after=False):
                    writer.close(complete=not summary.interrupted and max_frames is None)
        finally:
            frames.close()
    return summary
