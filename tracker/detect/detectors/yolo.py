"""Ultralytics YOLO detector (YOLOv5u / v8 / 11 / ... ``.pt`` weights, or any format Ultralytics loads).

With ``detector.weights`` null it uses ``yolo11n.pt``, which Ultralytics downloads on
first use (into the working directory); offline, give a local file instead.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np

from ...config import DetectorConfig
from ...errors import ModelError
from ...structures import Detections
from ..devices import resolve_device
from .common import OutputFilter

DEFAULT_WEIGHTS = "yolo11n.pt"  # Ultralytics' smallest current COCO detector
BOX_TASKS = ("detect", "segment", "pose")  # tasks whose results carry axis-aligned boxes
FP16_BITS = 16  # Ultralytics' `quantize` value for half precision
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
    import torch  # noqa: F401 - before Ultralytics, whose import sets OMP_NUM_THREADS=1 when it is unset:
    # torch loaded after that computes on one core whatever set_num_threads says (YOLOv8s: 300 vs 150 ms on 2 cores)
    from ultralytics import YOLO

    try:
        return YOLO(str(path) if path.exists() else weights)
    except _LOAD_ERRORS as exc:
        raise ModelError(f"could not load YOLO weights {weights!r}: {_first_line(exc)}", FIX) from exc


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
        if cfg.half and self.device.startswith("cuda"):
            self.predict_args.update(_half_precision_args())

    def detect(self, images: list[np.ndarray], frame_indices: list[int]) -> list[Detections]:
        if not images:
            return []
        import torch

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
