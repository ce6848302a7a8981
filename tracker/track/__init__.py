"""Trackers: thin association policies over the shared track store in :mod:`.core`."""

from __future__ import annotations

from ..config import BaseTrackerConfig
from .botsort import BotSort
from .bytetrack import ByteTrack
from .core import State, Tracker
from .deepsort import DeepSort
from .sort import Sort

TRACKERS: dict[str, type[Tracker]] = {"sort": Sort, "deepsort": DeepSort, "bytetrack": ByteTrack, "botsort": BotSort}


def build_tracker(cfg: BaseTrackerConfig, fps: float, num_classes: int = 1) -> Tracker:
    """A fresh tracker (its own id counter) for a source running at ``fps`` frames per second."""
    return TRACKERS[cfg.name](cfg, fps, num_classes)


__all__ = ["TRACKERS", "BotSort", "ByteTrack", "DeepSort", "Sort", "State", "Tracker", "build_tracker"]
