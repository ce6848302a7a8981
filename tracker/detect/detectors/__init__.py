"""Detectors: turn batches of BGR frames into per-frame :class:`~tracker.structures.Detections`.

Every detector returns boxes already filtered by ``detector.conf_threshold`` and
``detector.classes``, clipped to the image, sorted by score and capped at
``detector.max_detections``. Implementations are imported lazily, so choosing
``yolox`` never imports Ultralytics.
"""

from __future__ import annotations

import re
from typing import Protocol, runtime_checkable

import numpy as np

from ...config import DetectorConfig
from ...errors import ConfigError
from ...structures import Detections

_DEVICE_PATTERN = re.compile(r"^(auto|cpu|cuda(:\d+)?)$")


@runtime_checkable
class Detector(Protocol):
    """What the pipeline calls. ``class_names[i]`` is the name of class id ``i``."""

    class_names: list[str]

    def detect(self, images: list[np.ndarray], frame_indices: list[int]) -> list[Detections]:
        """One Detections per BGR uint8 image; ``frame_indices`` are 0-based positions in the source."""
        ...


def resolve_device(spec: str) -> str:
    """'auto' -> 'cuda' when torch sees a GPU, else 'cpu'; 'cpu', 'cuda' and 'cuda:N' are checked and returned."""
    spec = spec.strip().lower()
    if not _DEVICE_PATTERN.match(spec):
        raise ConfigError(f"unknown device {spec!r}", "Use auto, cpu, cuda or cuda:N")
    if spec == "cpu":
        return spec
    import torch

    available = torch.cuda.is_available()
    if spec == "auto":
        return "cuda" if available else "cpu"
    if not available:
        raise ConfigError(f"device {spec!r} requested but CUDA is not available", "Set the device to auto or cpu")
    index = int(spec.partition(":")[2] or 0)
    if index >= torch.cuda.device_count():
        raise ConfigError(
            f"device {spec!r} requested but only {torch.cuda.device_count()} CUDA device(s) exist",
            f"Use cuda:0 .. cuda:{torch.cuda.device_count() - 1}",
        )
    return spec


def build_detector(cfg: DetectorConfig, source: str | None = None) -> Detector:
    """The detector named by ``cfg.name``; ``source`` is the source spec (``mot`` reads <source>/det/det.txt)."""
    if cfg.name == "yolox":
        from .yolox import YoloxDetector

        return YoloxDetector(cfg)
    if cfg.name == "yolo":
        from .yolo import UltralyticsDetector

        return UltralyticsDetector(cfg)
    if cfg.name == "mot":
        from .mot import MotDetections

        return MotDetections(cfg, source)
    if cfg.name == "torchvision":
        from .torchvision_det import TorchvisionDetector

        return TorchvisionDetector(cfg)
    raise ConfigError(f"unknown detector {cfg.name!r}", "Use yolox, yolo, mot or torchvision")


__all__ = ["Detector", "build_detector", "resolve_device"]
