"""Tracking: Detections in, Tracks out.

:mod:`.core` holds the track table's update loop every tracker shares; each policy
(:mod:`.sort`, :mod:`.deepsort`, :mod:`.bytetrack`, :mod:`.botsort`) decides which
detection goes with which track. :mod:`.association` has the costs and the assignment,
:mod:`.kalman` the motion model, :mod:`.camera_motion` the camera's motion, :mod:`.scores`
detection scores relative to the detector's own and :mod:`.table` the track table.
"""

from __future__ import annotations

from ..config import BaseTrackerConfig
from .botsort import BotSort
from .bytetrack import ByteTrack
from .core import State, Tracker
from .deepsort import DeepSort
from .sort import Sort


def build_tracker(cfg: BaseTrackerConfig, fps: float, num_classes: int = 1) -> Tracker:
    """A fresh tracker (its own id counter) of the policy ``cfg`` configures, for a source running at ``fps``."""
    return Tracker.policies[type(cfg)](cfg, fps, num_classes)


__all__ = ["BotSort", "ByteTrack", "DeepSort", "Sort", "State", "Tracker", "build_tracker"]
