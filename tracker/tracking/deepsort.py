"""DeepSORT: appearance matching cascade with a Mahalanobis gate, then IoU for the rest.

Wojke et al. 2017. Confirmed tracks are matched level by level, most recently
seen first, on the cosine distance to their feature gallery (blended with the
Mahalanobis distance by ``appearance_weight``); pairs outside the chi-square gate
or above ``max_cosine_distance`` never match. Tentative tracks and tracks missed
for one frame then get an IoU pass on the detections left.
"""

from __future__ import annotations

from functools import partial

import numpy as np

from ..config import DeepSortConfig
from ..structures import Detections
from .association import gallery_distance, gate, unused
from .core import NO_MATCH, State, Tracker
from .table import FeatureBank


class DeepSort(Tracker, config=DeepSortConfig):
    cfg: DeepSortConfig
    uses_appearance = True

    def feature_bank(self) -> FeatureBank:
        return FeatureBank(budget=self.cfg.nn_budget)

    def appearance_cost(self, dets: Detections, t: np.ndarray, d: np.ndarray) -> np.ndarray:
        table = self.table
        c = self.cfg
        maha = self.kf.gating_distance(table.mean[t], table.cov[t], self.space.to_measurement(dets.boxes[d]))
        if table.features.ready and dets.embeddings is not None:
            app = gallery_distance(table.features.gallery[t], table.features.counts[t], dets.embeddings[d])
            w = c.appearance_weight
        else:  # no appearance model: motion alone, scaled so the gate maps to max_cosine_distance
            app, w = np.zeros_like(maha), 0.0
        cost = w * app + (1.0 - w) * maha / c.gating_chi2 * c.max_cosine_distance
        cost = gate(cost, maha > c.gating_chi2)
        return self.class_gate(cost, t[:, None], dets, d[None, :])

    def associate(self, dets: Detections):
        table = self.table
        c = self.cfg
        confirmed = self.rows_in(State.CONFIRMED, State.LOST)
        remaining = np.arange(len(dets))
        matched = [NO_MATCH]
        for level in np.unique(table.since_update[confirmed]):
            if len(remaining) == 0:
                break
            tracks = confirmed[table.since_update[confirmed] == level]
            m, _, remaining = self.match_subset(
                lambda t, d: self.appearance_cost(dets, t, d), tracks, remaining, c.max_cosine_distance
            )
            matched.append(m)
        cascade = np.concatenate(matched)
        unmatched_confirmed = self.unmatched(confirmed, cascade)
        just_missed = unmatched_confirmed[table.since_update[unmatched_confirmed] == 1]
        iou_candidates = np.concatenate([self.rows_in(State.TENTATIVE), just_missed])

        iou_cost = partial(self.iou_cost, dets)
        m_iou, _, remaining = self.match_overlapping(iou_cost, dets, iou_candidates, remaining, c.max_iou_distance)
        matches = np.concatenate([cascade, m_iou])
        unmatched_tracks = unused(matches[:, 0], len(self))
        return matches, unmatched_tracks, remaining
