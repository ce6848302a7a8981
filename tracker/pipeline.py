"""The streaming pipeline: source -> detector -> appearance -> tracker -> sinks.

:func:`track` is the Python API: a generator of :class:`FrameResult`, one per
frame, that owns and releases every resource it opens. :func:`run` drives it into
the output files and guarantees that whatever was processed is on disk however
the run ends (end of input, Ctrl-C, SIGTERM, or an error): a stop signal that
arrives while a frame is being written waits until that frame is in every output,
and the outputs are closed (the video finalised so it plays) before ``run`` returns
or raises.

The stages overlap in threads: the source decodes in its own thread (:mod:`.sources`),
detection and appearance embedding run in a worker thread feeding a bounded queue
(:class:`~.stages.Stage`, ``pipeline.queue_size``), and tracking, then writing, run in
the caller's thread, one frame at a time and in frame order, so results are those of
running every stage in turn and stop signals are only ever handled between whole frames.
When the detector or the embedder runs on a GPU and takes frames as tensors, the worker
uploads each frame once and both use that copy (:mod:`.detect.frames`).
"""

from __future__ import annotations

import itertools
import logging
import os
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .config import Config, apply_overrides, load_config
from .detect.appearance import build_embedder, embed_detections
from .detect.detectors import build_detector
from .errors import OutputError, SourceError
from .io.files import prepare_out_dir
from .io.sinks import StopRequested, open_sinks
from .io.sources import open_source
from .io.run_folder import CONFIG_NAME, check_out_dir, clear_run_files
from .run_control import StopSignals, batches, check_max_frames, progress_bar
from .stages import Stage
from .structures import FrameResult
from .tracking import build_tracker
from .tracking.camera_motion import CameraMotion

log = logging.getLogger(__name__)

LIVE_QUEUE_SIZE = 1  # live sources: detected frames waiting for the tracker (bounded latency)
# An embedder asked for crops during tracking runs beside the detector, which already has every core: one
# thread of its own. Measured on 2 cores, vtest.avi, default pipeline: 43 fps with 2 threads, 48 with 1.
ON_DEMAND_EMBEDDER_THREADS = 1


def _resolve_config(config: Config | str | os.PathLike | None, overrides=None) -> Config:
    if isinstance(config, Config):
        return apply_overrides(config, overrides) if overrides else config
    return load_config(config, overrides=overrides)


def _time_step(previous, frame, fps: float, live: bool) -> float:
    """Seconds since the previous frame: the clock for live sources (outages, drops), frame numbers for files."""
    if previous is None:
        return 1.0 / fps
    if live:
        return max(frame.time_s - previous.time_s, 1.0 / fps)
    return (frame.index - previous.index) / fps


def embedder_config(cfg: Config, tracker):
    """``cfg.appearance``, with one thread when the tracker asks for crops beside the running detector."""
    if cfg.appearance.threads is None and tracker.embeds_on_demand:
        return cfg.appearance.model_copy(update={"threads": ON_DEMAND_EMBEDDER_THREADS})
    return cfg.appearance


def embedder_for(cfg: Config, tracker, detector, embedder=None):
    """The embedder a run of ``tracker`` on ``detector``'s detections needs: None when the tracker uses no
    appearance, ``appearance.name`` is none or the detections carry their embeddings (``tracker detect``'s
    det.npy); else ``embedder`` when given (loaded once, reused), else the one ``cfg`` names."""
    cached = getattr(detector, "gives_embeddings", False)
    wants = tracker.uses_appearance and cfg.appearance.name != "none" and not cached
    return (embedder or build_embedder(embedder_config(cfg, tracker))) if wants else None


def wants_camera_motion(cfg: Config) -> bool:
    """Whether the tracker's ``cmc`` section (BoT-SORT's) asks for camera motion to be estimated."""
    cmc = getattr(cfg.tracker, "cmc", None)
    return cmc is not None and cmc.method != "none"


def camera_motion_for(cfg: Config) -> CameraMotion | None:
    """The camera-motion estimator the tracker's ``cmc`` section asks for; None for a still camera."""
    return CameraMotion(cfg.tracker.cmc) if wants_camera_motion(cfg) else None


def upload_plan(detector, embedder):
    """(the device each batch of frames is uploaded to, None for none; whether the embedder takes that copy):
    a frame goes to the GPU once when the detector or the embedder takes frames there as tensors."""
    from .detect.frames import frames_device

    embedder_device = frames_device(embedder)
    upload_device = frames_device(detector) or embedder_device
    return upload_device, embedder_device is not None and embedder_device == upload_device


class FrameTracker:
    """The tracking step of one source's detected frames, in frame order: time step, camera motion, embedding on
    demand, tracker update, FrameResult.

    ``on_demand``: the tracker asks ``embedder`` for the crops it needs during its update (BoT-SORT's
    ``embed_on_demand``), unless ``embed_all``; ``embeds_ahead``: the caller embeds every detection before the
    step (the detections carry their embeddings). Neither without an embedder."""

    def __init__(self, tracker, camera_motion, embedder, fps: float, live: bool, class_names, embed_all: bool = False):
        self.tracker = tracker
        self.camera_motion = camera_motion
        self.embedder = embedder
        self.fps = fps
        self.live = live
        self.on_demand = embedder is not None and tracker.embeds_on_demand and not embed_all
        self.embeds_ahead = embedder is not None and not self.on_demand
        self.class_names = tuple(class_names)
        self.last_seconds = 0.0  # time of the latest tracker.update, for benchmarks
        self.last_warp: np.ndarray | None = None  # camera motion of the latest frame
        self._previous = None

    def __call__(self, frame, dets, embed_image, keep_image: bool) -> FrameResult:
        """``embed_image``: the frame as the embedder takes it (its GPU copy when it takes one)."""
        dt = _time_step(self._previous, frame, self.fps, self.live)
        self._previous = frame
        started = time.perf_counter()
        warp = self.camera_motion.estimate(frame.image) if self.camera_motion is not None else None
        self.last_warp = warp
        embed = self._embedding(embed_image, dets.boxes) if self.on_demand else None
        tracks = self.tracker.update(dets, dt=dt, warp=warp, embed=embed)
        self.last_seconds = time.perf_counter() - started
        return FrameResult(
            frame_index=frame.index,
            time_s=frame.time_s,
            tracks=tracks,
            detections=dets,
            image=frame.image if keep_image else None,
            lost=self.tracker.lost_tracks(),
            class_names=self.class_names,
            warp=warp,
        )

    def _embedding(self, image, boxes: np.ndarray):
        """``embed(rows)`` for the tracker: embeddings of the crops of ``boxes[rows]`` in ``image``."""
        return lambda rows: self.embedder.embed(image, boxes[rows])


class Session:
    """The models and the source of one run, built from a :class:`Config`."""

    def __init__(self, source, cfg: Config, detector=None, embedder=None, start_frame: int = 0):
        """start_frame: a file or image folder starts at this frame (see :func:`~tracker.io.sources.open_source`)."""
        self.cfg = cfg
        self.last_tracker_seconds = 0.0  # time of the latest tracker.update, for benchmarks
        self.source = open_source(source, cfg.source, start_frame)  # first: a bad source fails before models load
        try:
            self.detector = detector or build_detector(cfg.detector, source=str(source))
            if getattr(self.detector, "gives_embeddings", False) and cfg.appearance.name == "none":
                self.detector.gives_embeddings = False  # appearance none: the cache's embeddings go unused
            self.fps = cfg.source.fps or self.source.info.fps
            self.tracker = build_tracker(cfg.tracker, self.fps, len(self.detector.class_names))
            self.embedder = embedder_for(cfg, self.tracker, self.detector, embedder)
            # Camera motion is estimated here and handed to the tracker (BoT-SORT's tracker.cmc section sets it up).
            self.camera_motion = camera_motion_for(cfg)
        except BaseException:
            self.source.close()
            raise
        self.last_warp: np.ndarray | None = None  # camera motion of the latest frame, for tuning to record
        # frames go to the GPU once, in the detection worker, when a model there takes them as tensors
        self.upload_device, self._embed_uploaded = upload_plan(self.detector, self.embedder)
        self._stages: list[Stage] = []  # detection workers still running; stopped by close()

    @property
    def info(self):
        return self.source.info

    @property
    def class_names(self) -> list[str]:
        return list(self.detector.class_names)

    def close(self) -> None:
        """Stop the detection worker and the decoding thread and release the source; safe to call again."""
        for stage in self._stages:
            stage.request_stop()
        self.source.close()  # wakes a worker waiting for a frame
        while self._stages:
            self._stages.pop().close()

    def _detected(self, frames, batch_size: int, embed: bool) -> Iterator[tuple]:
        """(frame, detections, with embeddings when ``embed``, the image the embedder takes) in source order;
        runs in the detection worker thread. That image is the frame's GPU copy when the embedder takes one."""
        from .detect.frames import detect_batch

        for batch in batches(frames, batch_size):
            for frame, dets, image in detect_batch(self.detector, batch, (self.upload_device, self._embed_uploaded)):
                if embed:
                    embed_detections(self.embedder, image, dets)
                yield frame, dets, image

    def results(self, keep_images: bool = False, max_frames: int | None = None,
                embed_all: bool = False) -> Iterator[FrameResult]:  # fmt: skip
        """One FrameResult per frame of the source, in order; at most ``max_frames`` of them when given.

        Detection and embedding run in a worker thread up to ``pipeline.queue_size`` frames ahead
        (files, in batches of ``detector.batch_size``, and at least a batch ahead); live sources go frame by frame with one
        frame in flight, so latency stays bounded while the source drops stale frames. Tracking
        runs here, in the caller's thread, in frame order. A tracker that embeds on demand
        (BoT-SORT's ``embed_on_demand``) asks for the crops it needs during its update instead, so
        the detections it is given carry no embeddings, unless ``embed_all`` (every detection is
        embedded in the worker, as tuning needs). A worker error is raised here as it was raised
        there; the worker is stopped however iteration ends.
        """
        check_max_frames(max_frames)
        live = self.info.is_live
        batch_size = 1 if live else self.cfg.detector.batch_size
        # files: room for a whole batch at least, so the worker detects the next batch (on a GPU) while
        # this one is tracked and written
        queue_size = LIVE_QUEUE_SIZE if live else max(self.cfg.pipeline.queue_size, batch_size)
        frames = self.source if max_frames is None else itertools.islice(self.source, max_frames)
        step = FrameTracker(self.tracker, self.camera_motion, self.embedder, self.fps, live,
                            self.detector.class_names, embed_all)  # fmt: skip
        stage = Stage("detect", lambda: self._detected(frames, batch_size, step.embeds_ahead), queue_size)
        self._stages.append(stage)
        try:
            for frame, dets, embed_image in stage:
                result = step(frame, dets, embed_image, keep_images)
                self.last_warp, self.last_tracker_seconds = step.last_warp, step.last_seconds
                yield result
        finally:
            stage.request_stop()
            if not live:  # a file worker is at most one detector call from stopping
                stage.close()
                with suppress(ValueError):  # close() may have taken it already
                    self._stages.remove(stage)
            # a live worker may wait for the next frame (or a reconnect): close() wakes and joins it


def track(
    source,
    config: Config | str | os.PathLike | None = None,
    *,
    overrides=None,
    keep_images: bool = False,
    max_frames: int | None = None,
    detector=None,
    embedder=None,
) -> Iterator[FrameResult]:
    """Track objects in ``source`` and yield one :class:`FrameResult` per frame.

    source: video path, MOTChallenge sequence folder, webcam index or stream URL.
    config: a :class:`Config`, a YAML path, or None for ``configs/default.yaml``.
    overrides: ``["tracker.max_age=60"]`` or ``{"tracker.max_age": 60}``.
    keep_images: attach each BGR frame to its result (for drawing).
    max_frames: stop after this many frames (None: the whole source).
    detector / embedder: prebuilt models to reuse across calls.
    """
    cfg = _resolve_config(config, overrides)
    check_max_frames(max_frames)
    session = Session(source, cfg, detector=detector, embedder=embedder)
    try:
        yield from session.results(keep_images=keep_images, max_frames=max_frames)
    finally:
        session.close()


SCORE_BINS = 100  # DetectionStats keeps each frame's best score in a histogram of this many bins over 0..1


@dataclass
class DetectionStats:
    """The detections the tracker was given over a run: what explains a run that reported no track."""

    start_thresholds: dict[str, float] = field(default_factory=dict)  # ``tracker.*`` scores that start a track
    detections: int = 0
    startable: int = 0  # detections scoring at least every start threshold: the ones that may start a track
    max_score: float | None = None  # None without detections
    frame_best: np.ndarray = field(default_factory=lambda: np.zeros(SCORE_BINS, np.int64))  # histogram

    def add(self, scores: np.ndarray) -> None:
        """Count one frame's detection scores."""
        finite = scores[np.isfinite(scores)]
        self.detections += len(scores)
        if len(finite) == 0:
            return
        best = float(finite.max())
        self.max_score = best if self.max_score is None else max(self.max_score, best)
        self.frame_best[min(int(np.clip(best, 0.0, 1.0) * SCORE_BINS), SCORE_BINS - 1)] += 1
        self.startable += int(np.count_nonzero(finite >= max(self.start_thresholds.values(), default=0.0)))

    def typical_frame_best(self) -> float | None:
        """The median, over frames with detections, of each frame's best score (rounded down to a bin edge)."""
        total = int(self.frame_best.sum())
        if total == 0:
            return None
        return int(np.searchsorted(np.cumsum(self.frame_best), (total + 1) // 2)) / SCORE_BINS


@dataclass
class RunSummary:
    """What a :func:`run` did; filled in however the run ends."""

    out_dir: Path
    frames: int = 0  # frames written to every output
    tracks: int = 0  # distinct track ids reported
    seconds: float = 0.0  # tracking time, model loading excluded
    interrupted: bool = False  # stopped by Ctrl-C or SIGTERM
    quit: bool = False  # the user pressed q / Esc in the live window or closed it: a normal end
    last_frame: int | None = None  # source frame index of the last frame written (0-based, as in tracks.csv)
    # The source failed after the run started (a truncated or corrupt file, a stream that did not come back):
    # the outputs are complete and valid up to ``last_frame``. None when the source ended normally.
    source_error: SourceError | None = None
    detection_stats: DetectionStats = field(default_factory=DetectionStats)  # explains a run without tracks
    outputs: list[Path] = field(default_factory=list)
    source_stats: dict = field(default_factory=dict)  # SourceStats: frames_read, failed_reads, dropped_frames, ...
    invalid_detections: int = 0  # detections dropped by the tracker: NaN/inf or zero/negative size
    is_live: bool = False  # camera or stream
    frame_count: int | None = None  # frames the source yields (SourceInfo.processed_frames); None when unknown
    source_fps: float = 0.0  # frames per second tracking ran at (source.fps, else the source's own)
    counts: dict | None = None  # with counting: every line's and zone's totals (analyze.counting.Counter.report)

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else 0.0


def _write_config(out: Path, cfg: Config) -> None:
    path = out / CONFIG_NAME
    try:
        path.write_text(cfg.to_yaml())
    except OSError as exc:
        problem = f"cannot write {path}: {exc.strerror}"
        raise OutputError(problem, "Free disk space or choose another --out folder") from None


def run(
    source,
    out_dir: str | os.PathLike,
    config: Config | str | os.PathLike | None = None,
    *,
    overrides=None,
    progress: bool = True,
    max_frames: int | None = None,
    detector=None,
    embedder=None,
    start_frame: int = 0,
    on_frame: Callable[[RunSummary], None] | None = None,
) -> RunSummary:
    """Track ``source`` and write the outputs named in ``config.output`` into ``out_dir``.

    Once the run starts (source and models loaded, outputs checked), the files an earlier run left
    in ``out_dir`` are deleted (:func:`~tracker.io.run_folder.clear_run_files`; other files stay); a run
    that fails before that leaves the folder as it was, and removes it when it made it.
    max_frames: stop after this many frames (None: the whole source).
    start_frame: a file or image folder starts at this frame (a part of a long file, ``--chunks``).
    on_frame: called with the summary after each frame reached every output; a KeyboardInterrupt it raises
    stops the run as Ctrl-C does (how a batch worker is stopped by a driver on another machine).
    Everything processed is flushed and the video finalised even when the run is
    stopped by Ctrl-C / SIGTERM (``summary.interrupted`` is then True), from the live window
    (``summary.quit``) or fails. A source that fails after frames were written (a truncated
    file, a stream that does not come back) does not raise: ``summary.source_error`` holds
    the error, and the outputs are complete up to ``summary.last_frame``.
    The tracks are written as the tracker reported them: smoothing them is a step of its
    own, over the files of the finished run (:func:`tracker.analyze.smoothing.smooth_finished_run`,
    which ``tracker track`` calls next with ``smoothing.enabled``, the default).
    """
    cfg = _resolve_config(config, overrides)
    check_max_frames(max_frames)
    made = not check_out_dir(out_dir).exists()
    out = prepare_out_dir(out_dir)  # an unusable folder fails before the models load
    with StopSignals() as signals:
        try:
            session = Session(source, cfg, detector=detector, embedder=embedder, start_frame=start_frame)
        except BaseException:
            _remove_if_empty(out, made)
            raise
        try:
            results = session.results(keep_images=wants_images(cfg), max_frames=max_frames)
            summary = _write_results(
                results, out, made, cfg, session.info, session.class_names, signals, progress=progress,
                max_frames=max_frames, on_frame=on_frame, start_thresholds=session.tracker.start_thresholds,
            )
        finally:
            with signals.deferred(raise_after=False):
                source_stats = dict(vars(session.source.stats)) if hasattr(session.source, "stats") else {}
                invalid = int(getattr(session.tracker, "invalid_detections", 0))
                session.close()
    summary.source_stats, summary.invalid_detections = source_stats, invalid
    return summary


def wants_images(cfg: Config) -> bool:
    """Whether a run's FrameResults must carry their images: something draws or crops them."""
    return cfg.output.video or cfg.output.show or cfg.output.save_crops or cfg.serve.port is not None


def write_run(
    results: Iterable[FrameResult],
    out_dir: str | os.PathLike,
    cfg: Config,
    info,
    class_names,
    *,
    progress: bool = False,
    on_frame: Callable[[RunSummary], None] | None = None,
    start_thresholds: dict | None = None,
) -> RunSummary:
    """Write ``results``, FrameResults of the source ``info`` describes made elsewhere (with images when
    :func:`wants_images`), into ``out_dir`` exactly as :func:`run` writes a tracked source: the same files,
    earlier run's files cleared, progress bar, stop signals between whole frames, ``on_frame``. For a file
    tracked in parts and stitched, and for each stream of ``tracker track --sources``; the caller owns
    ``results`` and whatever feeds it. ``start_thresholds``: the tracker's, for the zero-track diagnosis."""
    made = not check_out_dir(out_dir).exists()
    out = prepare_out_dir(out_dir)
    with StopSignals() as signals:
        summary = _write_results(results, out, made, cfg, info, class_names, signals, progress=progress,
                                 on_frame=on_frame, start_thresholds=start_thresholds or {})  # fmt: skip
    return summary


def _write_results(results, out: Path, made: bool, cfg: Config, info, class_names, signals: StopSignals, *,
                   progress: bool, start_thresholds: dict, max_frames: int | None = None,
                   on_frame=None) -> RunSummary:  # fmt: skip
    """Open the outputs, write every result a whole frame at a time, and close them however the loop ends."""
    summary = RunSummary(out_dir=out, is_live=info.is_live, frame_count=info.processed_frames,
                         source_fps=cfg.source.fps or info.fps)  # the rate the tracker ran at (Session.fps)
    try:
        sinks = open_sinks(
            out, cfg.output, info, class_names, counting=cfg.counting, serve=cfg.serve,
            before_writing=lambda: clear_run_files(out),  # the run starts: an earlier one's files go
            camera_motion=wants_camera_motion(cfg),
        )
    except BaseException:
        _remove_if_empty(out, made)
        raise
    seen_ids: set[int] = set()
    try:
        _write_config(out, cfg)  # once the run starts: a failed start keeps an earlier run's config
        summary.outputs = list(getattr(sinks, "paths", []))
        summary.detection_stats.start_thresholds = dict(start_thresholds)
        bar = progress_bar(info, progress, max_frames)
        started = time.perf_counter()  # models are loaded: time the tracking alone
        try:
            for result in results:
                with signals.deferred():  # a frame reaches every output, or none
                    try:
                        sinks.write(result)
                    except StopRequested:  # q / Esc or a closed window: the user ended the run
                        summary.quit = True  # the window is the last output: the frame is in every file
                    summary.frames += 1
                    summary.last_frame = result.frame_index
                    seen_ids.update(result.tracks.track_ids.tolist())
                    summary.detection_stats.add(result.detections.scores)
                if summary.quit:
                    break
                if bar is not None:
                    bar.set_postfix_str(f"tracks={len(result.tracks)}", refresh=False)
                    bar.update(1)
                if on_frame is not None:
                    on_frame(summary)
        except KeyboardInterrupt:
            summary.interrupted = True
        except SourceError as exc:  # the source broke mid-run; every frame before it is written
            if summary.frames == 0:
                raise
            summary.source_error = exc
        finally:
            if bar is not None:
                bar.close()
    finally:
        with signals.deferred(raise_after=False):  # a second Ctrl-C must not tear the video
            sinks.close()
        summary.counts = sinks.counter.report() if sinks.counter is not None else None
    summary.tracks = len(seen_ids)
    summary.seconds = time.perf_counter() - started
    return summary


def _remove_if_empty(out: Path, made: bool) -> None:
    """A run that made ``out`` and failed before writing anything leaves no empty folder behind."""
    if made:
        with suppress(OSError):  # it holds something after all
            out.rmdir()
