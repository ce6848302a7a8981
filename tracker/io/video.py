"""Annotated video files: H.264 in fragmented MP4 through PyAV, or any OpenCV fourcc.

``output.codec: h264`` (the default) encodes with libx264 from PyAV's own FFmpeg into an
MP4 that browsers and phones play: yuv420p, the index (``moov``) at the start, and one
fragment per keyframe, with a keyframe every ``output.keyframe_interval_s``. Each fragment
reaches the file when the next keyframe starts, so a killed process (``kill -9``) leaves a
playable video missing at most that interval. Frames carry their source time: a file's
frames their frame numbers, a camera's or stream's the time they were captured (a variable
frame rate), so a live recording plays at the speed it happened.

Any other ``output.codec`` is a four-character code for OpenCV's writer (``mp4v``,
``MJPG``, ...), which writes a constant frame rate: frames are repeated over gaps and one
that comes early is skipped, so the video keeps real time there too. Without PyAV (or
an H.264 encoder in it) ``h264`` falls back to OpenCV's ``mp4v`` with a warning.
"""

from __future__ import annotations

import logging
import os
import tempfile
from fractions import Fraction
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np

from ..config import OutputConfig, load_config
from ..errors import OutputError

log = logging.getLogger(__name__)

VIDEO_STEM = "annotated"
H264 = "h264"  # output.codec that selects PyAV's H.264 encoder
H264_ENCODER = "libx264"
FALLBACK_CODEC = "mp4v"  # OpenCV's writer when there is no H.264 encoder: plays in desktop players only
PIXEL_FORMAT = "yuv420p"  # the 4:2:0 layout every hardware decoder (browsers, phones) supports
# Fragmented MP4: an empty moov up front, a moof+mdat fragment per keyframe (what browsers' MSE expect); each
# fragment is handed to the operating system as soon as it is complete (flush_packets: FFmpeg's own file
# buffer is flushed after every write, which with fragments happens once per fragment).
MP4_OPTIONS = {"movflags": "frag_keyframe+empty_moov+default_base_moof", "flush_packets": "1"}
LIVE_TIME_BASE = Fraction(1, 1000)  # live sources: timestamps in milliseconds of capture time
RATE_DENOMINATOR_LIMIT = 1001  # a file's frame rate as an exact fraction: 29.97 fps -> 30000/1001
# Container for each OpenCV codec (fourcc, lower-case); any other codec goes into AVI, which accepts almost all.
VIDEO_EXTENSIONS = {
    H264: ".mp4", "mp4v": ".mp4", "avc1": ".mp4", "x264": ".mp4", "hev1": ".mp4", "hvc1": ".mp4",
    "mjpg": ".avi", "xvid": ".avi", "divx": ".avi", "vp80": ".webm", "vp09": ".webm",
}
DEFAULT_VIDEO_EXTENSION = ".avi"


def video_path(out_dir: str | os.PathLike, codec: str) -> Path:
    """Where the annotated video goes: ``annotated.mp4`` for h264 and mp4v, ``annotated.avi`` for MJPG, ..."""
    return Path(out_dir) / (VIDEO_STEM + VIDEO_EXTENSIONS.get(codec.lower(), DEFAULT_VIDEO_EXTENSION))


@lru_cache(maxsize=1)
def h264_available() -> bool:
    """Whether PyAV is installed and its FFmpeg has the libx264 encoder."""
    try:
        import av

        av.codec.Codec(H264_ENCODER, "w")
    except (ImportError, ValueError) as exc:  # no PyAV, or av.codec.codec.UnknownCodecError (a ValueError)
        log.debug("no H.264 encoder: %s", exc)
        return False
    return True


def resolve_codec(codec: str) -> str:
    """``codec``, or OpenCV's mp4v (with a warning) for ``h264`` when PyAV cannot encode H.264."""
    if codec.lower() != H264 or h264_available():
        return codec
    log.warning(
        "PyAV with an H.264 encoder is not installed (pip install av): writing %s through OpenCV, "
        "which desktop players play but browsers and phones do not", FALLBACK_CODEC,
    )
    return FALLBACK_CODEC


def _codec_error(path: Path, codec: str) -> OutputError:
    return OutputError(
        f"cannot write {path.name} with codec {codec!r}: this OpenCV build or the {path.suffix} container "
        "does not support it",
        "Set output.codec to h264 (.mp4), mp4v (.mp4) or MJPG (.avi), or turn output.video off",
    )


def check_video_codec(path: str | os.PathLike, codec: str, fps: float, size: tuple[int, int]) -> None:
    """Raise OutputError unless ``codec`` can be written into a file named like ``path``, without touching ``path``
    (OpenCV codecs are tried on a scratch file in the temp folder)."""
    path = Path(path)
    if codec.lower() == H264 and h264_available():
        return
    if len(codec) != 4:
        raise OutputError(
            f"output.codec {codec!r} is not a four-character code", "Use h264, or e.g. mp4v (.mp4) or MJPG (.avi)"
        )
    if not opencv_writes(path.suffix.lower(), codec, float(fps), tuple(size)):
        raise _codec_error(path, codec)


@lru_cache(maxsize=16)
def opencv_writes(suffix: str, codec: str, fps: float, size: tuple[int, int]) -> bool:
    """Whether OpenCV opens a writer of ``codec`` for a ``suffix`` file, tried on a scratch file once per
    combination (a run's sinks ask before replacing any file, then its video sink asks again)."""
    with tempfile.TemporaryDirectory(prefix="tracker-codec-") as scratch:
        writer = cv2.VideoWriter(str(Path(scratch) / f"probe{suffix}"), cv2.VideoWriter_fourcc(*codec), fps, size)
        supported = writer.isOpened()
        writer.release()
    return supported


class H264Writer:
    """H.264 / yuv420p in fragmented MP4 through PyAV; ``write(image, time_s)`` stamps each frame with its time.

    Files: time base 1 / fps, so a frame's timestamp is its frame number. Live sources: milliseconds
    since the first frame's capture. A keyframe starts every ``keyframe_interval_s`` of video time, and with
    it a fragment that reaches the disk.
    """

    def __init__(self, path: Path, fps: float, size: tuple[int, int], *, live: bool, crf: int, preset: str,
                 keyframe_interval_s: float):  # fmt: skip
        import av

        self.path = path
        self.size = (size[0] & ~1, size[1] & ~1)  # 4:2:0 chroma needs even sides: an odd last row/column is cut
        rate = Fraction(fps).limit_denominator(RATE_DENOMINATOR_LIMIT)
        self.time_base = LIVE_TIME_BASE if live else 1 / rate
        # a keyframe is due once the next frame (at the nominal rate) would come later than the interval
        self._keyframe_due_s = float(keyframe_interval_s) - 0.5 / fps
        self._frame_ticks = max(1, round(1 / (fps * self.time_base)))  # one frame at the nominal rate
        self._origin: float | None = None  # time_s of the first frame: timestamps start at 0
        self._last_pts: int | None = None
        self._last_key_s: float | None = None
        try:
            self._container = av.open(str(path), "w", format="mp4", options=MP4_OPTIONS)
        except OSError as exc:
            raise OutputError(f"cannot write {path}: {exc.strerror or exc}", "Choose a writable --out folder") from None
        stream = self._container.add_stream(H264_ENCODER, rate=rate)
        stream.width, stream.height = self.size
        stream.pix_fmt = PIXEL_FORMAT
        stream.time_base = self.time_base
        ctx = stream.codec_context
        ctx.time_base = self.time_base
        ctx.thread_type = "SLICE"  # threads work on slices of one frame: no frames held back in the encoder
        ctx.colorspace = av.video.reformatter.Colorspace.ITU601  # tells players the matrix frames are converted
        ctx.color_range = av.video.reformatter.ColorRange.MPEG  # with (BT.601, limited range)
        stream.options = {"preset": preset, "crf": str(crf)}
        self._stream = stream
        self._frame_type = av.video.frame.PictureType

    def write(self, image: np.ndarray, time_s: float | None = None) -> None:
        import av

        w, h = self.size
        # OpenCV's BT.601 limited-range conversion: exact where swscale's default is off by up to 5 levels
        yuv = cv2.cvtColor(np.ascontiguousarray(image[:h, :w]), cv2.COLOR_BGR2YUV_I420)
        frame = av.VideoFrame.from_ndarray(yuv, format=PIXEL_FORMAT)
        if time_s is None:
            pts = 0 if self._last_pts is None else self._last_pts + self._frame_ticks
        else:
            if self._origin is None:
                self._origin = time_s
            pts = round((time_s - self._origin) / self.time_base)
        if self._last_pts is not None:
            pts = max(pts, self._last_pts + 1)  # timestamps must increase
        self._last_pts = frame.pts = pts
        seconds = float(pts * self.time_base)
        if self._last_key_s is None or seconds - self._last_key_s >= self._keyframe_due_s:
            frame.pict_type = self._frame_type.I  # a keyframe starts a fragment, written out as it closes
            self._last_key_s = seconds
        self._container.mux(self._stream.encode(frame))

    def close(self) -> None:
        try:
            self._container.mux(self._stream.encode(None))  # frames the encoder still holds
        finally:
            self._container.close()


class OpenCvWriter:
    """Any OpenCV fourcc at a constant frame rate: a frame is repeated until the next one's time, and one that
    comes before its slot is skipped, so cameras and streams keep real time."""

    def __init__(self, path: Path, fps: float, size: tuple[int, int], codec: str):
        self.path = path
        self.size = size
        self.fps = float(fps)
        self.frames = 0
        self._origin: float | None = None
        self._writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*codec), self.fps, size)
        if not self._writer.isOpened():
            self._writer.release()
            path.unlink(missing_ok=True)
            raise _codec_error(path, codec)

    def write(self, image: np.ndarray, time_s: float | None = None) -> None:
        copies = 1
        if time_s is not None:
            if self._origin is None:
                self._origin = time_s
            copies = round((time_s - self._origin) * self.fps) + 1 - self.frames
        for _ in range(copies):
            self._writer.write(image)
        self.frames += max(copies, 0)

    def close(self) -> None:
        self._writer.release()


def open_video_writer(path: Path, codec: str, fps: float, size: tuple[int, int], *, live: bool = False,
                      settings: OutputConfig | None = None):  # fmt: skip
    """An :class:`H264Writer` for ``h264``, else an :class:`OpenCvWriter` of ``codec`` (see :func:`resolve_codec`).

    settings: ``crf``, ``preset`` and ``keyframe_interval_s`` of H.264 (default: configs/default.yaml's).
    """
    if codec.lower() == H264 and h264_available():
        s = settings if settings is not None else load_config().output
        return H264Writer(
            path, fps, size, live=live, crf=s.crf, preset=s.preset, keyframe_interval_s=s.keyframe_interval_s
        )
    return OpenCvWriter(path, fps, size, codec)
