"""Detectors: turn batches of BGR frames into per-frame :class:`~tracker.structures.Detections`.

Every detector returns boxes already filtered by ``detector.conf_threshold`` and
``detector.classes``, clipped to the image, sorted by score and capped at
``detector.max_detections``. Each is registered by name in :data:`tracker.config.DETECTORS`
and imported when it is built, so choosing ``yolox`` never imports Ultralytics. A
detector is built as ``cls(cfg, source)``: only ``mot`` uses the source.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np

from ...config import DETECTORS, DetectorConfig
from ...structures import Detections


@runtime_checkable
class Detector(Protocol):
    """What the pipeline calls. ``class_names[i]`` is the name of class id ``i``."""

    class_names: list[str]

    def detect(self, images: list[np.ndarray], frame_indices: list[int]) -> list[Detections]:
        """One Detections per BGR uint8 image; ``frame_indices`` are 0-based positions in the source."""
        ...


def build_detector(cfg: DetectorConfig, source: str | None = None) -> Detector:
    """The detector ``cfg.name`` names in :data:`tracker.config.DETECTORS`, imported now; ``source`` is the source
    spec (``mot`` reads <source>/det/det.txt)."""
    return DETECTORS.load(cfg.name)(cfg, source)


__all__ = ["Detector", "build_detector"]
