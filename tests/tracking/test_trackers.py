"""Scenario tests for every tracker policy over the shared track store."""

from __future__ import annotations

import numpy as np
import pytest

from tracker.config import TRACKERS, load_config
from tracker.structures import Detections
from tracker.tracking import build_tracker

ALL = sorted(TRACKERS.names)
FPS = 10.0


def make(name, **overrides):
    cfg = load_config(tracker=name, overrides={f"tracker.{k}": v for k, v in overrides.items()}).tracker
    return build_tracker(cfg, fps=FPS, num_classes=3)


def dets(boxes, scores=None, classes=None, emb=None):
    boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
    n = len(boxes)
    return Detections(
        boxes=boxes,
        scores=np.full(n, 0.9, np.float32) if scores is None else scores,
        class_ids=np.zeros(n, np.int32) if classes is None else classes,
        embeddings=emb,
    )


def unit(v):
    v = np.asarray(v, np.float32)
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def box_at(x, y, w=40, h=100):
    return [x, y, x + w, y + h]


def run_walk(tr, frames):
    """frames: list of Detections; returns list of {track_id: det_index} per frame."""
    out = []
    for d in frames:
        t = tr.update(d)
        out.append(dict(zip(t.track_ids.tolist(), t.det_index.tolist())))
    return out


@pytest.mark.parametrize("name", ALL)
def test_single_walker_keeps_one_id(name):
    tr = make(name)
    frames = [dets([box_at(100 + 5 * f, 200)]) for f in range(30)]
    seen = run_walk(tr, frames)
    ids = {i for frame in seen for i in frame}
    assert ids == {1}
    assert all(frame == {1: 0} for frame in seen[3:])


@pytest.mark.parametrize("name", ALL)
def test_occlusion_of_k_frames_keeps_id(name):
    k = 6
    tr = make(name, max_age=k + 3, max_age_unit="frames")
    frames = []
    for f in range(40):
        visible = not (15 <= f < 15 + k)
        frames.append(dets([box_at(100 + 6 * f, 200)] if visible else np.zeros((0, 4))))
    seen = run_walk(tr, frames)
    assert {i for frame in seen for i in frame} == {1}
    assert seen[15 + k] == {1: 0}  # back on the first frame it is visible again


@pytest.mark.parametrize("name", ALL)
def test_empty_frame_keeps_tracks_predicted(name):
    tr = make(name, max_age=5, max_age_unit="frames", output_lost=True)
    for f in range(8):
        tr.update(dets([box_at(100 + 10 * f, 200), box_at(400, 100 + 10 * f)]))
    before = tr.update(dets([box_at(180, 200), box_at(400, 180)]))
    empty = tr.update(dets(np.zeros((0, 4))))
    assert sorted(empty.track_ids.tolist()) == sorted(before.track_ids.tolist())
    assert np.all(empty.det_index == -1)
    # predicted boxes kept moving with the walkers
    order = np.argsort(empty.track_ids)
    np.testing.assert_allclose(empty.boxes[order][:, 0], [190, 400], atol=3)
    np.testing.assert_allclose(empty.boxes[order][:, 1], [200, 190], atol=3)


@pytest.mark.parametrize("name", ALL)
def test_ids_never_reused(name):
    tr = make(name, max_age=2, max_age_unit="frames")
    all_ids = []
    for life in range(6):  # a walker appears, lives 6 frames, vanishes; repeat far apart in time
        for f in range(6):
            all_ids += tr.update(dets([box_at(50 + 4 * f, 50)])).track_ids.tolist()
        for _ in range(5):
            tr.update(dets(np.zeros((0, 4))))
    distinct = sorted(set(all_ids))
    assert len(distinct) == 6
    assert distinct == sorted(distinct) and distinct[0] >= 1


@pytest.mark.parametrize("name", ALL)
def test_two_instances_do_not_share_id_counters(name):
    a, b = make(name, n_init=1), make(name, n_init=1)
    for f in range(3):
        a.update(dets([box_at(10, 10), box_at(300, 10)]))
    tb = b.update(dets([box_at(10, 10)]))
    assert tb.track_ids.tolist() == [1]


@pytest.mark.parametrize("name", ALL)
def test_per_class_mode_never_mixes_classes(name):
    tr = make(name, per_class=True, n_init=1)
    person, car = np.array([0], np.int32), np.array([1], np.int32)
    same_look = unit([[1.0, 0.0, 0.0]])  # identical appearance must not open the class gate either
    t0 = tr.update(dets([box_at(100, 100)], classes=person, emb=same_look))
    t1 = tr.update(dets([box_at(101, 100)], classes=car, emb=same_look))
    assert t0.track_ids.tolist() != t1.track_ids.tolist()
    assert t1.class_ids.tolist() == [1]


@pytest.mark.parametrize("name", ALL)
def test_det_index_points_at_the_matched_detection(name):
    tr = make(name, n_init=1)
    rng = np.random.default_rng(0)
    starts = np.array([[50, 50], [300, 60], [550, 300], [100, 400]], float)
    for f in range(10):
        boxes = np.array([box_at(*(s + [3 * f, 2 * f])) for s in starts], np.float32)
        perm = rng.permutation(len(boxes))
        t = tr.update(dets(boxes[perm]))
        for box, di in zip(t.boxes, t.det_index):
            assert di >= 0
            assert np.abs(box - boxes[perm][di]).max() < 5


@pytest.mark.parametrize("name", ALL)
def test_invalid_detections_are_dropped_and_counted(name):
    tr = make(name, n_init=1)
    d = dets([box_at(10, 10), [np.nan, 0, 5, 5], [5, 5, 5, 20], [0, 0, np.inf, 3]])
    t = tr.update(d)
    assert tr.invalid_detections == 3
    assert t.det_index.tolist() == [0]


def test_class_follows_majority_of_detections():
    tr = make("sort", n_init=1)
    classes = [2, 2, 0, 2, 0, 0, 0]
    for f, c in enumerate(classes):
        t = tr.update(dets([box_at(100 + f, 100)], classes=np.array([c], np.int32)))
    assert t.class_ids.tolist() == [0]  # four votes for 0, three for 2


@pytest.mark.parametrize("name, on_demand", [("botsort", True), ("botsort", False), ("deepsort", None)],
                         ids=["botsort-on-demand", "botsort", "deepsort"])  # fmt: skip
def test_two_people_crossing_keep_their_ids(name, on_demand):
    """Two walkers meet, overlap fully and turn back: motion alone predicts they pass
    through each other (an ID swap); appearance must decide who is who."""
    tr = make(name, n_init=1, **({} if on_demand is None else {"embed_on_demand": on_demand}))
    app = unit([[1, 0.1, 0, 0], [0, 0.1, 1, 0]])
    first_ids = None
    for f in range(40):
        step = 8 * f if f <= 20 else 8 * (40 - f)  # they meet at frame 20 and go back
        xa, xb = 100 + step, 420 - step
        boxes = np.array([box_at(xa, 200), box_at(xb, 204)], np.float32)
        # near the crossing the detector's boxes are noisy and the order shuffles
        order = [1, 0] if f % 2 else [0, 1]
        t = tr.replay(dets(boxes[order], emb=app[order]))  # on demand: only the crops it asks for
        who = {int(tid): order[di] for tid, di in zip(t.track_ids, t.det_index) if di >= 0}
        if first_ids is None:
            first_ids = {v: k for k, v in who.items()}
        for tid, person in who.items():
            assert first_ids[person] == tid, f"frame {f}: track {tid} took person {person}"
    assert len(first_ids) == 2
    if on_demand:  # apart they are embedded once a second at most; together, every frame
        assert 0 < tr.embedded_detections < 2 * 40 * 0.6


# ---- BoT-SORT embedding on demand ----------------------------------------------------------------------------------


class Recorder:
    """``embed(rows)`` for Tracker.update: returns the given embeddings' rows and records which were asked for."""

    def __init__(self, embeddings):
        self.embeddings = np.asarray(embeddings, np.float32)
        self.asked: list[int] = []

    def __call__(self, rows):
        self.asked = sorted(np.asarray(rows).tolist())
        return self.embeddings[rows]


def test_on_demand_embeds_only_where_appearance_can_decide():
    tr = make("botsort", feature_refresh_s=1.0, n_init=1)  # FPS 10: a feature is refreshed after 10 frames
    look = unit(np.eye(6)[:, :4] + 0.1)
    step = tr.update

    def frame(boxes, scores, looks):
        rec = Recorder(look[looks])
        step(dets(boxes, scores=np.asarray(scores, np.float32)), embed=rec)
        return rec.asked

    # new tracks get their first feature; a low-score detection is never embedded
    assert frame([box_at(100, 200), box_at(400, 200), box_at(700, 200)], [0.9, 0.9, 0.2], [0, 1, 2]) == [0, 1]
    # each alone with its own track, features fresh: nothing to embed
    assert frame([box_at(104, 200), box_at(404, 200)], [0.9, 0.9], [0, 1]) == []
    # far from the predicted box (IoU about 0.3): IoU alone would reject the pair, appearance can still match it
    assert frame([box_at(128, 200), box_at(408, 200)], [0.5, 0.9], [0, 1]) == [0]
    # a second person next to the first: both boxes touch the first track, identities could swap
    assert frame([box_at(134, 200), box_at(412, 200), box_at(158, 205)], [0.9, 0.9, 0.9], [0, 1, 3]) == [0, 2]
    # walking alone again (frames 5-16): the first walker jumped away and starts a new track; each feature is
    # refreshed once it is 10 frames old (the second walker's dates from frame 1, the new track's from frame 5)
    asked = {f: frame([box_at(300 + 5 * f, 400), box_at(416 + 4 * f, 200)], [0.9, 0.9], [0, 1]) for f in range(12)}
    assert {f: rows for f, rows in asked.items() if rows} == {0: [0], 6: [1], 10: [0]}
    assert tr.embedded_detections == 2 + 0 + 1 + 2 + 3


def test_on_demand_ignores_overlaps_too_slight_to_matter():
    """Boxes that merely touch (IoU far below what a match or an appearance rescue needs) do not make a
    detection contested: its crop could not change any decision."""
    tr = make("botsort", feature_refresh_s=1.0, n_init=1)
    look = unit(np.eye(4) + 0.1)
    tr.update(dets([box_at(100, 200), box_at(136, 200)]), embed=Recorder(look[:2]))
    # each box now also covers a 4-pixel strip of the other's track: IoU about 0.05, far from any threshold
    rec = Recorder(look[:2])
    t = tr.update(dets([box_at(100, 200), box_at(136, 200)]), embed=rec)
    assert rec.asked == [] and t.det_index.tolist() == [0, 1]
    # move the second person onto the first: now both boxes could go to either track
    rec = Recorder(look[:2])
    tr.update(dets([box_at(100, 200), box_at(112, 200)]), embed=rec)
    assert rec.asked == [0, 1]


def test_on_demand_rows_are_the_callers_rows():
    """Invalid detections are dropped before association: the rows asked for still index the caller's array."""
    tr = make("botsort")
    rec = Recorder(unit(np.ones((3, 4))))
    boxes = [[np.nan, 0, 10, 10], box_at(100, 100), [50, 50, 40, 40]]  # NaN and zero-size boxes are invalid
    t = tr.update(dets(boxes), embed=rec)
    assert rec.asked == [1]
    assert t.det_index.tolist() == [1] and tr.table.features.known.tolist() == [True]


def test_track_without_feature_is_matched_on_iou_alone():
    """A track born without an embedding (the embedder asked for nothing) has unknown appearance: no veto."""
    tr = make("botsort", appearance_reject_thresh=0.01)
    tr.update(dets([box_at(100, 100)]))  # no embeddings at all: born without a feature
    rec = Recorder(unit([[1.0, 0, 0, 0]]))
    t = tr.update(dets([box_at(102, 100)]), embed=rec)
    assert rec.asked == [0]  # its feature is missing: asked for
    assert t.track_ids.tolist() == [1] and tr.table.features.known.tolist() == [True]


@pytest.mark.parametrize("seed", range(6))
def test_on_demand_equals_embedding_everything_when_every_choice_is_asked_for(seed):
    """With features refreshed every frame and no low-score detections, on demand embeds every detection that
    can reach a track or start one: the tracks must be those of embedding every detection."""
    rng = np.random.default_rng(seed)
    full = make("botsort", embed_on_demand=False)
    lazy = make("botsort", embed_on_demand=True, feature_refresh_s=0.0)
    people = rng.uniform([0, 0], [600, 400], size=(12, 2))
    velocity = rng.normal(0, 6, size=(12, 2))
    looks = unit(rng.normal(size=(12, 8)))
    for f in range(40):
        people += velocity
        seen = np.flatnonzero(rng.random(12) > 0.15)
        xy = people[seen] + rng.normal(0, 2, size=(len(seen), 2))
        boxes = np.concatenate([xy, xy + [40, 100]], axis=1)
        d = dets(boxes, scores=rng.uniform(0.4, 1.0, len(seen)).astype(np.float32),
                 emb=unit(looks[seen] + rng.normal(0, 0.2, size=(len(seen), 8))))  # fmt: skip
        a, b = full.update(d), lazy.replay(d)
        assert a.track_ids.tolist() == b.track_ids.tolist() and a.det_index.tolist() == b.det_index.tolist()
        np.testing.assert_array_equal(a.boxes, b.boxes)


@pytest.mark.parametrize("name", ALL)
def test_lost_tracks_are_freed(name):
    tr = make(name, max_age=3, max_age_unit="frames")
    for f in range(5):
        tr.update(dets([box_at(10 * i, 10 + f) for i in range(0, 400, 50)]))
    for _ in range(6):
        tr.update(dets(np.zeros((0, 4))))
    assert len(tr) == 0
    assert tr.table.features.counts.shape == (0,)


def test_max_age_in_seconds_uses_fps():
    cfg = load_config(tracker="bytetrack", overrides={"tracker.max_age": 1.5, "tracker.max_age_unit": "seconds"}).tracker
    assert build_tracker(cfg, fps=20.0).max_age_frames == 30
    assert build_tracker(cfg, fps=7.0).max_age_frames == pytest.approx(10.5)


def test_dropped_frames_predict_over_the_real_gap():
    tr = make("bytetrack", n_init=1)
    for f in range(6):
        tr.update(dets([box_at(100 + 10 * f, 100)]))
    # 3 frames were dropped by a live source: the walker moved 40 px
    t = tr.update(dets([box_at(190, 100)]), dt=4 / FPS)
    assert t.track_ids.tolist() == [1]


def test_bad_fps_is_rejected():
    cfg = load_config().tracker
    with pytest.raises(ValueError):
        build_tracker(cfg, fps=0.0)
