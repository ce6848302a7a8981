"""Output sinks: CSV, JSON lines and MOTChallenge text files, per-track summary, counts, annotated video, window.

Every sink is a context manager with ``write(result)`` (the video and the window:
``write_image(frame)``, of the frame :class:`SinkSet` annotates once for both) and
``close()``; ``close`` is idempotent and a write after it raises ``ValueError``. Text sinks are crash safe: they
keep whole frames in memory and hand them to the operating system with one unbuffered
write every ``flush_every`` frames, so a killed process leaves complete lines, except that
Linux may stop a write of several pages at a page boundary: the file can then end in part
of a line, which :mod:`tracker.io.readers` skips with a warning.
Files written once at the end (``summary.csv``) or rewritten (``run.json``) are replaced
atomically, so they are either whole or absent.
:func:`open_sinks` opens the sinks a run's :class:`~tracker.config.OutputConfig` asks for.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import os
import sys
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from itertools import repeat
from pathlib import Path

import cv2
import numpy as np

from ..analyze.counting import DIRECTIONS, IN, OUT, Counter, Crossings
from ..analyze.track_state import TrackState
from ..config import CountingConfig, OutputConfig, ServeConfig
from ..errors import ConfigError, OutputError
from ..structures import Detections, FrameResult, bottom_centers
from ..structures import class_name as _class_name
from .crops import CROPS_DIR, CropsSink
from .drawing import Annotator, draw_counting
from .serve import ServeSink
from .files import open_for_writing, prepare_out_dir, write_all, write_atomically
from .mot import format_results
from .sources import SourceInfo
from .video import check_video_codec, open_video_writer, resolve_codec, video_path

log = logging.getLogger(__name__)

CSV_NAME = "tracks.csv"
MOT_NAME = "tracks.txt"
JSONL_NAME = "tracks.jsonl"
SUMMARY_NAME = "summary.csv"
RUN_INFO_NAME = "run.json"
COUNTS_NAME = "counts.csv"
CROSSINGS_NAME = "crossings.csv"
CAMERA_NAME = "camera_motion.csv"
# counts.csv: per frame, one row per line and per zone for each class seen so far (by class id).
# Lines: cumulative `in` / `out`, `occupancy` empty; zones: `occupancy` in this frame, `in` / `out` empty.
COUNTS_HEADER = ("frame", "time_s", "name", "kind", "class_name", "in", "out", "occupancy")
# crossings.csv: one row per counted crossing.
CROSSINGS_HEADER = ("frame", "time_s", "line", "track_id", "class_name", "direction")
SUMMARY_HEADER = (
    "track_id", "class_name", "first_frame", "last_frame", "frames_seen", "duration_s", "path_length_px", "mean_score"
)
LENGTH_FORMAT = "%.2f"  # pixels of path length
CSV_HEADER = ("frame", "time_s", "track_id", "class_id", "class_name", "score", "x1", "y1", "x2", "y2")
# camera_motion.csv: the 2x3 affine warp [[a, b, tx], [c, d, ty]] that took frame `frame`'s predecessor onto it
CAMERA_HEADER = ("frame", "a", "b", "tx", "c", "d", "ty")
IDENTITY_WARP = np.eye(2, 3)
WARP_FORMAT = "%.9g"  # enough digits that a product over a long run stays what the tracker used
BOX_FORMAT = "%.2f"  # pixels
SCORE_FORMAT = "%.4f"
TIME_FORMAT = "%.3f"  # seconds
# tracks.jsonl: one object per frame; a track is {"id","class_id","class","score","box":[x1,y1,x2,y2]}
JSONL_FRAME = '{"frame":%d,"time_s":%s,"tracks":[%s]}\n'
JSONL_TRACK = '{"id":%s,"class_id":%s,"class":%s,"score":%s,"box":[%s,%s,%s,%s]}'
JSON_NULL = "null"  # written for a non-finite number (JSON has no NaN)
FPS_SMOOTHING = 0.9  # info overlay: weight of the previous frame interval in the running mean behind "fps"
ESC_KEY = 27
QUIT_KEYS = frozenset({ord("q"), ord("Q"), ESC_KEY})
WAIT_KEY_MS = 1  # cv2.waitKey delay per shown frame: just enough to paint the window and read a key
SCREEN_FRACTION = 0.9  # the live window opens at most this share of the screen's width and height (room for
# the window's frame and a task bar)


class StopRequested(KeyboardInterrupt):
    """The user closed the live window or pressed q / Esc; handled like Ctrl-C (a clean stop)."""


class Sink:
    """What every output shares: ``closed`` and use as a context manager (``close`` on exit).

    Subclasses set ``_closed`` in ``close()``, which must be safe to call more than once.
    """

    _closed = False

    @property
    def closed(self) -> bool:
        return self._closed

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        raise NotImplementedError


def annotate(annotator: Annotator, result: FrameResult, class_names: Sequence[str], **options) -> np.ndarray:
    """``result``'s frame drawn by ``annotator``; the privacy blur covers every detection and every lost track's
    predicted box of a blurred class, not only the tracks reported."""
    return annotator.draw(
        result.image, result.tracks, list(class_names), frame_index=result.frame_index, time_s=result.time_s,
        hidden=(result.detections, result.lost), **options,
    )


class _TextSink(Sink):
    """Writes whole frames of text; subclasses turn a FrameResult into lines."""

    header: str | None = None

    def __init__(self, path: str | os.PathLike, flush_every: int = 1):
        if flush_every < 1:
            raise ValueError(f"flush_every must be at least 1, got {flush_every}")
        self.path = Path(path)
        self.flush_every = int(flush_every)
        self._pending: list[str] = []
        self._frames_pending = 0
        self._fd = open_for_writing(self.path)
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
        data = "".join(self._pending).encode("utf-8")
        self._pending.clear()
        self._frames_pending = 0
        write_all(self._fd, data, self.path, "Free disk space or choose another --out folder")

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
        names = [_class_name(self.class_names, c) for c in class_ids]
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


class CameraMotionSink(_TextSink):
    """``camera_motion.csv``: the camera motion the tracker compensated on each frame where there was any
    (frames left out had none); smoothing follows it (:class:`tracker.analyze.smoothing.CameraPath`)."""

    header = ",".join(CAMERA_HEADER) + "\n"

    def _lines(self, result: FrameResult) -> str:
        if result.warp is None or np.array_equal(result.warp, IDENTITY_WARP):  # no motion: nothing to follow
            return ""
        return _csv_text([[int(result.frame_index), *np.char.mod(WARP_FORMAT, np.ravel(result.warp)).tolist()]])


class MotSink(_TextSink):
    """MOTChallenge txt: ``frame,id,left,top,width,height,score,-1,-1,-1`` with 1-based frames."""

    def _lines(self, result: FrameResult) -> str:
        return format_results(result.frame_index, result.tracks)


def _numbers(values: np.ndarray, fmt: str) -> np.ndarray:
    """``values`` formatted with ``fmt``; non-finite ones become JSON ``null``."""
    values = np.asarray(values, np.float64)
    text = np.char.mod(fmt, values)
    finite = np.isfinite(values)
    return text if finite.all() else np.where(finite, text, JSON_NULL)


class JsonlSink(_TextSink):
    """``tracks.jsonl``: one JSON object per frame, frames without tracks included.

    ``{"frame": 0, "time_s": 0.0, "tracks": [{"id", "class_id", "class", "score", "box": [x1, y1, x2, y2]}]}``;
    numbers are rounded like ``tracks.csv`` and a non-finite number is written as ``null``.
    """

    def __init__(self, path: str | os.PathLike, class_names: Sequence[str], flush_every: int = 1):
        self.class_names = list(class_names)
        self._json_names: dict[int, str] = {}
        super().__init__(path, flush_every)

    def _json_name(self, class_id: int) -> str:
        name = self._json_names.get(class_id)
        if name is None:
            name = self._json_names[class_id] = json.dumps(_class_name(self.class_names, class_id))
        return name

    def _lines(self, result: FrameResult) -> str:
        tracks = result.tracks
        items = ""
        if len(tracks):
            class_ids = tracks.class_ids.tolist()
            items = ",".join(
                map(
                    JSONL_TRACK.__mod__,
                    zip(
                        tracks.track_ids.tolist(),
                        class_ids,
                        map(self._json_name, class_ids),
                        _numbers(tracks.scores, SCORE_FORMAT).tolist(),
                        *_numbers(tracks.boxes, BOX_FORMAT).T.tolist(),
                    ),
                )
            )
        time_s = _numbers(np.array([result.time_s]), TIME_FORMAT)[0]
        return JSONL_FRAME % (int(result.frame_index), time_s, items)


class SummarySink(Sink):
    """``summary.csv``, written at close: one row per track, sorted by id.

    first_frame / last_frame: 0-based frames of its first and last report; frames_seen: reports;
    duration_s: time from first to last report; path_length_px: summed straight-line moves of
    the box bottom-centre between consecutive reports (across gaps too); mean_score: mean
    reported score. State is accumulated per frame with whole-array updates.
    """

    def __init__(self, path: str | os.PathLike, class_names: Sequence[str]):
        self.path = Path(path)
        self.class_names = list(class_names)
        probe = self.path.with_name(self.path.name + ".tmp")
        os.close(open_for_writing(probe))  # a clear error now for a folder that cannot be written
        probe.unlink()
        self.state = TrackState(
            class_id=((), np.int64, -1),
            first_frame=((), np.int64, 0),
            last_frame=((), np.int64, 0),
            first_time=((), np.float64, 0.0),
            last_time=((), np.float64, 0.0),
            frames_seen=((), np.int64, 0),
            path_length=((), np.float64, 0.0),
            score_sum=((), np.float64, 0.0),
            last_xy=((2,), np.float64, np.nan),
        )

    def write(self, result: FrameResult) -> None:
        if self._closed:
            raise ValueError(f"write to closed sink {self.path}")
        tracks = result.tracks
        if not len(tracks):
            return
        st = self.state
        rows, new = st.rows(tracks.track_ids)
        frame, t = int(result.frame_index), float(result.time_s)
        st.column("first_frame")[rows[new]] = frame
        st.column("first_time")[rows[new]] = t
        xy = bottom_centers(tracks.boxes)
        old = rows[~new]
        step = np.hypot(*(xy[~new] - st.column("last_xy")[old]).T)
        st.column("path_length")[old] += np.where(np.isfinite(step), step, 0.0)
        st.column("last_xy")[rows] = xy
        st.column("last_frame")[rows] = frame
        st.column("last_time")[rows] = t
        st.column("frames_seen")[rows] += 1
        st.column("score_sum")[rows] += tracks.scores
        st.column("class_id")[rows] = tracks.class_ids

    def rows(self) -> list[tuple]:
        """The summary rows (as written), sorted by track id."""
        st = self.state
        order = np.argsort(st.ids, kind="stable")
        names = [_class_name(self.class_names, c) for c in st["class_id"][order].tolist()]
        mean = st["score_sum"][order] / np.maximum(st["frames_seen"][order], 1)
        return list(
            zip(
                st.ids[order].tolist(),
                names,
                st["first_frame"][order].tolist(),
                st["last_frame"][order].tolist(),
                st["frames_seen"][order].tolist(),
                np.char.mod(TIME_FORMAT, st["last_time"][order] - st["first_time"][order]).tolist(),
                np.char.mod(LENGTH_FORMAT, st["path_length"][order]).tolist(),
                np.char.mod(SCORE_FORMAT, mean).tolist(),
            )
        )

    def close(self) -> None:
        """Write summary.csv (atomically); safe to call more than once."""
        if self._closed:
            return
        self._closed = True
        write_atomically(self.path, _csv_text([SUMMARY_HEADER, *self.rows()]))


class RunInfoSink(Sink):
    """``run.json``: the source (uri, absolute path of files and folders), fps, frame size, frame count,
    class names and the run's output files, written when the run starts and rewritten at close with the
    frames written.

    ``tracker plot`` reads it to find the source's first frame, the frame size and which files are this run's.
    """

    def __init__(self, path: str | os.PathLike, info: SourceInfo, class_names: Sequence[str]):
        self.path = Path(path)
        local = info.kind in ("file", "images")
        self.data = {
            "source": info.uri,
            "source_path": str(Path(info.uri).resolve()) if local else None,
            "kind": info.kind,
            "name": info.name,
            "fps": info.fps,
            "width": info.width,
            "height": info.height,
            "frame_count": info.frame_count,
            "is_live": info.is_live,
            "vid_stride": info.vid_stride,
            "class_names": list(class_names),
            "started_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "finished_at": None,
            "frames_written": 0,
            "first_frame": None,
            "last_frame": None,
            "outputs": [],
        }
        self._save()

    def set_outputs(self, names: Sequence[str]) -> None:
        """Record the run's output files (paths relative to its folder): what ``tracker plot`` may read."""
        self.data["outputs"] = list(names)
        self._save()

    def _save(self) -> None:
        write_atomically(self.path, json.dumps(self.data, indent=2) + "\n")

    def write(self, result: FrameResult) -> None:
        if self._closed:
            raise ValueError(f"write to closed sink {self.path}")
        if self.data["first_frame"] is None:
            self.data["first_frame"] = int(result.frame_index)
        self.data["last_frame"] = int(result.frame_index)
        self.data["frames_written"] += 1

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self.data["finished_at"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
        self._save()


class VideoSink(Sink):
    """Annotated video (see :mod:`tracker.io.video`), written a frame at a time by :meth:`write_image` (the
    :class:`SinkSet` annotates); frames of another size than ``size`` are resized to it.

    live: the frames come from a camera or stream, stamped with their capture time.
    settings: the output config, for H.264's ``crf``, ``preset`` and ``keyframe_interval_s``
    (default: configs/default.yaml's).
    """

    def __init__(
        self,
        path: str | os.PathLike,
        fps: float,
        size: tuple[int, int],
        codec: str,
        *,
        live: bool = False,
        settings: OutputConfig | None = None,
    ):
        self.path = Path(path)
        self.size = (int(size[0]), int(size[1]))  # width, height
        self.frames = 0
        check_video_codec(self.path, codec, fps, self.size)  # before an earlier file at path is replaced
        os.close(open_for_writing(self.path))  # a clear error for an unwritable folder
        self._writer = open_video_writer(self.path, codec, fps, self.size, live=live, settings=settings)

    def write_image(self, image: np.ndarray, time_s: float | None = None) -> None:
        """Append an already annotated BGR frame shown at ``time_s`` (seconds of the source)."""
        if self._closed:
            raise ValueError(f"write to closed sink {self.path}")
        if (image.shape[1], image.shape[0]) != self.size:
            image = cv2.resize(image, self.size, interpolation=cv2.INTER_AREA)
        self._writer.write(image, time_s)
        self.frames += 1

    def close(self) -> None:
        """Finalise the file so it plays; safe to call more than once."""
        if self._closed:
            return
        self._closed = True
        self._writer.close()


def _has_display() -> bool:
    if not sys.platform.startswith("linux"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def screen_size() -> tuple[int, int] | None:
    """(width, height) of the primary screen (else the first one), or None when it cannot be found."""
    import screeninfo

    try:
        monitors = screeninfo.get_monitors()
    except screeninfo.common.ScreenInfoError as exc:
        log.debug("screen size unknown: %s", exc)
        return None
    if not monitors:
        return None
    screen = next((m for m in monitors if m.is_primary), monitors[0])
    return screen.width, screen.height


def window_size(frame_size: tuple[int, int], screen: tuple[int, int] | None) -> tuple[int, int]:
    """The frame's size, scaled down (keeping its shape) to fit SCREEN_FRACTION of the screen."""
    w, h = frame_size
    if screen is None:
        return w, h
    fit = min(1.0, SCREEN_FRACTION * screen[0] / w, SCREEN_FRACTION * screen[1] / h)
    return max(1, round(w * fit)), max(1, round(h * fit))


class WindowSink(Sink):
    """Live window at the frame's size (scaled down to fit the screen), resizable, keeping the frame's shape;
    shows the frames :meth:`write_image` is given (the :class:`SinkSet`
    annotates them); raises :class:`StopRequested` when the user presses q / Esc or closes it.

    The window has no toolbar or status bar: they were all Qt drew text in, and OpenCV's wheels ship
    its Qt without fonts, so Qt warned about missing fonts on every start.
    """

    def __init__(self, title: str, size: tuple[int, int] | None = None):
        """size: the frames' (width, height); None leaves the window at Qt's default size."""
        self.title = title
        if not _has_display():
            # checked first: OpenCV's Qt backend aborts the process when it finds no display
            raise OutputError("cannot open a window: no display (DISPLAY is not set)", "Run without --show")
        try:
            cv2.namedWindow(title, cv2.WINDOW_NORMAL | cv2.WINDOW_KEEPRATIO | cv2.WINDOW_GUI_NORMAL)
            if size is not None:
                cv2.resizeWindow(title, *window_size(size, screen_size()))
        except cv2.error as exc:
            reason = str(exc).strip().splitlines()[-1]
            raise OutputError(f"cannot open a window: {reason}", "Run without --show") from None

    def write_image(self, image: np.ndarray, time_s: float | None = None) -> None:
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


class SinkSet(Sink):
    """The sinks of one run behind one ``write``; frames are annotated once for all image sinks.

    Overlays (objects with ``draw(image)``, e.g. counting lines and zones) are drawn on each
    annotated frame after privacy blur and before the tracks. The info line shows the
    processing rate: a running mean of the time between writes.
    """

    def __init__(self, annotator: Annotator | None = None, class_names: Sequence[str] = ()):
        self.annotator = annotator
        self.class_names = list(class_names)
        self.paths: list[Path] = []
        self._sinks: list = []  # text sinks, then image sinks: a frame is on disk before the window may stop the run
        self._image_sinks: list = []
        self._overlays: list = []
        self._last_write: float | None = None
        self._mean_interval: float | None = None
        self.counter = None  # the run's counting.Counter when counting is on (its totals end the run's summary)

    def add(self, sink) -> None:
        """Add a sink taking FrameResults (CsvSink, MotSink, or any object with write/close).

        Its output files are listed from ``sink.paths`` when it has several, else ``sink.path``.
        """
        self._sinks.append(sink)
        paths = getattr(sink, "paths", None)
        if paths is None:
            paths = [sink.path] if getattr(sink, "path", None) is not None else []
        self.paths.extend(paths)

    def add_overlay(self, overlay) -> None:
        """Add an object whose ``draw(image)`` draws on every annotated frame (after blur, before tracks)."""
        self._overlays.append(overlay)

    def _draw_overlays(self, image: np.ndarray) -> None:
        for overlay in self._overlays:
            overlay.draw(image)

    def _processing_fps(self) -> float | None:
        now = time.perf_counter()
        last, self._last_write = self._last_write, now
        if last is None:
            return None
        interval = now - last
        mean = self._mean_interval
        self._mean_interval = interval if mean is None else FPS_SMOOTHING * mean + (1.0 - FPS_SMOOTHING) * interval
        return 1.0 / self._mean_interval if self._mean_interval > 0 else None

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
        fps = self._processing_fps()
        if self.annotator is not None:
            image = annotate(
                self.annotator, result, self.class_names, fps=fps,
                underlay=self._draw_overlays if self._overlays else None,
            )
        elif self._overlays:
            image = image.copy()
            self._draw_overlays(image)
        for sink in self._image_sinks:
            sink.write_image(image, result.time_s)

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


class _CsvRowsSink(_TextSink):
    """A crash-safe CSV file fed with ready rows, one ``write(rows)`` per frame."""

    def __init__(self, path: str | os.PathLike, header: Sequence[str], flush_every: int):
        self.header = ",".join(header) + "\n"
        super().__init__(path, flush_every)

    def _lines(self, rows) -> str:  # type: ignore[override]  # rows of one frame instead of a FrameResult
        return _csv_text(rows) if rows else ""


def _outside(points: np.ndarray, size: tuple[int, int]) -> bool:
    w, h = size
    return bool(((points[:, 0] < 0) | (points[:, 0] > w) | (points[:, 1] < 0) | (points[:, 1] > h)).all())


class CountsSink(Sink):
    """Counts every frame and writes ``counts.csv`` and ``crossings.csv``; ``draw(image)`` draws lines and zones.

    frame_size: (width, height) of the source, to warn about lines or zones outside the frame.
    """

    def __init__(
        self,
        out_dir: str | os.PathLike,
        cfg: CountingConfig,
        class_names: Sequence[str],
        frame_size: tuple[int, int],
        flush_every: int = 1,
        line_thickness: int = 2,
    ):
        self.counter = Counter(cfg, class_names)
        self.line_thickness = int(line_thickness)
        for name, geometry in [*zip(self.counter.line_names, self.counter.lines), *zip(
                self.counter.zone_names, self.counter.zones)]:
            if _outside(geometry, frame_size):
                log.warning("counting: %r lies entirely outside the %dx%d frame", name, *frame_size)
        out = Path(out_dir)
        self._counts = _CsvRowsSink(out / COUNTS_NAME, COUNTS_HEADER, flush_every)
        try:
            self._crossings = _CsvRowsSink(out / CROSSINGS_NAME, CROSSINGS_HEADER, flush_every)
        except BaseException:
            self._counts.close()
            raise
        self.paths = [self._counts.path, self._crossings.path]

    def write(self, result) -> None:
        """Count ``result.tracks`` (a FrameResult) and append this frame's rows."""
        if self.closed:
            raise ValueError(f"write to closed sink {self._counts.path}")
        frame, t = int(result.frame_index), float(result.time_s)
        crossings = self.counter.update(result.tracks)
        self._crossings.write(self.crossing_rows(crossings, frame, t))
        self._counts.write(self.count_rows(frame, t))

    def count_rows(self, frame_index: int, time_s: float) -> list[tuple]:
        """This frame's counts.csv rows (see COUNTS_HEADER), for each class seen so far."""
        counter = self.counter
        classes = np.flatnonzero(counter.class_seen)
        k = len(classes)
        if not k:
            return []
        names = [_class_name(counter.class_names, c) for c in classes.tolist()]
        t = TIME_FORMAT % time_s
        rows: list[tuple] = []
        for name, c in zip(counter.line_names, counter.line_counts):
            rows += zip(repeat(frame_index, k), repeat(t, k), repeat(name, k), repeat("line", k), names,
                        c[IN, classes].tolist(), c[OUT, classes].tolist(), repeat("", k))
        for name, o in zip(counter.zone_names, counter.occupancy):
            rows += zip(repeat(frame_index, k), repeat(t, k), repeat(name, k), repeat("zone", k), names,
                        repeat("", k), repeat("", k), o[classes].tolist())
        return rows

    def crossing_rows(self, crossings: Crossings, frame_index: int, time_s: float) -> list[tuple]:
        """crossings.csv rows (see CROSSINGS_HEADER) of one frame's crossings."""
        n = len(crossings)
        return list(
            zip(
                repeat(frame_index, n),
                repeat(TIME_FORMAT % time_s, n),
                [self.counter.line_names[i] for i in crossings.line_index.tolist()],
                crossings.track_ids.tolist(),
                [_class_name(self.counter.class_names, c) for c in crossings.class_ids.tolist()],
                [DIRECTIONS[d] for d in crossings.direction.tolist()],
            )
        )

    def draw(self, image: np.ndarray) -> None:
        """Draw the lines with their in / out totals and the zones with their occupancy, in place."""
        line_labels, zone_labels = self.counter.labels()
        draw_counting(image, self.counter.lines, line_labels, self.counter.zones, zone_labels, self.line_thickness)

    def close(self) -> None:
        """Close both files, even when the first fails; safe to call more than once."""
        try:
            self._counts.close()
        finally:
            self._crossings.close()

    @property
    def closed(self) -> bool:
        return self._counts.closed


def _check_blur_classes(names: Sequence[str], class_names: Sequence[str]) -> None:
    unknown = [n for n in names if n not in class_names]
    if unknown:
        shown = ", ".join(list(class_names)[:12]) + (", ..." if len(class_names) > 12 else "")
        raise ConfigError(
            f"output.blur_classes: {', '.join(map(repr, unknown))} is not a class of the detector",
            f"Use its class names ({shown})",
        )


def write_frames(sink, frames, frame_times: dict[int, float] | None = None) -> None:
    """Write ``frames``, (0-based frame, Tracks) pairs of tracks held in memory, to ``sink`` and close it;
    ``frame_times`` gives each frame's time (default 0)."""
    with sink:
        for frame, tracks in frames:
            time_s = 0.0 if frame_times is None else frame_times[frame]
            sink.write(FrameResult(frame_index=frame, time_s=time_s, tracks=tracks, detections=Detections.empty()))


def open_sinks(
    out_dir: str | os.PathLike,
    cfg: OutputConfig,
    info: SourceInfo,
    class_names: Sequence[str],
    counting: CountingConfig | None = None,
    before_writing: Callable[[], None] | None = None,
    serve: ServeConfig | None = None,
    camera_motion: bool = False,
) -> SinkSet:
    """Open the outputs ``cfg`` asks for in ``out_dir``.

    Always run.json; as configured tracks.csv, tracks.txt, tracks.jsonl, summary.csv, the
    annotated video, the window and crops/ (:mod:`.crops`); with ``counting.enabled`` also counts.csv
    and crossings.csv, and the lines and zones are drawn on the video and window; with ``serve.port``
    a browser view of the annotated frames and the counts (:mod:`.serve`); with ``camera_motion`` (the
    tracker compensates it) and tracks.csv or tracks.txt, camera_motion.csv, which smoothing follows.
    run.json lists the files in ``outputs``.
    before_writing: called once nothing can refuse to start any more, before the first file is written
    (the pipeline clears an earlier run's files there).
    """
    out = prepare_out_dir(out_dir)
    serving = serve is not None and serve.port is not None
    wants_images = cfg.video or cfg.show or serving
    if wants_images:
        _check_blur_classes(cfg.blur_classes, class_names)
    annotator = (
        Annotator(cfg.trail_length, cfg.line_thickness, blur_classes=cfg.blur_classes, blur_method=cfg.blur_method)
        if wants_images
        else None
    )
    size = (info.width, info.height)
    sinks = SinkSet(annotator, class_names)
    window = live = None
    try:
        # What can refuse to start (no display, an unsupported codec, a port in use) does so before any
        # file is replaced: a failed start keeps an earlier run's outputs.
        if cfg.show:
            window = WindowSink(f"tracker: {info.name}", size=size)
        if serving:
            live = ServeSink(serve, f"tracker: {info.name}", class_names)
        codec = resolve_codec(cfg.codec) if cfg.video else cfg.codec
        if cfg.video:
            check_video_codec(video_path(out, codec), codec, info.processed_fps, size)
        if before_writing is not None:
            before_writing()
        run_info = RunInfoSink(out / RUN_INFO_NAME, info, class_names)
        sinks.add(run_info)
        if cfg.csv:
            sinks.add(CsvSink(out / CSV_NAME, class_names, cfg.flush_every))
        if cfg.mot:
            sinks.add(MotSink(out / MOT_NAME, cfg.flush_every))
        if camera_motion and (cfg.csv or cfg.mot):
            sinks.add(CameraMotionSink(out / CAMERA_NAME, cfg.flush_every))
        if cfg.jsonl:
            sinks.add(JsonlSink(out / JSONL_NAME, class_names, cfg.flush_every))
        if cfg.save_crops:
            sinks.add(CropsSink(out / CROPS_DIR, cfg.crops_per_track, cfg.crops_interval_s, cfg.crops_max_files,
                                class_names, skip_classes=cfg.blur_classes))  # fmt: skip
        if cfg.summary:
            sinks.add(SummarySink(out / SUMMARY_NAME, class_names))
        if counting is not None and counting.enabled:
            counts = CountsSink(out, counting, class_names, size, cfg.flush_every, line_thickness=cfg.line_thickness)
            sinks.add(counts)
            sinks.counter = counts.counter
            if wants_images:
                sinks.add_overlay(counts)
        if cfg.video:
            # with source.vid_stride the video holds every Nth frame: it plays in real time at fps / N
            sinks.add_image(
                VideoSink(video_path(out, codec), info.processed_fps, size, codec, live=info.is_live, settings=cfg)
            )
        if live is not None:
            live.counter = sinks.counter
            sinks.add(live)  # its status: the frame's tracks and the counts
            sinks.add_image(live)  # the annotated frame
        run_info.set_outputs([path.relative_to(out).as_posix() for path in sinks.paths if path != run_info.path])
        if window is not None:
            sinks.add_image(window)  # last: a frame is in every file before the window may stop the run
    except BaseException:
        sinks.close()
        for early in (window, live):  # made first, maybe not in the set yet; closing twice is harmless
            if early is not None:
                early.close()
        raise
    return sinks
