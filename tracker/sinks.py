"""Output sinks: CSV and MOTChallenge text files, annotated video, live window.

Every sink is a context manager with ``write(result)`` and ``close()``; ``close`` is
idempotent and a write after it raises ``ValueError``. Text sinks are crash safe: they
keep whole frames in memory and hand them to the operating system with one unbuffered
write every ``flush_every`` frames, so a killed process leaves only complete lines.
:func:`open_sinks` opens the sinks a run's :class:`~tracker.config.OutputConfig` asks for.
"""

from __future__ import annotations

import csv
import io
import os
import sys
from collections.abc import Sequence
from itertools import repeat
from pathlib import Path

import cv2
import numpy as np

from .config import OutputConfig
from .drawing import Annotator
from .errors import OutputError
from .sources import SourceInfo
from .structures import FrameResult

CSV_NAME = "tracks.csv"
MOT_NAME = "tracks.txt"
VIDEO_STEM = "annotated"
CSV_HEADER = ("frame", "time_s", "track_id", "class_id", "class_name", "score", "x1", "y1", "x2", "y2")
BOX_FORMAT = "%.2f"  # pixels
SCORE_FORMAT = "%.4f"
TIME_FORMAT = "%.3f"  # seconds
MOT_UNUSED = "-1,-1,-1"  # MOTChallenge's x, y, z world coordinates, unused in 2D tracking
# Container for each codec (fourcc, lower-case); any other codec goes into AVI, which accepts almost all.
VIDEO_EXTENSIONS = {
    "mp4v": ".mp4", "avc1": ".mp4", "h264": ".mp4", "x264": ".mp4", "hev1": ".mp4", "hvc1": ".mp4",
    "mjpg": ".avi", "xvid": ".avi", "divx": ".avi", "vp80": ".webm", "vp09": ".webm",
}
DEFAULT_VIDEO_EXTENSION = ".avi"
ESC_KEY = 27
QUIT_KEYS = frozenset({ord("q"), ord("Q"), ESC_KEY})
WAIT_KEY_MS = 1  # cv2.waitKey delay per shown frame: just enough to paint the window and read a key


class StopRequested(KeyboardInterrupt):
    """The user closed the live window or pressed q / Esc; handled like Ctrl-C (a clean stop)."""


def _open_for_writing(path: Path) -> int:
    """An unbuffered file descriptor for ``path`` (created, or truncated), creating its folder."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    except OSError as exc:
        raise OutputError(
            f"cannot write {path}: {exc.strerror or exc}", "Choose a writable output folder (--out)"
        ) from None


class _TextSink:
    """Writes whole frames of text; subclasses turn a FrameResult into lines."""

    header: str | None = None

    def __init__(self, path: str | os.PathLike, flush_every: int = 1):
        if flush_every < 1:
            raise ValueError(f"flush_every must be at least 1, got {flush_every}")
        self.path = Path(path)
        self.flush_every = int(flush_every)
        self._pending: list[str] = []
        self._frames_pending = 0
        self._closed = False
        self._fd = _open_for_writing(self.path)
        if self.header:
            self._pending.append(self.header)
            self.flush()

    def _lines(self, result: FrameResult) -> str:
        raise NotImplementedError

    def write(self, result: FrameResult) -> None:
        """Queue this frame's lines; every ``flush_every`` frames they reach the file in one write."""
        if self._closed:
            raise ValueError(f"write to closed sink {self.path}")
        text = self._lines(result)
        if text:
            self._pending.append(text)
        self._frames_pending += 1
        if self._frames_pending >= self.flush_every:
            self.flush()

    def flush(self) -> None:
        """Write the queued frames with a single OS-level write."""
        data = memoryview("".join(self._pending).encode("utf-8"))
        self._pending.clear()
        self._frames_pending = 0
        try:
            while data:
                data = data[os.write(self._fd, data):]
        except OSError as exc:
            raise OutputError(
                f"cannot write {self.path}: {exc.strerror or exc}", "Free disk space or choose another --out folder"
            ) from None

    def close(self) -> None:
        """Write what is queued, sync and close; safe to call more than once."""
        if self._closed:
            return
        self._closed = True
        try:
            self.flush()
            os.fsync(self._fd)
        finally:
            os.close(self._fd)

    @property
    def closed(self) -> bool:
        return self._closed

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _csv_text(rows) -> str:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(rows)
    return buf.getvalue()


class CsvSink(_TextSink):
    """``tracks.csv``: one row per track per frame; ``frame`` is the 0-based frame index."""

    header = ",".join(CSV_HEADER) + "\n"

    def __init__(self, path: str | os.PathLike, class_names: Sequence[str], flush_every: int = 1):
        self.class_names = list(class_names)
        super().__init__(path, flush_every)

    def _lines(self, result: FrameResult) -> str:
        tracks = result.tracks
        n = len(tracks)
        if not n:
            return ""
        class_ids = tracks.class_ids.tolist()
        known = len(self.class_names)
        names = [self.class_names[c] if 0 <= c < known else str(c) for c in class_ids]
        boxes = np.char.mod(BOX_FORMAT, tracks.boxes).T.tolist()
        return _csv_text(
            zip(
                repeat(int(result.frame_index), n),
                repeat(TIME_FORMAT % result.time_s, n),
                tracks.track_ids.tolist(),
                class_ids,
                names,
                np.char.mod(SCORE_FORMAT, tracks.scores).tolist(),
                *boxes,
            )
        )


class MotSink(_TextSink):
    """MOTChallenge txt: ``frame,id,left,top,width,height,score,-1,-1,-1`` with 1-based frames."""

    def _lines(self, result: FrameResult) -> str:
        tracks = result.tracks
        n = len(tracks)
        if not n:
            return ""
        row = f"{int(result.frame_index) + 1},%d,{BOX_FORMAT},{BOX_FORMAT},{BOX_FORMAT},{BOX_FORMAT},{SCORE_FORMAT},"
        row += MOT_UNUSED + "\n"
        xywh = tracks.xywh.astype(np.float64)
        columns = zip(tracks.track_ids.tolist(), *xywh.T.tolist(), tracks.scores.astype(np.float64).tolist())
        return "".join(map(row.__mod__, columns))


def video_path(out_dir: str | os.PathLike, codec: str) -> Path:
    """Where the annotated video goes: ``annotated.mp4`` for mp4v, ``annotated.avi`` for MJPG, ..."""
    return Path(out_dir) / (VIDEO_STEM + VIDEO_EXTENSIONS.get(codec.lower(), DEFAULT_VIDEO_EXTENSION))


class VideoSink:
    """Annotated video; frames of another size than ``size`` are resized to it."""

    def __init__(
        self,
        path: str | os.PathLike,
        fps: float,
        size: tuple[int, int],
        codec: str,
        annotator: Annotator | None = None,
        class_names: Sequence[str] = (),
    ):
        self.path = Path(path)
        self.size = (int(size[0]), int(size[1]))  # width, height
        self.annotator = annotator
        self.class_names = list(class_names)
        self.frames = 0
        self._closed = False
        if len(codec) != 4:
            raise OutputError(
                f"output.codec {codec!r} is not a four-character code", "Use e.g. mp4v (.mp4) or MJPG (.avi)"
            )
        os.close(_open_for_writing(self.path))  # a clear error for an unwritable folder
        self._writer = cv2.VideoWriter(str(self.path), cv2.VideoWriter_fourcc(*codec), float(fps), self.size)
        if not self._writer.isOpened():
            self._writer.release()
            self.path.unlink(missing_ok=True)
            raise OutputError(
                f"cannot write {self.path.name} with codec {codec!r}: this OpenCV build or the "
                f"{self.path.suffix} container does not support it",
                "Set output.codec to mp4v (.mp4) or MJPG (.avi), or turn output.video off",
            )

    def write(self, result: FrameResult) -> None:
        """Draw the tracks on ``result.image`` (when there is an annotator) and append the frame."""
        if result.image is None:
            raise ValueError("VideoSink needs FrameResult.image: track with keep_images=True")
        image = result.image
        if self.annotator is not None:
            image = self.annotator.draw(
                image, result.tracks, self.class_names, frame_index=result.frame_index, time_s=result.time_s
            )
        self.write_image(image)

    def write_image(self, image: np.ndarray) -> None:
        """Append an already annotated BGR frame."""
        if self._closed:
            raise ValueError(f"write to closed sink {self.path}")
        if (image.shape[1], image.shape[0]) != self.size:
            image = cv2.resize(image, self.size, interpolation=cv2.INTER_AREA)
        self._writer.write(image)
        self.frames += 1

    def close(self) -> None:
        """Finalise the file so it plays; safe to call more than once."""
        if self._closed:
            return
        self._closed = True
        self._writer.release()

    @property
    def closed(self) -> bool:
        return self._closed

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _has_display() -> bool:
    if not sys.platform.startswith("linux"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


class WindowSink:
    """Live window; raises :class:`StopRequested` when the user presses q / Esc or closes it."""

    def __init__(self, title: str, annotator: Annotator | None = None, class_names: Sequence[str] = ()):
        self.title = title
        self.annotator = annotator
        self.class_names = list(class_names)
        self._closed = False
        if not _has_display():
            # checked first: OpenCV's Qt backend aborts the process when it finds no display
            raise OutputError("cannot open a window: no display (DISPLAY is not set)", "Run without --show")
        try:
            cv2.namedWindow(title, cv2.WINDOW_NORMAL)
        except cv2.error as exc:
            reason = str(exc).strip().splitlines()[-1]
            raise OutputError(f"cannot open a window: {reason}", "Run without --show") from None

    def write(self, result: FrameResult) -> None:
        if result.image is None:
            raise ValueError("WindowSink needs FrameResult.image: track with keep_images=True")
        image = result.image
        if self.annotator is not None:
            image = self.annotator.draw(
                image, result.tracks, self.class_names, frame_index=result.frame_index, time_s=result.time_s
            )
        self.write_image(image)

    def write_image(self, image: np.ndarray) -> None:
        if self._closed:
            raise ValueError(f"write to closed window {self.title!r}")
        cv2.imshow(self.title, image)
        key = cv2.waitKey(WAIT_KEY_MS) & 0xFF
        if key in QUIT_KEYS:
            raise StopRequested("stopped from the window")
        if cv2.getWindowProperty(self.title, cv2.WND_PROP_VISIBLE) < 1:
            raise StopRequested("window closed")

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            cv2.destroyWindow(self.title)
        except cv2.error:  # the user already closed it
            pass
        cv2.waitKey(WAIT_KEY_MS)  # lets the GUI loop remove the window

    @property
    def closed(self) -> bool:
        return self._closed

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class SinkSet:
    """The sinks of one run behind one ``write``; frames are annotated once for all image sinks."""

    def __init__(self, annotator: Annotator | None = None, class_names: Sequence[str] = ()):
        self.annotator = annotator
        self.class_names = list(class_names)
        self.paths: list[Path] = []
        self._sinks: list = []  # text sinks, then image sinks: a frame is on disk before the window may stop the run
        self._image_sinks: list = []
        self._closed = False

    def add(self, sink) -> None:
        """Add a sink taking FrameResults (CsvSink, MotSink, or any object with write/close)."""
        self._sinks.append(sink)
        if getattr(sink, "path", None) is not None:
            self.paths.append(sink.path)

    def add_image(self, sink) -> None:
        """Add a sink taking annotated images (``write_image``): VideoSink, WindowSink."""
        self._image_sinks.append(sink)
        if getattr(sink, "path", None) is not None:
            self.paths.append(sink.path)

    def write(self, result: FrameResult) -> None:
        if self._closed:
            raise ValueError("write to closed sinks")
        for sink in self._sinks:
            sink.write(result)
        if not self._image_sinks:
            return
        if result.image is None:
            raise ValueError("video and window outputs need FrameResult.image: track with keep_images=True")
        image = result.image
        if self.annotator is not None:
            image = self.annotator.draw(
                image, result.tracks, self.class_names, frame_index=result.frame_index, time_s=result.time_s
            )
        for sink in self._image_sinks:
            sink.write_image(image)

    def close(self) -> None:
        """Close every sink, even when one fails; the first failure is raised afterwards."""
        if self._closed:
            return
        self._closed = True
        first: BaseException | None = None
        for sink in self._sinks + self._image_sinks:
            try:
                sink.close()
            except BaseException as exc:  # noqa: BLE001 - re-raised below once all sinks are closed
                first = first or exc
        if first is not None:
            raise first

    @property
    def closed(self) -> bool:
        return self._closed

    def __enter__(self) -> SinkSet:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def open_sinks(
    out_dir: str | os.PathLike, cfg: OutputConfig, info: SourceInfo, class_names: Sequence[str]
) -> SinkSet:
    """Open the outputs ``cfg`` asks for in ``out_dir``: tracks.csv, tracks.txt, annotated video, window."""
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(
            f"cannot create output folder {out}: {exc.strerror or exc}", "Choose another --out folder"
        ) from None
    wants_images = cfg.video or cfg.show
    annotator = Annotator(cfg.trail_length, cfg.line_thickness) if wants_images else None
    sinks = SinkSet(annotator, class_names)
    try:
        if cfg.csv:
            sinks.add(CsvSink(out / CSV_NAME, class_names, cfg.flush_every))
        if cfg.mot:
            sinks.add(MotSink(out / MOT_NAME, cfg.flush_every))
        if cfg.video:
            sinks.add_image(VideoSink(video_path(out, cfg.codec), info.fps, (info.width, info.height), cfg.codec))
        if cfg.show:
            sinks.add_image(WindowSink(f"tracker: {info.name}"))
    except BaseException:
        sinks.close()
        raise
    return sinks
