"""YOLOX ONNX detector run with onnxruntime (default: the packaged COCO YOLOX-Nano).

The model takes a BGR 0-255 image letterboxed into a square (top-left aligned, padded
with 114, no normalisation) and returns, per anchor point, grid-relative xywh,
objectness and class scores (both already sigmoid-ed), which :func:`decode` turns into
image boxes. The half-precision setting does not apply: the model runs in fp32.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from ...config import DetectorConfig
from ...errors import ConfigError, ModelError
from ...structures import Detections
from ..onnx_session import onnx_device, open_session
from .common import COCO_CLASSES, OutputFilter, batched_nms, letterbox

log = logging.getLogger(__name__)

DEFAULT_WEIGHTS = Path(__file__).resolve().parents[2] / "assets" / "yolox_nano.onnx"
STRIDES = (8, 16, 32)  # YOLOX's three detection heads: one anchor point per stride-sized cell
DYNAMIC_INPUT_SIZE = 416  # input side for a model with dynamic H and W when detector.input_size is null
BOX_FIELDS = 5  # x, y, w, h, objectness before the class scores


def make_grid(size: int, strides: tuple[int, ...] = STRIDES) -> tuple[np.ndarray, np.ndarray]:
    """Anchor-point cell offsets (A,2) and their strides (A,1) for a ``size`` square input, in YOLOX order."""
    grids, expanded = [], []
    for stride in strides:
        cells = size // stride
        ys, xs = np.meshgrid(np.arange(cells), np.arange(cells), indexing="ij")
        grids.append(np.stack([xs.ravel(), ys.ravel()], axis=1))
        expanded.append(np.full((cells * cells, 1), stride))
    return np.concatenate(grids).astype(np.float32), np.concatenate(expanded).astype(np.float32)


def decode(
    raw: np.ndarray, grid: np.ndarray, strides: np.ndarray, keep_ids: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Raw (A, 5+K) output of one image -> xyxy boxes in network pixels, scores and class ids.

    The score of a box is objectness x its best class score, taken among ``keep_ids``
    when given (so a person filter still finds a person whose top class is another).
    """
    xy = (raw[:, :2] + grid) * strides
    wh = np.exp(raw[:, 2:4]) * strides
    boxes = np.concatenate([xy - wh / 2, xy + wh / 2], axis=1)
    class_scores = raw[:, BOX_FIELDS:]
    if keep_ids is not None:
        class_scores = class_scores[:, keep_ids]
    best = class_scores.argmax(axis=1)
    scores = raw[:, 4] * np.take_along_axis(class_scores, best[:, None], axis=1)[:, 0]
    class_ids = best if keep_ids is None else keep_ids[best]
    return boxes, scores, class_ids.astype(np.int32)


class YoloxDetector:
    """YOLOX ONNX model; batches run in one call when the model's batch axis is dynamic, else frame by frame."""

    def __init__(self, cfg: DetectorConfig, source: str | None = None):  # the source: only `mot` reads it
        path = Path(cfg.weights).expanduser() if cfg.weights else DEFAULT_WEIGHTS
        if not path.is_file():
            raise ModelError(
                f"weights file not found: {path}", "Give an existing YOLOX .onnx file with --set detector.weights=PATH"
            )
        self.session = open_session(
            str(path), onnx_device(cfg.device), "YOLOX", path,
            "Give a valid YOLOX .onnx file with --set detector.weights=PATH", cfg.threads,
        )
        self.input_name, batch, self.input_size = self._check_io(path, cfg.input_size)
        self.dynamic_batch = not isinstance(batch, int)
        self.grid, self.strides = make_grid(self.input_size)
        num_classes = self.session.get_outputs()[0].shape[2] - BOX_FIELDS
        coco = num_classes == len(COCO_CLASSES)
        self.class_names = list(COCO_CLASSES) if coco else [f"class{i}" for i in range(num_classes)]
        self.filter = OutputFilter.from_config(cfg, self.class_names)
        self.nms_iou = cfg.nms_iou

    def _check_io(self, path: Path, input_size: int | None) -> tuple[str, int | str | None, int]:
        """Input name, batch dimension and square size; ModelError when the model is not YOLOX-shaped."""
        inputs, outputs = self.session.get_inputs(), self.session.get_outputs()
        shape = inputs[0].shape
        out_shape = outputs[0].shape
        if len(inputs) != 1 or len(shape) != 4 or shape[1] != 3 or len(out_shape) != 3:
            raise ModelError(
                f"{path} is not a YOLOX model: expected one input Nx3xHxW and an output NxAx(5+classes)",
                "Give a YOLOX .onnx file with --set detector.weights=PATH",
            )
        height, width = shape[2], shape[3]
        if isinstance(height, int) and isinstance(width, int):
            if height != width:
                raise ModelError(f"{path} takes a {height}x{width} input; only square YOLOX inputs are supported")
            input_size = input_size or height
            if height != input_size:
                raise ConfigError(
                    f"detector.input_size is {input_size} but {path.name} takes {height}x{width} images",
                    f"Set detector.input_size={height}",
                )
        input_size = input_size or DYNAMIC_INPUT_SIZE
        if input_size % max(STRIDES):
            raise ConfigError(
                f"detector.input_size must be a multiple of {max(STRIDES)} for YOLOX, got {input_size}",
                f"Use e.g. {DYNAMIC_INPUT_SIZE} or 640",
            )
        anchors = sum((input_size // s) ** 2 for s in STRIDES)
        if isinstance(out_shape[1], int) and out_shape[1] != anchors:
            raise ModelError(f"{path} has {out_shape[1]} outputs per image, YOLOX at {input_size} has {anchors}")
        if not isinstance(out_shape[2], int) or out_shape[2] <= BOX_FIELDS:
            raise ModelError(f"{path} output has {out_shape[2]} values per box, YOLOX needs 5 + number of classes")
        return inputs[0].name, shape[0], input_size

    def preprocess(self, images: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """(B,3,S,S) float32 network input and the (B,) letterbox scales."""
        batch = np.empty((len(images), 3, self.input_size, self.input_size), np.float32)
        scales = np.empty(len(images), np.float32)
        for i, image in enumerate(images):
            padded, scales[i] = letterbox(image, self.input_size)
            batch[i] = padded.transpose(2, 0, 1)
        return batch, scales

    def infer(self, batch: np.ndarray) -> np.ndarray:
        """Raw (B, A, 5+K) model output."""
        if self.dynamic_batch:
            return self.session.run(None, {self.input_name: batch})[0]
        outputs = [self.session.run(None, {self.input_name: batch[i : i + 1]})[0] for i in range(len(batch))]
        return np.concatenate(outputs)

    def detect(self, images: list[np.ndarray], frame_indices: list[int]) -> list[Detections]:
        if not images:
            return []
        batch, scales = self.preprocess(images)
        raw = self.infer(batch)
        results = []
        for out, scale, image in zip(raw, scales, images):
            results.append(self._postprocess(out, scale, image.shape))
        return results

    def _postprocess(self, raw: np.ndarray, scale: float, image_shape: tuple[int, ...]) -> Detections:
        boxes, scores, class_ids = decode(raw, self.grid, self.strides, self.filter.keep_ids)
        candidates = np.flatnonzero(self.filter.mask(scores, class_ids))
        keep = candidates[batched_nms(boxes[candidates], scores[candidates], class_ids[candidates], self.nms_iou)]
        return self.filter.apply(boxes[keep] / scale, scores[keep], class_ids[keep], image_shape)
