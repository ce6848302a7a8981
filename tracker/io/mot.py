"""MOTChallenge files and folders: the one module that reads and writes them.

A sequence folder holds ``seqinfo.ini`` (its ``[Sequence]`` section: name, frameRate,
seqLength, imDir, ...), its frames as images in ``imDir`` (``img1/`` by default) or as a
video, ``gt/gt.txt`` (ground truth) and ``det/det.txt`` (public detections). Every text
file has one comma-separated row per box, ``frame, id, left, top, width, height, ...``
with 1-based frames: detections and tracker results then have a score (results end in
``-1,-1,-1``, the unused world coordinates); MOT16/17/20 ground truth a flag (0: ignore),
a class and a visibility, MOT15 ground truth world coordinates. A det.txt written by
``tracker detect`` has the class id in the 8th column (:mod:`.det_cache`).
"""

from __future__ import annotations

import configparser
import os
import re
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import DataError, SourceError
from ..structures import Detections, TrackRecords, Tracks
from .files import read_whole_lines

SEQINFO = "seqinfo.ini"
IMAGE_DIR = "img1"  # MOTChallenge default for seqinfo.ini's imDir
GT_FILE = Path("gt") / "gt.txt"
DET_FILE = Path("det") / "det.txt"
IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp"})
VIDEO_EXTENSIONS = (".mp4", ".avi", ".mkv", ".mov", ".webm")
# Columns (0-based) of every file; score in detections and results, flag in MOT16/17/20 ground truth.
FRAME, ID, BOX, SCORE, FLAG, CLASS, VISIBILITY = 0, 1, slice(2, 6), 6, 6, 7, 8
PEDESTRIAN_CLASS = 1  # MOT16/17/20 gt class of a walking person (others: vehicles, static people, reflections)
MIN_COLUMNS = 7  # frame, id, left, top, width, height, score; later columns are ignored
GT_MIN_COLUMNS = 6  # frame, id, left, top, width, height
COMMENT = "#"  # det.txt: lines starting with it are skipped
BOX_FORMAT = "%.2f"  # results: pixels
SCORE_FORMAT = "%.4f"
DET_SCORE_FORMAT = "%.6f"  # detections (`tracker detect`): enough digits that no score crosses a threshold
UNUSED = "-1,-1,-1"  # results: the x, y, z world coordinates, unused in 2D tracking
FORMAT_HINT = "Fix or delete the row (MOTChallenge format: frame,id,left,top,width,height,score)"


# ----- sequence folders -----------------------------------------------------------------------
def read_seqinfo(path: Path) -> dict[str, str]:
    """The [Sequence] section of a MOTChallenge seqinfo.ini (keys lower-case); {} when absent."""
    if not path.is_file():
        return {}
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read(path)
    except (configparser.Error, UnicodeDecodeError) as exc:
        raise SourceError(f"cannot parse {path}: {exc}".splitlines()[0], "Fix or remove the seqinfo.ini") from None
    return dict(parser["Sequence"]) if parser.has_section("Sequence") else {}


def _image_dir(root: Path, seqinfo: dict[str, str]) -> Path:
    return root / seqinfo.get("imdir", IMAGE_DIR)


def locate_images(path: Path) -> tuple[Path, dict[str, str], str]:
    """(image folder, seqinfo, sequence name) for a sequence folder, its img1/ or a plain image folder."""
    seqinfo = read_seqinfo(path / SEQINFO)
    if seqinfo:
        return _image_dir(path, seqinfo), seqinfo, seqinfo.get("name") or path.name
    if (path / IMAGE_DIR).is_dir():
        return path / IMAGE_DIR, {}, path.name
    parent_info = read_seqinfo(path.parent / SEQINFO)
    if parent_info and parent_info.get("imdir", IMAGE_DIR) == path.name:
        return path, parent_info, parent_info.get("name") or path.parent.name
    return path, {}, path.name


def _natural_key(path: Path) -> list:
    """Sort key that orders frame2.jpg before frame10.jpg (and zero-padded names as usual)."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", path.name)]


def image_files(folder: Path) -> list[Path]:
    """The images of ``folder`` in frame order (natural sort of their names).

    When ``folder`` is the imDir of a seqinfo.ini beside it that names an imExt, only files with
    that extension are frames (a stray thumbnail or mask of another type is not one).
    """
    seqinfo = read_seqinfo(folder.parent / SEQINFO)
    extension = seqinfo.get("imext", "").lower() if seqinfo.get("imdir", IMAGE_DIR) == folder.name else ""
    suffixes = {extension} if extension else IMAGE_SUFFIXES
    return sorted((p for p in folder.iterdir() if p.suffix.lower() in suffixes and p.is_file()), key=_natural_key)


def frame_files(folder: Path) -> dict[int, Path]:
    """1-based frame number -> image file of an image folder (numeric names, else the position in frame order)."""
    files = image_files(folder)
    if all(p.stem.isdigit() for p in files):
        return {int(p.stem): p for p in files}
    return {i: p for i, p in enumerate(files, start=1)}


@dataclass
class Sequence:
    name: str
    root: Path
    gt_file: Path
    frames: Path  # what open_source reads: a video file or the sequence folder (img1/)
    length: int  # frames to evaluate
    fps: float | None  # seqinfo.ini frameRate, when known
    det_file: Path | None  # public detections, when the sequence has them
    benchmark: str  # TrackEval's preprocessing flavour: MOT15 (no classes) or MOT17

    @property
    def image_dir(self) -> Path | None:
        """The folder of its frames when they are images (None for a video)."""
        return locate_images(self.frames)[0] if self.frames.is_dir() else None


def count_frames(frames: Path) -> int:
    """Frames of a sequence folder's images or of a video file."""
    import cv2  # only for videos: the rest of this module reads text

    if frames.is_dir():
        images = locate_images(frames)[0]
        return len(image_files(images)) if images.is_dir() else 0
    cap = cv2.VideoCapture(str(frames))
    try:
        return int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
    finally:
        cap.release()


def find_sequence(path: str | Path, video: str | Path | None = None) -> Sequence:
    """The sequence in folder ``path``; its frames come from its image folder, from a video inside the folder,
    from a video named like the folder beside it, or from ``video``."""
    root = Path(path)
    gt_file = root / GT_FILE
    if not gt_file.is_file():
        raise SourceError(f"no ground truth at {gt_file}", "A sequence folder needs gt/gt.txt (MOTChallenge layout)")
    info = read_seqinfo(root / SEQINFO)
    if video is not None:
        frames = Path(video)
    elif _image_dir(root, info).is_dir():
        frames = root
    else:
        inside = sorted(p for p in root.iterdir() if p.suffix.lower() in VIDEO_EXTENSIONS)
        beside = [root.with_suffix(ext) for ext in VIDEO_EXTENSIONS if root.with_suffix(ext).is_file()]
        found = inside or beside
        if not found:
            raise SourceError(f"no frames for sequence {root}", "Add img1/, a video in the folder, or pass --video PATH")
        frames = found[0]
    if not frames.exists():
        raise SourceError(f"video not found: {frames}")
    gt = read_gt(gt_file)
    present = count_frames(frames)
    declared = int(info.get("seqlength", present) or present)
    length = min(declared, present) if present else declared
    det = root / DET_FILE
    return Sequence(
        name=info.get("name", root.name) or root.name,
        root=root,
        gt_file=gt_file,
        frames=frames,
        length=length,
        fps=float(info["framerate"]) if "framerate" in info else None,
        det_file=det if det.is_file() else None,
        benchmark=gt_benchmark(gt),
    )


# ----- ground truth ---------------------------------------------------------------------------
def read_gt(path: Path) -> np.ndarray:
    try:
        gt = np.loadtxt(path, delimiter=",", ndmin=2)
    except ValueError as exc:
        raise DataError(f"cannot parse ground truth {path}: {exc}", "Expect MOTChallenge rows frame,id,left,top,w,h,...") from None
    if gt.shape[1] < GT_MIN_COLUMNS:
        raise DataError(f"ground truth {path} has {gt.shape[1]} columns, MOTChallenge needs at least {GT_MIN_COLUMNS}")
    return gt


def write_gt(path: Path, gt: np.ndarray) -> None:
    np.savetxt(path, gt, delimiter=",", fmt="%.6g")


def gt_benchmark(gt: np.ndarray) -> str:
    """MOT16/17/20 gt has a class column (1 = pedestrian) and a visibility in [0, 1]."""
    if gt.shape[1] >= 9 and np.all(np.isin(gt[:, 7], np.arange(1, 14))) and np.all((gt[:, 8] >= 0) & (gt[:, 8] <= 1)):
        return "MOT17"
    return "MOT15"


# ----- detections -----------------------------------------------------------------------------
def _first_bad_line(lines: list[str], line_numbers: np.ndarray, path: Path, columns: int = MIN_COLUMNS) -> DataError:
    """The DataError for the first unparsable row (only called once parsing has failed)."""
    for text, number in zip(lines, line_numbers):
        fields = text.split(",")
        if len(fields) < columns:
            return DataError(
                f"{path} line {number}: expected at least {columns} comma-separated values, got {len(fields)}",
                FORMAT_HINT,
            )
        for column, value in enumerate(fields[:columns], start=1):
            try:
                float(value)
            except ValueError:
                problem = f"{path} line {number}, column {column}: {value.strip()!r} is not a number"
                return DataError(problem, FORMAT_HINT)
    return DataError(f"{path}: cannot be parsed as a MOTChallenge det.txt", "Check the file's format")


def read_det(path: Path, columns: int = MIN_COLUMNS) -> np.ndarray:
    """(N, columns) float64 array of a det.txt's rows (at least the first 7: frame, id, box, score);
    DataError naming the line of the first malformed row."""
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"cannot read det file {path}: {exc}", "Check that it is a readable text file") from None
    all_lines = text.splitlines()
    line_numbers = np.array(
        [i for i, line in enumerate(all_lines, start=1) if line.strip() and not line.lstrip().startswith(COMMENT)],
        dtype=np.int64,
    )
    lines = [all_lines[i - 1] for i in line_numbers]
    if not lines:
        return np.zeros((0, columns))
    try:
        rows = np.loadtxt(lines, delimiter=",", usecols=range(columns), ndmin=2, dtype=np.float64)
    except ValueError:
        raise _first_bad_line(lines, line_numbers, path, columns) from None
    bad = ~np.isfinite(rows).all(axis=1) | (rows[:, FRAME] < 1) | (rows[:, FRAME] != np.round(rows[:, FRAME]))
    if bad.any():
        number = line_numbers[np.argmax(bad)]
        raise DataError(f"{path} line {number}: frame must be an integer >= 1 and every value finite", FORMAT_HINT)
    return rows


def format_detections(frame_index: int, dets: Detections) -> str:
    """det.txt rows of one frame's detections (``frame_index`` 0-based), with the class id in the 8th column
    (MOTChallenge's unused world x): ``frame,-1,left,top,width,height,score,class_id,-1,-1``."""
    if not len(dets):
        return ""
    row = f"{int(frame_index) + 1},-1,{BOX_FORMAT},{BOX_FORMAT},{BOX_FORMAT},{BOX_FORMAT},{DET_SCORE_FORMAT},%d,-1,-1\n"
    xywh = dets.xywh.astype(np.float64)
    columns = zip(*xywh.T.tolist(), dets.scores.astype(np.float64).tolist(), dets.class_ids.tolist())
    return "".join(map(row.__mod__, columns))


# ----- tracker results ------------------------------------------------------------------------
def format_results(frame_index: int, tracks: Tracks) -> str:
    """The rows of one frame's tracks (``frame_index`` 0-based): ``frame,id,left,top,width,height,score,-1,-1,-1``."""
    n = len(tracks)
    if not n:
        return ""
    row = f"{int(frame_index) + 1},%d,{BOX_FORMAT},{BOX_FORMAT},{BOX_FORMAT},{BOX_FORMAT},{SCORE_FORMAT},"
    row += UNUSED + "\n"
    xywh = tracks.xywh.astype(np.float64)
    columns = zip(tracks.track_ids.tolist(), *xywh.T.tolist(), tracks.scores.astype(np.float64).tolist())
    return "".join(map(row.__mod__, columns))


def read_results(path: str | os.PathLike, fps: float | None = None) -> TrackRecords:
    """Read a MOTChallenge txt (``tracks.txt``, or a gt.txt): 1-based frames become 0-based, xywh becomes xyxy.

    fps: gives ``time_s = frame / fps``; without it time_s is NaN. Classes are unknown (-1, "").
    """
    return read_whole_lines(path, "MOTChallenge tracks file", lambda text: _records(path, text, fps))


def _records(path, text: str, fps: float | None) -> TrackRecords:
    if not text.strip():
        return TrackRecords.empty()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        try:
            data = np.loadtxt(text.splitlines(), delimiter=",", ndmin=2, dtype=np.float64)
        except ValueError as exc:
            problem = f"{path} is not a MOTChallenge file: {exc}".splitlines()[0]
            raise DataError(problem, "The file is damaged") from None
    if data.shape[1] < MIN_COLUMNS:
        raise DataError(
            f"{path} has {data.shape[1]} columns; a MOTChallenge file has at least {MIN_COLUMNS}",
            "Expected frame,id,left,top,width,height,score,...",
        )
    frame = data[:, FRAME].astype(np.int64) - 1
    boxes = data[:, BOX].copy()
    boxes[:, 2:] += boxes[:, :2]
    n = len(data)
    return TrackRecords(
        frame=frame, time_s=frame / fps if fps else np.full(n, np.nan), track_id=data[:, ID].astype(np.int64),
        class_id=np.full(n, -1), class_name=np.full(n, ""), score=data[:, SCORE], boxes=boxes,
    )
