"""SORT: Kalman prediction + one Hungarian pass on IoU (Bewley et al. 2016)."""

from __future__ import annotations

from functools import partial

import numpy as np

from ..config import SortConfig
from ..structures import Detections
from .core import Tracker


class Sort(Tracker, config=SortConfig):
    cfg: SortConfig

    def associate(self, dets: Detections):
        cost = partial(self.iou_cost, dets)
        return self.match_overlapping(cost, dets, np.arange(len(self)), np.arange(len(dets)), 1.0 - self.cfg.min_iou)
