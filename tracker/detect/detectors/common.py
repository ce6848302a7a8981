"""Helpers shared by every detector: class names and filters, letterbox, NMS, output post-processing."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Sequence

import cv2
import numpy as np

from ...config import default_value
from ...errors import ConfigError
from ...structures import Detections

log = logging.getLogger(__name__)

# The 80 COCO classes in the order used by YOLOX and Ultralytics (index = class id).
COCO_CLASSES: tuple[str, ...] = (
    "person", "bicycle", "car", "motorcycle", "airplane", "bus", "train", "truck", "boat",
    "traffic light", "fire hydrant", "stop sign", "parking meter", "bench", "bird", "cat", "dog",
    "horse", "sheep", "cow", "elephant", "bear", "zebra", "giraffe", "backpack", "umbrella",
    "handbag", "tie", "suitcase", "frisbee", "skis", "snowboard", "sports ball", "kite",
    "baseball bat", "baseball glove", "skateboard", "surfboard", "tennis racket", "bottle",
    "wine glass", "cup", "fork", "knife", "spoon", "bowl", "banana", "apple", "sandwich", "orange",
    "broccoli", "carrot", "hot dog", "pizza", "donut", "cake", "chair", "couch", "potted plant",
    "bed", "dining table", "toilet", "tv", "laptop", "mouse", "remote", "keyboard", "cell phone",
    "microwave", "oven", "toaster", "sink", "refrigerator", "book", "clock", "vase", "scissors",
    "teddy bear", "hair drier", "toothbrush",
)  # fmt: skip

LETTERBOX_PAD_VALUE = 114  # grey used by YOLOX (and YOLOv5+) to pad the letterboxed input
NAMES_IN_ERROR = 8  # how many valid class names an unknown-class error lists
# OpenCV's NMS also drops boxes scoring at or below a threshold; the detectors threshold scores themselves
NMS_KEEP_EVERY_SCORE = -1.0


def resolve_classes(classes: Sequence[str | int] | None, class_names: Sequence[str]) -> np.ndarray | None:
    """Class ids (sorted, int32) for ``detector.classes`` given as names or ids; None keeps every class.

    Names match case-insensitively. An unknown name or out-of-range id raises ConfigError.
    """
    if classes is None:
        return None
    lookup: dict[str, int] = {}
    for index, name in enumerate(class_names):
        lookup.setdefault(str(name).lower(), index)
    ids = []
    for item in classes:
        if isinstance(item, (int, np.integer)) and not isinstance(item, bool):
            if not 0 <= int(item) < len(class_names):
                raise ConfigError(
                    f"detector.classes: class id {item} is out of range, "
                    f"this detector has ids 0..{len(class_names) - 1}",
                    "Fix detector.classes or set it to null to keep every class",
                )
            ids.append(int(item))
        elif str(item).lower() in lookup:
            ids.append(lookup[str(item).lower()])
        else:
            shown = [n for n in class_names if not n.startswith(("__", "N/A"))][:NAMES_IN_ERROR]
            more = ", ..." if len(class_names) > len(shown) else ""
            raise ConfigError(
                f"detector.classes: unknown class {item!r} for this model (valid: {', '.join(shown)}{more})",
                "Use names or ids of the model's classes, or set detector.classes to null to keep every class",
            )
    return np.unique(np.asarray(ids, np.int32))


def class_filter(classes: Sequence[str | int] | None, class_names: Sequence[str]) -> np.ndarray | None:
    """:func:`resolve_classes`, except for the default filter (configs/default.yaml's ``detector.classes``,
    ``[person]``) on a model that has none of its classes, e.g. custom weights with classes Normal / Fall:
    every class is kept, with one warning, so any weights track out of the box. A filter the user chose
    that names an unknown class stays an error."""
    default = default_value("detector.classes")
    if classes is not None and default is not None and list(classes) == list(default):
        lookup = {str(name).lower() for name in class_names}
        if not any(str(c).lower() in lookup for c in classes if isinstance(c, str)):
            log.warning(
                "detector.classes %s (the default) names no class of this model (%s): keeping every class; "
                "choose with --classes", list(classes), ", ".join(map(str, class_names[:NAMES_IN_ERROR])),
            )  # fmt: skip
            return None
    return resolve_classes(classes, class_names)


@dataclass(frozen=True)
class OutputFilter:
    """What every detector applies to its raw output: score threshold, class filter, clip, cap."""

    conf_threshold: float
    keep_ids: np.ndarray | None  # class ids to keep; None keeps all
    max_detections: int

    @classmethod
    def from_config(cls, cfg, class_names: Sequence[str]) -> "OutputFilter":
        """Built from a DetectorConfig; raises ConfigError for unknown classes."""
        return cls(cfg.conf_threshold, class_filter(cfg.classes, class_names), cfg.max_detections)

    def mask(self, scores: np.ndarray, class_ids: np.ndarray) -> np.ndarray:
        """Rows that pass the score threshold and the class filter."""
        keep = scores >= self.conf_threshold
        if self.keep_ids is not None:
            keep &= np.isin(class_ids, self.keep_ids)
        return keep

    def apply(
        self, boxes: np.ndarray, scores: np.ndarray, class_ids: np.ndarray, image_shape: tuple[int, ...],
        embeddings: np.ndarray | None = None,
    ) -> Detections:
        """Filter, clip xyxy boxes to the image, drop empty boxes, sort by score and cap the count;
        ``embeddings`` (one row per box), when given, follow their boxes."""
        boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
        scores = np.asarray(scores, np.float32).reshape(-1)
        class_ids = np.asarray(class_ids, np.int32).reshape(-1)
        height, width = image_shape[:2]
        clipped = np.empty_like(boxes)
        np.clip(boxes[:, 0::2], 0.0, width, out=clipped[:, 0::2])
        np.clip(boxes[:, 1::2], 0.0, height, out=clipped[:, 1::2])
        with np.errstate(invalid="ignore"):
            non_empty = (clipped[:, 2] > clipped[:, 0]) & (clipped[:, 3] > clipped[:, 1])
        keep = np.flatnonzero(self.mask(scores, class_ids) & non_empty & np.isfinite(scores))
        order = keep[np.argsort(-scores[keep], kind="stable")][: self.max_detections]
        kept = None if embeddings is None else np.asarray(embeddings, np.float32)[order]
        return Detections(boxes=clipped[order], scores=scores[order], class_ids=class_ids[order], embeddings=kept)


def letterbox(image: np.ndarray, size: int, pad_value: int = LETTERBOX_PAD_VALUE) -> tuple[np.ndarray, float]:
    """Resize ``image`` to fit a ``size`` x ``size`` square, top-left aligned, padding the rest.

    Returns the padded image and the scale (network pixels per image pixel), so that
    image coordinates = network coordinates / scale.
    """
    height, width = image.shape[:2]
    scale = min(size / height, size / width)
    new_w, new_h = max(1, round(width * scale)), max(1, round(height * scale))
    out = np.full((size, size) + image.shape[2:], pad_value, dtype=image.dtype)
    out[:new_h, :new_w] = cv2.resize(image, (new_w, new_h), interpolation=cv2.INTER_LINEAR)
    return out, scale


def batched_nms(boxes: np.ndarray, scores: np.ndarray, class_ids: np.ndarray, iou_threshold: float) -> np.ndarray:
    """Indices kept by per-class non-maximum suppression, highest score first.

    OpenCV's ``NMSBoxesBatched``: the same boxes, in the same order, as torchvision's
    ``batched_nms`` (tests/detect/test_detectors.py checks it against torchvision), without
    importing torch, which the ONNX detectors otherwise never need (about 3 s of CPU at start-up).
    """
    if len(boxes) == 0:
        return np.zeros(0, np.int64)
    xywh = np.array(boxes, np.float64).reshape(-1, 4)
    xywh[:, 2:] -= xywh[:, :2]
    keep = cv2.dnn.NMSBoxesBatched(
        xywh, np.asarray(scores, np.float32), np.asarray(class_ids, np.int32), NMS_KEEP_EVERY_SCORE, float(iou_threshold)
    )
    return np.asarray(keep, np.int64).reshape(-1)
