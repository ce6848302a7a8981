"""Ultralytics YOLO detector (YOLOv5u / v8 / 11 / ... ``.pt`` weights, or any format Ultralytics loads).

With ``detector.weights`` null it uses ``yolo11n.pt``, which Ultralytics downloads on
first use (into the working directory); offline, give a local file instead.

Two ways in, one result:

- numpy frames (the CPU): Ultralytics' batched ``predict`` (letterbox with OpenCV, upload, run, NMS);
- frames already on the device as tensors (:mod:`tracker.detect.frames`; detection models on
  CUDA): the same letterbox done there on the whole batch (:func:`letterbox_batch`), the model
  through Ultralytics' ``AutoBackend`` (fp16 when ``detector.half``) and its NMS. Full frames
  then stay on the GPU for the embedder, and the host does no resizing.
"""

from __future__ import annotations

import pickle
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch  # before Ultralytics, whose import sets OMP_NUM_THREADS=1 when it is unset: torch loaded after
import torch.nn.functional as F  # that computes on one core whatever set_num_threads says (YOLOv8s: 300 vs 150 ms)

from ...config import DetectorConfig
from ...errors import ModelError
from ...structures import Detections
from ..devices import resolve_device
from .common import LETTERBOX_PAD_VALUE, OutputFilter

DEFAULT_WEIGHTS = "yolo11n.pt"  # Ultralytics' smallest current COCO detector
BOX_TASKS = ("detect", "segment", "pose")  # tasks whose results carry axis-aligned boxes
FP16_BITS = 16  # Ultralytics' `quantize` value for half precision
TENSOR_TASKS = ("detect",)  # tasks whose raw output the tensor path decodes (boxes, scores, classes only)
PIXEL_MAX = 255.0  # Ultralytics models take RGB floats in 0..1
FIX = "Give a local .pt file with --set detector.weights=PATH"
# What loading raises for a missing / undownloadable file (OSError covers ConnectionError and
# requests' errors), a corrupt checkpoint (Ultralytics wraps unpickling errors in TypeError),
# a truncated torch zip (RuntimeError) or a pickle that is not an Ultralytics model.
_LOAD_ERRORS = (
    OSError, TypeError, RuntimeError, EOFError, pickle.UnpicklingError, AttributeError, KeyError, ValueError,
)  # fmt: skip


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0].rstrip(".") if text else type(exc).__name__


def load_yolo(weights: str):
    """``ultralytics.YOLO(weights)``; every load failure becomes a one-line ModelError."""
    path = Path(weights).expanduser()
    # A bare name (no folder) may be an Ultralytics asset that YOLO() downloads; a path with a
    # folder that does not exist is a user mistake reported here, without any network access.
    if not path.exists() and path.name != weights:
        raise ModelError(f"weights file not found: {path}", FIX)
    from ultralytics import YOLO

    try:
        return YOLO(str(path) if path.exists() else weights)
    except _LOAD_ERRORS as exc:
        raise ModelError(f"could not load YOLO weights {weights!r}: {_first_line(exc)}", FIX) from exc


@dataclass(frozen=True)
class Letterbox:
    """Where a frame lands in the network input: Ultralytics' ``LetterBox(auto=True, center=True)``,
    as its ``predict`` applies to a batch of same-sized frames (``rect``): resized by one ratio to
    fit ``size``, padded to the next multiple of the stride, the padding split between both sides."""

    height: int  # of the frame
    width: int
    new_height: int  # of the resized frame inside the padding
    new_width: int
    top: int  # padding above and left of it
    left: int
    out_height: int  # of the network input
    out_width: int

    @classmethod
    def fit(cls, height: int, width: int, size: int, stride: int) -> Letterbox:
        ratio = min(size / height, size / width)
        new_w, new_h = max(round(width * ratio), 1), max(round(height * ratio), 1)
        pad_w, pad_h = (size - new_w) % stride / 2, (size - new_h) % stride / 2
        # Ultralytics' rounding: the odd pixel goes below / right of the frame
        top, bottom = round(pad_h - 0.1), round(pad_h + 0.1)
        left, right = round(pad_w - 0.1), round(pad_w + 0.1)
        return cls(height, width, new_h, new_w, top, left, new_h + top + bottom, new_w + left + right)

    def unmap(self, boxes: torch.Tensor) -> torch.Tensor:
        """(N,4) xyxy boxes in network pixels -> frame pixels."""
        offset = boxes.new_tensor([self.left, self.top, self.left, self.top])
        gain = boxes.new_tensor([self.new_width / self.width, self.new_height / self.height] * 2)
        return (boxes - offset) / gain


def letterbox_batch(frames: list[torch.Tensor], box: Letterbox, dtype: torch.dtype) -> torch.Tensor:
    """(B,3,H,W) RGB network input in 0..1 from same-sized (H,W,3) BGR uint8 frames, where they are.

    Bilinear resizing with half-pixel centres, as ``cv2.INTER_LINEAR`` (no antialiasing, like it).
    """
    batch = torch.stack(frames).permute(0, 3, 1, 2).to(dtype)
    if (box.new_height, box.new_width) != (box.height, box.width):
        batch = F.interpolate(batch, size=(box.new_height, box.new_width), mode="bilinear", align_corners=False)
    right, bottom = box.out_width - box.new_width - box.left, box.out_height - box.new_height - box.top
    batch = F.pad(batch, (box.left, right, box.top, bottom), value=LETTERBOX_PAD_VALUE)
    return batch.flip(1).div_(PIXEL_MAX)


def _half_precision_args() -> dict:
    """fp16 predict arguments: ``quantize=16`` in Ultralytics >= 8.4, ``half=True`` before."""
    from ultralytics.cfg import DEFAULT_CFG_DICT

    return {"quantize": FP16_BITS} if "quantize" in DEFAULT_CFG_DICT else {"half": True}


class UltralyticsDetector:
    """Batched Ultralytics predict; class names come from the weights."""

    def __init__(self, cfg: DetectorConfig, source: str | None = None):  # the source: only `mot` reads it
        self.weights = cfg.weights or DEFAULT_WEIGHTS
        self.model = load_yolo(self.weights)
        if self.model.task not in BOX_TASKS:
            raise ModelError(
                f"{self.weights} is a {self.model.task!r} model, which gives no boxes",
                f"Use a model for one of: {', '.join(BOX_TASKS)}",
            )
        names = self.model.names
        if isinstance(names, dict):  # {id: name}, normally contiguous from 0
            self.class_names = [str(names.get(i, f"class{i}")) for i in range(max(names) + 1)]
        else:
            self.class_names = [str(n) for n in names]
        self.filter = OutputFilter.from_config(cfg, self.class_names)
        self.device = resolve_device(cfg.device)
        self.predict_args = dict(
            conf=cfg.conf_threshold,
            iou=cfg.nms_iou,
            device=self.device,
            max_det=cfg.max_detections,
            classes=None if self.filter.keep_ids is None else self.filter.keep_ids.tolist(),
            batch=cfg.batch_size,
            verbose=False,
        )
        if cfg.input_size is not None:  # null keeps the size the weights were trained at
            self.predict_args["imgsz"] = cfg.input_size
        self.half = cfg.half and self.device.startswith("cuda")
        if self.half:
            self.predict_args.update(_half_precision_args())
        # frames already on the GPU go through detect_tensors (tracker.detect.frames)
        on_gpu = self.device.startswith("cuda") and self.model.task in TENSOR_TASKS
        self.frames_device = self.device if on_gpu else None
        self._backend = None  # Ultralytics' AutoBackend for detect_tensors, built on first use

    def detect(
        self, images: list[np.ndarray], frame_indices: list[int], uploaded: list[torch.Tensor] | None = None
    ) -> list[Detections]:
        """Detections of each BGR frame; ``uploaded``: the same frames as (H,W,3) uint8 tensors on a device."""
        if not images:
            return []
        if uploaded is not None:
            return self.detect_tensors(images, uploaded)
        threads = torch.get_num_threads()
        results = self.model.predict(list(images), **self.predict_args)
        if torch.get_num_threads() != threads:
            # Ultralytics' CPU set-up lowers torch to (cores - 1) threads, process-wide: one of 2 cores
            # here. Inference runs in the pipeline's detection thread while tracking and writing run
            # in another, so it gets every core back (YOLOv8s at 640 on 2 cores: 249 -> 150 ms a frame).
            torch.set_num_threads(threads)
        out = []
        for image, result in zip(images, results):
            boxes = result.boxes
            out.append(
                self.filter.apply(
                    boxes.xyxy.cpu().numpy(), boxes.conf.cpu().numpy(), boxes.cls.cpu().numpy(), image.shape
                )
            )
        return out

    def _tensor_backend(self):
        if self._backend is None:
            from copy import deepcopy

            from ultralytics.cfg import DEFAULT_CFG_DICT
            from ultralytics.nn.autobackend import AutoBackend
            from ultralytics.utils.checks import check_imgsz

            # as Ultralytics' predictor builds it: a fused copy (the numpy path keeps the original)
            self._backend = AutoBackend(
                model=deepcopy(self.model.model), device=torch.device(self.device), fp16=self.half, fuse=True,
                verbose=False,
            ).eval()  # fmt: skip
            self._stride = int(self._backend.stride)
            size = self.predict_args.get("imgsz") or self.model.overrides.get("imgsz") or DEFAULT_CFG_DICT["imgsz"]
            self._size = check_imgsz(size, stride=self._stride)
        return self._backend

    @torch.inference_mode()
    def detect_tensors(self, images: list[np.ndarray], uploaded: list[torch.Tensor]) -> list[Detections]:
        """:meth:`detect` for frames already on the device: one forward pass per frame size in the batch."""
        try:
            from ultralytics.utils.nms import non_max_suppression
        except ImportError:  # older Ultralytics kept it in ops
            from ultralytics.utils.ops import non_max_suppression

        backend = self._tensor_backend()
        dtype = torch.float16 if self.half else torch.float32
        by_shape: dict[tuple, list[int]] = {}
        for i, frame in enumerate(uploaded):
            by_shape.setdefault(tuple(frame.shape), []).append(i)
        out: list[Detections | None] = [None] * len(images)
        for (height, width, _), members in by_shape.items():
            box = Letterbox.fit(height, width, self._size, self._stride)
            batch = letterbox_batch([uploaded[i] for i in members], box, dtype)
            predictions = non_max_suppression(
                backend(batch), self.predict_args["conf"], self.predict_args["iou"], self.predict_args["classes"],
                max_det=self.predict_args["max_det"],
            )  # fmt: skip
            for i, pred in zip(members, predictions):
                pred = pred.float()
                pred[:, :4] = box.unmap(pred[:, :4])
                pred = pred.cpu().numpy()
                out[i] = self.filter.apply(pred[:, :4], pred[:, 4], pred[:, 5], images[i].shape)
        return out
