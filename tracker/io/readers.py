"""Read a run's output files back: tracks (CSV, JSON lines, MOTChallenge), summary, counts, run info.

Every tracks reader returns a :class:`TrackRecords`: one row per track per frame in
parallel numpy arrays, with 0-based frames and xyxy boxes whatever the file's
convention. Malformed files raise :class:`~tracker.errors.DataError` naming the file and
line; a missing file raises it too, with the fix.
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

import numpy as np

from ..errors import DataError
from ..structures import TrackRecords
from .files import read_whole_lines
from .mot import read_results
from .sinks import (
    CAMERA_HEADER,
    COUNTS_HEADER,
    COUNTS_NAME,
    CROSSINGS_HEADER,
    CSV_HEADER,
    CSV_NAME,
    JSONL_NAME,
    MOT_NAME,
    RUN_INFO_NAME,
    SUMMARY_HEADER,
)

NOT_APPLICABLE = -1  # counts.csv: value of an empty cell (a line's occupancy, a zone's in / out)
TRACK_FILES = (JSONL_NAME, CSV_NAME, MOT_NAME)  # load_tracks: the first of these found in a run folder

T = TypeVar("T")


def _table_rows(path, text: str, header: Sequence[str], what: str) -> list[list[str]]:
    """Rows of CSV ``text`` without its header, which must be ``header``."""
    rows = list(csv.reader(io.StringIO(text)))
    if not rows or tuple(rows[0]) != tuple(header):
        got = ",".join(rows[0]) if rows else "an empty file"
        raise DataError(f"{path} is not a {what}: its header is {got!r}", f"Expected {','.join(header)}")
    rows = rows[1:]
    width = len(header)
    bad = next((i for i, row in enumerate(rows) if len(row) != width), None)
    if bad is not None:
        raise DataError(f"{path} line {bad + 2}: expected {width} fields, got {len(rows[bad])}", "The file is damaged")
    return rows


def _read_table(path: str | os.PathLike, header: Sequence[str], what: str, convert: Callable[[list], T]) -> T:
    """``convert(rows)`` of a CSV file with ``header`` (rows without the header)."""
    return read_whole_lines(path, what, lambda text: convert(_table_rows(path, text, header, what)))


def _columns(path, rows: list[list[str]], header: Sequence[str], types: dict[str, type]) -> dict[str, np.ndarray]:
    """Typed columns of ``rows``; a bad value raises DataError naming its line and column."""
    out: dict[str, np.ndarray] = {}
    for j, name in enumerate(header):
        values = [row[j] for row in rows]
        kind = types.get(name, str)
        try:
            out[name] = np.array(values, dtype=kind) if values else np.zeros(0, kind)
        except ValueError:
            for i, v in enumerate(values):
                try:
                    kind(v)
                except ValueError:
                    raise DataError(
                        f"{path} line {i + 2}: {name} {v!r} is not a number", "The file is damaged"
                    ) from None
            raise
    return out


def read_csv(path: str | os.PathLike) -> TrackRecords:
    """Read a ``tracks.csv``."""
    types = dict(frame=np.int64, time_s=np.float64, track_id=np.int64, class_id=np.int64, score=np.float64,
                 x1=np.float64, y1=np.float64, x2=np.float64, y2=np.float64)

    def records(rows: list[list[str]]) -> TrackRecords:
        c = _columns(path, rows, CSV_HEADER, types)
        return TrackRecords(
            frame=c["frame"], time_s=c["time_s"], track_id=c["track_id"], class_id=c["class_id"],
            class_name=c["class_name"], score=c["score"], boxes=np.stack([c["x1"], c["y1"], c["x2"], c["y2"]], axis=1),
        )

    return _read_table(path, CSV_HEADER, "tracks CSV", records)


def read_camera_motion(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
    """Read a ``camera_motion.csv``: (frames (F,) int64 ascending, warps (F,2,3) float64)."""

    def records(rows: list[list[str]]) -> tuple[np.ndarray, np.ndarray]:
        c = _columns(path, rows, CAMERA_HEADER, {name: np.float64 for name in CAMERA_HEADER})
        frames = c["frame"].astype(np.int64)
        if np.any(np.diff(frames) <= 0):
            raise DataError(f"{path}: frames are not in increasing order", "The file is damaged")
        return frames, np.stack([c[name] for name in CAMERA_HEADER[1:]], axis=1).reshape(-1, 2, 3)

    return _read_table(path, CAMERA_HEADER, "camera motion CSV", records)


def read_jsonl(path: str | os.PathLike) -> TrackRecords:
    """Read a ``tracks.jsonl`` (``null`` numbers become NaN)."""
    return read_whole_lines(path, "tracks JSON lines file", lambda text: _jsonl_records(path, text))


def _jsonl_records(path, text: str) -> TrackRecords:
    frame, time_s, tid, cid, cname, score, boxes = [], [], [], [], [], [], []
    for number, line in enumerate(text.split("\n"), 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
            tracks = obj["tracks"]
            t = np.nan if obj["time_s"] is None else obj["time_s"]
            for tr in tracks:
                box = [np.nan if v is None else v for v in tr["box"]]
                if len(box) != 4:
                    raise ValueError("box needs 4 numbers")
                boxes.append(box)
                tid.append(tr["id"])
                cid.append(tr["class_id"])
                cname.append(tr["class"])
                score.append(np.nan if tr["score"] is None else tr["score"])
            frame += [obj["frame"]] * len(tracks)
            time_s += [t] * len(tracks)
        except (ValueError, KeyError, TypeError) as exc:
            raise DataError(f"{path} line {number}: not a tracks.jsonl frame ({exc})", "The file is damaged") from None
    if not frame:
        return TrackRecords.empty()
    return TrackRecords(frame=frame, time_s=time_s, track_id=tid, class_id=cid, class_name=cname, score=score,
                        boxes=boxes)


def read_summary(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Columns of a ``summary.csv`` (see :data:`tracker.io.sinks.SUMMARY_HEADER`), typed."""
    types = dict(track_id=np.int64, first_frame=np.int64, last_frame=np.int64, frames_seen=np.int64,
                 duration_s=np.float64, path_length_px=np.float64, mean_score=np.float64)
    return _read_table(path, SUMMARY_HEADER, "track summary CSV", lambda r: _columns(path, r, SUMMARY_HEADER, types))


def read_counts(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Columns of a ``counts.csv`` (see :data:`tracker.analyze.counting.COUNTS_HEADER`); empty cells read as -1."""
    types = {"frame": np.int64, "time_s": np.float64, "in": np.int64, "out": np.int64, "occupancy": np.int64}

    def columns(rows: list[list[str]]) -> dict[str, np.ndarray]:
        for row in rows:
            for j in (5, 6, 7):  # in, out, occupancy
                if row[j] == "":
                    row[j] = str(NOT_APPLICABLE)
        return _columns(path, rows, COUNTS_HEADER, types)

    return _read_table(path, COUNTS_HEADER, "counts CSV", columns)


def read_crossings(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Columns of a ``crossings.csv`` (see :data:`tracker.analyze.counting.CROSSINGS_HEADER`)."""
    types = {"frame": np.int64, "time_s": np.float64, "track_id": np.int64}
    return _read_table(path, CROSSINGS_HEADER, "crossings CSV", lambda r: _columns(path, r, CROSSINGS_HEADER, types))


def read_run_info(run_dir: str | os.PathLike) -> dict:
    """The ``run.json`` of a run folder; {} when the run predates it."""
    path = Path(run_dir) / RUN_INFO_NAME
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise DataError(f"cannot read {path}: {exc}", "Delete it; plots then use a blank background") from None
    if not isinstance(data, dict):
        raise DataError(f"{path} is not a JSON object", "Delete it; plots then use a blank background")
    return data


def run_outputs(run_dir: str | os.PathLike) -> set[str] | None:
    """The output files run.json lists (paths relative to the run folder); None without such a list."""
    outputs = read_run_info(run_dir).get("outputs")
    return None if outputs is None else set(outputs)


def load_tracks(run_dir: str | os.PathLike) -> TrackRecords:
    """The tracks of a run folder, from tracks.jsonl, tracks.csv or tracks.txt: the first one present that is
    the run's (run.json lists its outputs; a folder without that list takes any of them)."""
    run = Path(run_dir)
    if not run.is_dir():
        raise DataError(f"run folder not found: {run}", "Pass the --out folder of a `tracker track` run")
    outputs = run_outputs(run)
    for name in TRACK_FILES:
        path = run / name
        if path.is_file() and (outputs is None or name in outputs):
            if name == JSONL_NAME:
                return read_jsonl(path)
            if name == CSV_NAME:
                return read_csv(path)
            return read_results(path, fps=read_run_info(run).get("fps"))
    raise DataError(
        f"no tracks file in {run} (looked for {', '.join(TRACK_FILES)})",
        "Pass the --out folder of a `tracker track` run with output.csv, output.jsonl or output.mot on",
    )


def counts_path(run_dir: str | os.PathLike) -> Path:
    return Path(run_dir) / COUNTS_NAME
