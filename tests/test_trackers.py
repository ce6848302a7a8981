"""Scenario tests for every tracker policy over the shared track store."""

from __future__ import annotations

import numpy as np
import pytest

from tracker.config import load_config
from tracker.structures import Detections
from tracker.trackers import TRACKERS, build_tracker

ALL = sorted(TRACKERS)
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


@pytest.mark.parametrize("name", ["botsort", "deepsort"])
def test_two_people_crossing_keep_their_ids(name):
    """Two walkers meet, overlap fully and turn back: motion alone predicts they pass
    through each other (an ID swap); appearance must decide who is who."""
    tr = make(name, n_init=1)
    app = unit([[1, 0.1, 0, 0], [0, 0.1, 1, 0]])
    first_ids = None
    for f in range(40):
        step = 8 * f if f <= 20 else 8 * (40 - f)  # they meet at frame 20 and go back
        xa, xb = 100 + step, 420 - step
        boxes = np.array([box_at(xa, 200), box_at(xb, 204)], np.float32)
        # near the crossing the detector's boxes are noisy and the order shuffles
        order = [1, 0] if f % 2 else [0, 1]
        t = tr.update(dets(boxes[order], emb=app[order]))
        who = {int(tid): order[di] for tid, di in zip(t.track_ids, t.det_index) if di >= 0}
        if first_ids is None:
            first_ids = {v: k for k, v in who.items()}
        for tid, person in who.items():
            assert first_ids[person] == tid, f"frame {f}: track {tid} took person {person}"
    assert len(first_ids) == 2


@pytest.mark.parametrize("name", ALL)
def test_lost_tracks_are_freed(name):
    tr = make(name, max_age=3, max_age_unit="frames")
    for f in range(5):
        tr.update(dets([box_at(10 * i, 10 + f) for i in range(0, 400, 50)]))
    for _ in range(6):
        tr.update(dets(np.zeros((0, 4))))
    assert len(tr) == 0
    assert tr.features.counts.shape == (0,)


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
