"""``tracker plot RUN``: PNG charts of a finished run, drawn headless with Matplotlib's Agg canvas.

* ``trajectories.png``: every track's bottom-centre path over the source's first frame
  (from ``run.json``; a blank canvas of the frame size when the source is gone);
* ``timeline.png``: track id against frame, one bar per run of consecutive frames, so gaps show;
* ``active_tracks.png``: tracks reported per frame, in total and per class;
* ``counting.png`` (runs with counting on): cumulative line crossings and zone occupancy.

Each chart is built from whole arrays (one LineCollection per chart, not one artist per track).
Matplotlib is imported when a chart is drawn, so loading this module costs the CLI nothing.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..config import load_config
from ..errors import SourceError
from ..io.drawing import track_colors
from ..io.files import prepare_out_dir
from ..io.readers import counts_path, load_tracks, read_counts, read_run_info, run_outputs
from ..io.sources import open_source
from ..structures import TrackRecords, bottom_centers

if TYPE_CHECKING:
    from matplotlib.figure import Figure

log = logging.getLogger(__name__)

PLOTS_DIR = "plots"  # default output folder, inside the run folder
TRAJECTORIES, TIMELINE, ACTIVE_TRACKS, COUNTING = CHART_NAMES = (
    "trajectories.png", "timeline.png", "active_tracks.png", "counting.png"
)
DPI = 100
FIG_WIDTH_IN = 10.0  # inches; heights follow the content
CHART_HEIGHT_IN = 4.0  # time-series charts
TIMELINE_ROW_IN = 0.12  # timeline height per track, clamped to the two values below
TIMELINE_MIN_HEIGHT_IN = 3.0
TIMELINE_MAX_HEIGHT_IN = 16.0
BLANK_GRAY = 0.85  # background of the trajectories chart when the source frame is unavailable (0 black, 1 white)
BACKGROUND_ALPHA = 0.7  # how strongly the source frame shows under the trajectories
TRAJECTORY_WIDTH = 1.5  # points
TIMELINE_BAR_WIDTH = 3.0  # points
START_MARKER_SIZE = 12.0  # points^2: dot at each track's first position
MAX_LABELED_TRACKS = 60  # trajectories: ids are written at track ends only up to this many tracks
LABEL_FONT_SIZE = 7


def _figure(height_in: float) -> Figure:
    """A figure on an Agg canvas: no display, no pyplot global state."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(FIG_WIDTH_IN, height_in), dpi=DPI)
    FigureCanvasAgg(fig)
    return fig


def _new_figure(height_in: float):
    fig = _figure(height_in)
    return fig, fig.add_subplot()


def _integer_axis(ax) -> None:
    from matplotlib.ticker import MaxNLocator

    ax.set_ylim(bottom=0)
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))


def _lines(segments: np.ndarray, colors: np.ndarray, width: float):
    from matplotlib.collections import LineCollection

    return LineCollection(segments, colors=colors, linewidths=width)


def _rgb(track_ids: np.ndarray) -> np.ndarray:
    """(N,3) float RGB in [0,1]: the colour each id has in the annotated video."""
    return track_colors(track_ids)[:, ::-1].astype(np.float64) / 255.0


def first_frame(info: dict, source: str | os.PathLike | None = None) -> np.ndarray | None:
    """The first BGR frame of ``source`` or of the run's file / image-folder source; None when unavailable."""
    spec = source if source is not None else info.get("source_path")
    if spec is None or not Path(spec).exists():
        return None
    try:
        with open_source(spec, load_config().source) as frames:
            return next(frames).image
    except SourceError as exc:
        log.warning("no background for the trajectories: %s", exc)
        return None


def _track_order(records: TrackRecords) -> TrackRecords:
    return records[np.lexsort((records.frame, records.track_id))]


def plot_trajectories(records: TrackRecords, path: Path, size: tuple[int, int], background: np.ndarray | None) -> Path:
    """Bottom-centre paths of every track over ``background`` (BGR) or a blank canvas of ``size`` (w, h)."""
    w, h = (background.shape[1], background.shape[0]) if background is not None else size
    fig, ax = _new_figure(FIG_WIDTH_IN * h / max(w, 1))
    if background is not None:
        ax.imshow(background[:, :, ::-1], extent=(0, w, h, 0), alpha=BACKGROUND_ALPHA)
    else:
        ax.imshow(np.full((2, 2, 3), BLANK_GRAY), extent=(0, w, h, 0))
    rows = _track_order(records)
    xy = bottom_centers(rows.boxes)
    same = rows.track_id[1:] == rows.track_id[:-1]
    segments = np.stack([xy[:-1], xy[1:]], axis=1)[same] if len(rows) > 1 else np.zeros((0, 2, 2))
    colors = _rgb(rows.track_id[1:][same]) if len(segments) else np.zeros((0, 3))
    ax.add_collection(_lines(segments, colors, TRAJECTORY_WIDTH))
    starts = np.r_[True, ~same] if len(rows) else np.zeros(0, bool)
    ax.scatter(xy[starts, 0], xy[starts, 1], s=START_MARKER_SIZE, c=_rgb(rows.track_id[starts]), zorder=3)
    ends = np.r_[~same, True] if len(rows) else np.zeros(0, bool)
    if ends.sum() <= MAX_LABELED_TRACKS:
        for (x, y), tid in zip(xy[ends].tolist(), rows.track_id[ends].tolist()):
            ax.annotate(str(tid), (x, y), fontsize=LABEL_FONT_SIZE, xytext=(2, 2), textcoords="offset points")
    ax.set_xlim(0, w)
    ax.set_ylim(h, 0)
    ax.set_title(f"Trajectories (box bottom centres) of {len(np.unique(rows.track_id))} tracks")
    ax.set_xlabel("x (px)")
    ax.set_ylabel("y (px)")
    fig.tight_layout()
    fig.savefig(path)
    return path


def track_runs(records: TrackRecords) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(track_id, first_frame, last_frame) of every run of consecutive frames of a track, by id then frame."""
    rows = _track_order(records)
    if not len(rows):
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.int64)
    breaks = (rows.track_id[1:] != rows.track_id[:-1]) | (rows.frame[1:] != rows.frame[:-1] + 1)
    starts = np.flatnonzero(np.r_[True, breaks])
    ends = np.r_[starts[1:], len(rows)] - 1
    return rows.track_id[starts], rows.frame[starts], rows.frame[ends]


def active_tracks(records: TrackRecords, n_frames: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(per-frame total, class names, per-class per-frame counts) of reported tracks over at least ``n_frames``."""
    n = max(int(records.frame.max()) + 1 if len(records) else 0, n_frames)
    classes, index = np.unique(records.class_name, return_inverse=True)
    per_class = np.zeros((len(classes), n), np.int64)
    np.add.at(per_class, (index, records.frame), 1)
    return per_class.sum(axis=0), classes, per_class


def plot_timeline(records: TrackRecords, path: Path) -> Path:
    """Track id against frame: a bar for each run of consecutive frames, so lost frames show as gaps."""
    ids = records.track_ids
    height = float(np.clip(len(ids) * TIMELINE_ROW_IN, TIMELINE_MIN_HEIGHT_IN, TIMELINE_MAX_HEIGHT_IN))
    fig, ax = _new_figure(height)
    run_ids, first, last = track_runs(records)
    if len(run_ids):
        y = run_ids.astype(np.float64)
        segments = np.stack([np.stack([first - 0.5, y], 1), np.stack([last + 0.5, y], 1)], axis=1)
        ax.add_collection(_lines(segments, _rgb(run_ids), TIMELINE_BAR_WIDTH))
        ax.set_xlim(first.min() - 1, last.max() + 1)
        ax.set_ylim(ids.min() - 1, ids.max() + 1)
    ax.set_title(f"Track timeline ({len(ids)} tracks); gaps are frames a track was not reported")
    ax.set_xlabel("frame")
    ax.set_ylabel("track id")
    fig.tight_layout()
    fig.savefig(path)
    return path


def plot_active_tracks(records: TrackRecords, path: Path, frame_count: int | None = None) -> Path:
    """Tracks reported per frame, in total and (with several classes) per class; frames without tracks count 0."""
    fig, ax = _new_figure(CHART_HEIGHT_IN)
    total, classes, per_class = active_tracks(records, frame_count or 0)
    frames = np.arange(len(total))
    ax.plot(frames, total, color="black", label="all", drawstyle="steps-mid")
    if len(classes) > 1:
        for name, counts in zip(classes.tolist(), per_class):
            ax.plot(frames, counts, label=name or "unknown", drawstyle="steps-mid")
        ax.legend(loc="upper right")
    _integer_axis(ax)
    ax.set_title("Active tracks per frame")
    ax.set_xlabel("frame")
    ax.set_ylabel("tracks")
    fig.tight_layout()
    fig.savefig(path)
    return path


def plot_counting(counts: dict[str, np.ndarray], path: Path) -> Path:
    """Cumulative in / out of each line and the occupancy of each zone, summed over classes, per frame."""
    fig = _figure(2 * CHART_HEIGHT_IN)
    ax_lines, ax_zones = fig.subplots(2, 1, sharex=True)
    frame = counts["frame"]
    n_frames = int(frame.max()) + 1 if len(frame) else 0
    frames = np.arange(n_frames)
    for kind, ax, columns in (("line", ax_lines, ("in", "out")), ("zone", ax_zones, ("occupancy",))):
        mine = counts["kind"] == kind
        for name in dict.fromkeys(counts["name"][mine].tolist()):
            rows = mine & (counts["name"] == name)
            for column in columns:
                series = np.zeros(n_frames, np.int64)
                np.add.at(series, frame[rows], counts[column][rows])
                ax.plot(frames, series, label=f"{name} {column}" if kind == "line" else name, drawstyle="steps-post")
        if mine.any():
            ax.legend(loc="upper left")
        _integer_axis(ax)
    ax_lines.set_title("Line crossings (cumulative)")
    ax_zones.set_title("Zone occupancy")
    ax_zones.set_xlabel("frame")
    fig.tight_layout()
    fig.savefig(path)
    return path


def make_plots(
    run_dir: str | os.PathLike, out_dir: str | os.PathLike | None = None, source: str | os.PathLike | None = None
) -> list[Path]:
    """Draw every chart of the run in ``run_dir`` into ``out_dir`` (default ``<run_dir>/plots``); returns the PNGs."""
    run = Path(run_dir)
    records = load_tracks(run)
    info = read_run_info(run)
    out = prepare_out_dir(out_dir if out_dir is not None else run / PLOTS_DIR)
    background = first_frame(info, source)
    if background is None and info.get("width") and info.get("height"):
        size = (int(info["width"]), int(info["height"]))
    elif background is None:  # no run.json: the boxes' extent
        size = tuple(np.ceil(records.boxes[:, 2:].max(axis=0)).astype(int).tolist()) if len(records) else (1, 1)
    else:
        size = (background.shape[1], background.shape[0])
    paths = [
        plot_trajectories(records, out / TRAJECTORIES, size, background),
        plot_timeline(records, out / TIMELINE),
        plot_active_tracks(records, out / ACTIVE_TRACKS, info.get("frame_count")),
    ]
    outputs = run_outputs(run)
    if counts_path(run).is_file() and (outputs is None or counts_path(run).name in outputs):
        paths.append(plot_counting(read_counts(counts_path(run)), out / COUNTING))
    return paths
