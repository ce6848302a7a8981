"""Frame sources: video files, image folders (MOTChallenge sequences), webcams and streams.

:func:`open_source` checks the source and decodes its first frame in the caller's
thread, so every problem a user can fix surfaces as a :class:`SourceError` before
tracking starts. Decoding then runs in a daemon thread that feeds a bounded queue;
the :class:`FrameSource` iterates :class:`Frame` objects from it and, as a context
manager, stops the thread and releases the capture however iteration ends.

Files and image folders are read completely and in order: a frame that fails to
decode is skipped and counted, and too many consecutive failures end the run with a
:class:`SourceError`. Live sources (cameras, streams) keep only the newest frame when
the consumer falls behind (``source.drop_stale_frames``) and reconnect with
exponential backoff when the connection drops.
"""

from __future__ import annotations

import logging
import math
import os
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit, urlunsplit

import cv2
import numpy as np

from ..config import SourceConfig
from ..errors import SourceError
from ..stages import Stage
from .mot import IMAGE_SUFFIXES, image_files, locate_images

log = logging.getLogger(__name__)

_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")  # rtsp://, http://, udp://, ...
MAX_BACKOFF_FACTOR = 8  # reconnect waits double from reconnect_backoff_s up to this multiple
LIVE_QUEUE_SIZE = 1  # with drop_stale_frames a live source holds only its newest frame
JOIN_MARGIN_S = 2.0  # close(): wait this much beyond one read timeout for the reader thread
# Containers without a frame index (mkv, webm, ...) estimate the frame count from the
# duration; a file that ends this close to its declared count has simply ended.
FRAME_COUNT_SLACK_FRAMES = 2
FRAME_COUNT_SLACK_FRACTION = 0.01

SourceKind = Literal["file", "camera", "stream", "images"]


@dataclass(frozen=True)
class SourceInfo:
    """What is known about a source once it is open."""

    uri: str  # path, camera index or URL (credentials removed)
    kind: SourceKind
    name: str  # short human name: file stem, sequence name, camera0, stream path
    fps: float  # source.fps override, else the reported rate, else seqinfo.ini / source.default_fps
    width: int
    height: int
    frame_count: int | None  # None when unknown (live sources)
    is_live: bool
    vid_stride: int = 1  # source.vid_stride: only every vid_stride-th frame is decoded and yielded

    @property
    def processed_fps(self) -> float:
        """Frames per second of source time that the pipeline processes (``fps / vid_stride``)."""
        return self.fps / self.vid_stride

    @property
    def processed_frames(self) -> int | None:
        """How many frames the source yields: every ``vid_stride``-th of ``frame_count``; None when unknown."""
        return None if self.frame_count is None else -(-self.frame_count // self.vid_stride)


@dataclass
class Frame:
    """One decoded frame."""

    index: int  # 0-based position; live sources: frames read so far, dropped ones included
    time_s: float  # index / fps for files and images; seconds since the first frame for live sources
    image: np.ndarray  # BGR uint8 (H, W, 3)


@dataclass
class SourceStats:
    """Counters of one source, updated by its reader thread."""

    frames_read: int = 0  # frames decoded
    failed_reads: int = 0  # frames skipped because they could not be decoded
    dropped_frames: int = 0  # live: decoded frames discarded because a newer one arrived
    outages: int = 0  # live: times the connection dropped
    reconnects: int = 0  # live: times it came back


class FrameSource:
    """Iterator of :class:`Frame` fed by a decoding thread (a :class:`~tracker.stages.Stage`); a context
    manager that releases the capture on exit.

    ``info`` describes the source and ``stats`` counts reads, failures, drops and outages. With
    ``drop_stale`` (live sources) a full queue drops its oldest frame, so the consumer always gets
    recent frames; each drop is counted in ``stats.dropped_frames``.
    """

    def __init__(
        self,
        info: SourceInfo,
        first: Frame,
        rest: Iterator[Frame],
        stats: SourceStats,
        *,
        queue_size: int,
        drop_stale: bool,
        join_timeout_s: float,
        stop: threading.Event | None = None,
    ):
        self.info = info
        self.stats = stats

        def frames() -> Iterator[Frame]:
            try:
                yield first
                yield from rest
            finally:
                rest.close()  # the reader's cleanup (capture release) runs in the decoding thread

        self._stage = Stage(
            f"source:{info.name}", frames, queue_size,
            drop_oldest=drop_stale, on_drop=self._count_drop, stop=stop, join_timeout_s=join_timeout_s,
        )  # fmt: skip

    def _count_drop(self) -> None:
        self.stats.dropped_frames += 1

    def __iter__(self) -> FrameSource:
        return self

    def __next__(self) -> Frame:
        return next(self._stage)

    def poll(self) -> Frame | None:
        """The next frame if one is decoded, else None without waiting (see :meth:`Stage.poll`)."""
        return self._stage.poll()

    def __enter__(self) -> FrameSource:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """Stop the reader thread and release the capture; safe to call more than once."""
        self._stage.close()

    @property
    def closed(self) -> bool:
        return self._stage.closed


# readers: generators run in the reader thread; their `finally` releases the capture


def _file_frames(
    cap: cv2.VideoCapture, label: str, frame_count: int | None, fps: float, max_failed: int, stats: SourceStats,
    stride: int = 1, start: int = 0,
) -> Iterator[Frame]:
    """Frames of a finite video from frame ``start`` (where ``cap`` stands); undecodable frames are skipped
    and counted.

    OpenCV's read() also fails at the end of a file, so a failure only counts as a
    broken frame when a later read succeeds; a run of more than ``max_failed``
    failures is the end of the file if it comes near the declared frame count and a
    :class:`SourceError` otherwise. Only frames whose index is a multiple of ``stride``
    are retrieved (converted to BGR) and yielded; the others are only grabbed.
    """
    try:
        index = start  # position of the next frame
        pending = 0  # consecutive failed reads not yet known to be mid-file failures
        while True:
            grabbed = cap.grab()
            skip = grabbed and (index + pending) % stride != 0
            image = None if skip or not grabbed else cap.retrieve()[1]
            if image is None and not skip:
                if frame_count is not None and index >= frame_count:
                    return
                pending += 1
                if pending <= max_failed:
                    continue
                if frame_count is None or index >= frame_count - _frame_count_slack(frame_count):
                    if frame_count is not None and index < frame_count:
                        log.info("%s ended after %d of the %d frames its container declares", label, index, frame_count)
                    return
                stats.failed_reads += pending
                raise SourceError(
                    f"{label} stopped decoding at frame {index} of {frame_count} ({pending} reads failed in a row)",
                    "The file is truncated or corrupt; re-encode it (e.g. ffmpeg -i in.mp4 out.mp4) "
                    "or raise source.max_failed_reads",
                )
            if pending:
                log.warning("%s: skipped %d undecodable frame(s) before frame %d", label, pending, index + pending)
                stats.failed_reads += pending
                index += pending
                pending = 0
            if not skip:
                stats.frames_read += 1
                yield Frame(index, index / fps, image)
            index += 1
    finally:
        cap.release()


def _frame_count_slack(frame_count: int) -> int:
    return max(FRAME_COUNT_SLACK_FRAMES, math.ceil(frame_count * FRAME_COUNT_SLACK_FRACTION))


def _image_frames(files: list[Path], fps: float, max_failed: int, stats: SourceStats,
                  stride: int = 1, start: int = 0) -> Iterator[Frame]:  # fmt: skip
    """Frames of an image folder from image ``start``, every ``stride``-th image of the folder only; every image
    must have the first one's size."""
    shape = None
    consecutive = 0
    for index in range(-(-start // stride) * stride, len(files), stride):
        path = files[index]
        image = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if image is None:
            stats.failed_reads += 1
            consecutive += 1
            log.warning("cannot decode image %s; skipped", path)
            if consecutive > max_failed:
                raise SourceError(
                    f"{consecutive} images in a row cannot be decoded (last: {path})",
                    "Replace or remove the broken images, or raise source.max_failed_reads",
                )
            continue
        consecutive = 0
        if shape is None:
            shape = image.shape
        elif image.shape != shape:
            raise SourceError(
                f"image {path} is {image.shape[1]}x{image.shape[0]} but the sequence is {shape[1]}x{shape[0]}",
                "All images of a folder must have the same size; resize or remove it",
            )
        stats.frames_read += 1
        yield Frame(index, index / fps, image)


def _live_frames(
    cap: cv2.VideoCapture,
    reopen: Callable[[], cv2.VideoCapture],
    label: str,
    cfg: SourceConfig,
    stats: SourceStats,
    stop: threading.Event,
) -> Iterator[Frame]:
    """Frames of a camera or stream, reconnecting when it drops; only every ``source.vid_stride``-th frame
    is retrieved and yielded (the others are only grabbed)."""
    try:
        ok, image = _read(cap, True)
        if not ok:
            raise SourceError(
                f"{label} opened but sent no frame within {cfg.stream_timeout_s:g} s",
                "Check that the camera or stream is delivering video, or raise source.stream_timeout_s",
            )
        start = now = time.monotonic()
        index = 0
        while True:
            if image is not None:
                stats.frames_read += 1
                yield Frame(index, now - start, image)
            index += 1
            wanted = index % cfg.vid_stride == 0
            ok, image = _read(cap, wanted)
            while not ok:
                cap.release()
                stats.outages += 1
                log.warning("%s: connection lost; reconnecting for up to %g s", label, cfg.reconnect_timeout_s)
                cap = _reconnect(reopen, label, cfg, stats, stop)
                if cap is None:
                    return
                ok, image = _read(cap, wanted)
            now = time.monotonic()
    finally:
        cap.release()


def _read(cap: cv2.VideoCapture, retrieve: bool) -> tuple[bool, np.ndarray | None]:
    """(whether a frame arrived, its image when ``retrieve``, else None: the frame is skipped undecoded)."""
    if not retrieve:
        return cap.grab(), None
    ok, image = cap.read()
    return ok and image is not None, image


def _reconnect(
    reopen: Callable[[], cv2.VideoCapture], label: str, cfg: SourceConfig, stats: SourceStats, stop: threading.Event
) -> cv2.VideoCapture | None:
    """An open capture, None if the source is being closed; SourceError after reconnect_timeout_s."""
    started = time.monotonic()
    deadline = started + cfg.reconnect_timeout_s
    wait = cfg.reconnect_backoff_s
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise SourceError(
                f"{label} dropped and did not come back within {cfg.reconnect_timeout_s:g} s",
                "Check the camera or network, or raise source.reconnect_timeout_s",
            )
        if stop.wait(min(wait, remaining)):
            return None
        cap = reopen()
        if cap.isOpened():
            stats.reconnects += 1
            log.warning("%s: reconnected after %.1f s", label, time.monotonic() - started)
            return cap
        cap.release()
        wait = min(wait * 2, cfg.reconnect_backoff_s * MAX_BACKOFF_FACTOR)


# opening -------------------------------------------------------------------------


def open_source(spec: str | int | os.PathLike, cfg: SourceConfig, start_frame: int = 0) -> FrameSource:
    """Open a video file, image folder / MOTChallenge sequence, webcam index or stream URL.

    start_frame: files and image folders start at this 0-based frame (frame indices and times stay those
    of the whole source, and ``source.vid_stride`` keeps the whole source's frames); a live source cannot.
    Raises :class:`SourceError` when the source does not exist, cannot be opened or
    yields no frame.
    """
    if isinstance(spec, (int, np.integer)) and not isinstance(spec, bool):
        _check_start(f"camera {int(spec)}", start_frame, None, live=True)
        return _open_camera(int(spec), cfg)
    text = os.fspath(spec)
    if text.strip().isdigit():
        _check_start(f"camera {text.strip()}", start_frame, None, live=True)
        return _open_camera(int(text.strip()), cfg)
    if _URL.match(text):
        return _open_stream(text, cfg, start_frame)
    path = Path(text)
    if not path.exists():
        raise SourceError(
            f"source not found: {text}",
            "Check the path, or pass a webcam index (0) or a stream URL (rtsp://...)",
        )
    if path.is_dir():
        return _open_images(path, cfg, start_frame)
    return _open_video(path, cfg, start_frame)


def is_live_spec(spec: str | int | os.PathLike) -> bool:
    """Whether ``spec`` names a camera index or a URL (a stream) rather than a local file or folder."""
    text = str(spec) if isinstance(spec, (int, np.integer)) else os.fspath(spec)
    return text.strip().isdigit() or bool(_URL.match(text))


def source_name(spec: str | int | os.PathLike) -> str:
    """A short name for ``spec`` without opening it, as :attr:`SourceInfo.name` will be: the file stem, the
    sequence or folder name, ``camera0``, or the stream's path stem or host."""
    text = str(spec) if isinstance(spec, (int, np.integer)) else os.fspath(spec)
    if text.strip().isdigit():
        return f"camera{int(text)}"
    if _URL.match(text):
        return _stream_name(text)
    path = Path(text)
    return locate_images(path)[2] if path.is_dir() else path.stem


def _check_start(label: str, start: int, frame_count: int | None, live: bool = False) -> None:
    """SourceError when a source cannot start at frame ``start``."""
    if start and live:
        raise SourceError(f"{label} is live: it cannot start at frame {start}", "Start it at frame 0")
    if frame_count is not None and start >= frame_count:
        raise SourceError(f"{label} has {frame_count} frames: it cannot start at frame {start}", "Start it earlier")


def _seek(cap: cv2.VideoCapture, start: int) -> None:
    """Put ``cap`` on frame ``start``: a container seek when it lands exactly, else frames grabbed and dropped."""
    if start and not (cap.set(cv2.CAP_PROP_POS_FRAMES, start) and cap.get(cv2.CAP_PROP_POS_FRAMES) == start):
        cap.set(cv2.CAP_PROP_POS_FRAMES, 0)
        for _ in range(start):
            if not cap.grab():
                return  # the first read then fails: the caller reports a short file


def _start_at(cap: cv2.VideoCapture, label: str, count: int | None, start: int, live: bool = False) -> None:
    """Put ``cap`` on frame ``start``; SourceError (``cap`` released) when its source cannot start there."""
    try:
        _check_start(label, start, count, live)
    except SourceError:
        cap.release()
        raise
    if not live:
        _seek(cap, start)


def _fps(reported: float | None, cfg: SourceConfig, label: str) -> float:
    if cfg.fps is not None:
        return float(cfg.fps)
    if reported is not None and math.isfinite(reported) and reported > 0:
        return float(reported)
    log.warning("%s reports no frame rate; using source.default_fps = %g", label, cfg.default_fps)
    return float(cfg.default_fps)


def _frame_count(cap: cv2.VideoCapture) -> int | None:
    n = cap.get(cv2.CAP_PROP_FRAME_COUNT)
    return int(n) if math.isfinite(n) and n > 0 else None


def _first(frames: Iterator[Frame], problem: str, fix: str) -> Frame:
    try:
        return next(frames)
    except StopIteration:
        raise SourceError(problem, fix) from None


def _start(
    info_args: dict,
    first: Frame,
    rest: Iterator[Frame],
    stats: SourceStats,
    cfg: SourceConfig,
    live: bool,
    stop: threading.Event | None = None,
) -> FrameSource:
    height, width = first.image.shape[:2]
    info = SourceInfo(width=int(width), height=int(height), is_live=live, vid_stride=cfg.vid_stride, **info_args)
    drop = live and cfg.drop_stale_frames
    try:
        return FrameSource(
            info, first, rest, stats,
            queue_size=LIVE_QUEUE_SIZE if drop else cfg.queue_size,
            drop_stale=drop,
            join_timeout_s=cfg.stream_timeout_s + JOIN_MARGIN_S,
            stop=stop,
        )
    except BaseException:
        rest.close()
        raise


def _open_video(path: Path, cfg: SourceConfig, start: int = 0) -> FrameSource:
    if path.stat().st_size == 0:
        raise SourceError(f"video file {path} is empty (0 bytes)", "Copy or export the video again")
    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        cap.release()
        raise SourceError(
            f"cannot open video {path}: not a format OpenCV can read, or the file is corrupt",
            "Check it with ffprobe, or re-encode it (e.g. ffmpeg -i in out.mp4)",
        )
    label = f"video {path}"
    fps = _fps(cap.get(cv2.CAP_PROP_FPS), cfg, label)
    count = _frame_count(cap)
    _start_at(cap, label, count, start)
    stats = SourceStats()
    frames = _file_frames(cap, label, count, fps, cfg.max_failed_reads, stats, cfg.vid_stride, start)
    first = _first(
        frames, f"video {path} opens but has no readable frame" + (f" from frame {start}" if start else ""),
        "The file is empty or uses a codec OpenCV cannot decode; re-encode it (e.g. ffmpeg -i in out.mp4)",
    )
    info = dict(uri=str(path), kind="file", name=path.stem, fps=fps, frame_count=count)
    return _start(info, first, frames, stats, cfg, live=False)


def _open_images(path: Path, cfg: SourceConfig, start: int = 0) -> FrameSource:
    image_dir, seqinfo, name = locate_images(path)
    if not image_dir.is_dir():
        raise SourceError(
            f"sequence {path} has a seqinfo.ini but no image folder {image_dir.name}/",
            "Add the images, fix imDir in seqinfo.ini, or pass the sequence's video file instead",
        )
    files = image_files(image_dir)
    if not files:
        raise SourceError(
            f"no images in folder {image_dir}",
            f"Pass a folder of {'/'.join(sorted(IMAGE_SUFFIXES))} images, a MOTChallenge sequence with img1/, "
            "or a video file",
        )
    reported = None
    if "framerate" in seqinfo:
        try:
            reported = float(seqinfo["framerate"])
        except ValueError:
            raise SourceError(
                f"frameRate {seqinfo['framerate']!r} in the seqinfo.ini of {path} is not a number",
                "Fix it or set source.fps",
            ) from None
    fps = _fps(reported, cfg, f"image folder {image_dir}")
    _check_start(f"image folder {image_dir}", start, len(files))
    stats = SourceStats()
    frames = _image_frames(files, fps, cfg.max_failed_reads, stats, cfg.vid_stride, start)
    first = _first(frames, f"no image in {image_dir} can be decoded", "Replace the broken images")
    info = dict(uri=str(path), kind="images", name=name, fps=fps, frame_count=len(files))
    return _start(info, first, frames, stats, cfg, live=False)


def _connect(connect: Callable[[], cv2.VideoCapture], problem: str, fix: str) -> cv2.VideoCapture:
    """``connect()``, or SourceError(problem, fix) when the capture does not open."""
    cap = connect()
    if not cap.isOpened():
        cap.release()
        raise SourceError(problem, fix)
    return cap


def _start_live(cap, connect, label: str, info: dict, stats: SourceStats, cfg: SourceConfig, fix: str) -> FrameSource:
    """A live source (camera, endless stream) read from ``cap``, reconnecting with ``connect``."""
    stop = threading.Event()
    frames = _live_frames(cap, connect, label, cfg, stats, stop)
    first = _first(frames, f"{label} sent no frame", fix)
    return _start(info, first, frames, stats, cfg, live=True, stop=stop)


def _open_camera(index: int, cfg: SourceConfig) -> FrameSource:
    label = f"camera {index}"

    def connect() -> cv2.VideoCapture:
        return cv2.VideoCapture(index)

    cap = _connect(
        connect, f"cannot open {label}",
        "Check the index (0 is the first camera), that it is connected and that no other program uses it",
    )  # fmt: skip
    fps = _fps(cap.get(cv2.CAP_PROP_FPS), cfg, label)
    info = dict(uri=str(index), kind="camera", name=f"camera{index}", fps=fps, frame_count=None)
    return _start_live(cap, connect, label, info, SourceStats(), cfg, "Check the camera")


def redact_url(url: str) -> str:
    """``url`` with any password replaced by ``***``, for messages and logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    return urlunsplit(parts._replace(netloc=f"{parts.username}:***@{host}"))


def _stream_name(url: str) -> str:
    parts = urlsplit(url)
    stem = Path(parts.path).stem
    return stem or parts.hostname or "stream"


def _open_stream(url: str, cfg: SourceConfig, start: int = 0) -> FrameSource:
    shown = redact_url(url)
    label = f"stream {shown}"
    timeout_ms = int(cfg.stream_timeout_s * 1000)
    params = [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, timeout_ms, cv2.CAP_PROP_READ_TIMEOUT_MSEC, timeout_ms]

    def connect() -> cv2.VideoCapture:
        return cv2.VideoCapture(url, cv2.CAP_FFMPEG, params)

    cap = _connect(
        connect, f"cannot connect to {label}",
        "Check the URL, that the server is running and reachable, and any user name or password",
    )  # fmt: skip
    fps = _fps(cap.get(cv2.CAP_PROP_FPS), cfg, label)
    count = _frame_count(cap)
    stats = SourceStats()
    info = dict(uri=shown, kind="stream", name=_stream_name(url), fps=fps, frame_count=count)
    _start_at(cap, label, count, start, live=count is None)
    if count is not None:  # a finite file served over the network: read it like a local video
        frames = _file_frames(cap, label, count, fps, cfg.max_failed_reads, stats, cfg.vid_stride, start)
        first = _first(frames, f"{label} has no readable frame", "Check the URL points to a video")
        return _start(info, first, frames, stats, cfg, live=False)
    return _start_live(cap, connect, label, info, stats, cfg, "Check the stream")
