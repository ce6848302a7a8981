"""Offline smoothing: gap interpolation, the RTS smoother, and rewriting a run folder."""

from __future__ import annotations

import numpy as np
import pytest

from tracker.analyze.smoothing import (
    BOX,
    FRAME,
    X1,
    Y1,
    CameraPath,
    SCORE,
    TRACK_ID,
    interpolate_gaps,
    raw_path,
    read_csv,
    read_mot,
    rows_from_tracks,
    rts_smooth,
    smooth_run,
    smooth_tracks,
    tracks_by_frame,
    write_csv,
    write_mot,
)
from tracker.config import apply_overrides, load_config
from tracker.errors import DataError
from tracker.structures import Tracks

FPS = 7.0


@pytest.fixture
def cfg():
    return load_config()


def linear_track(track_id: int, frames, start=(100.0, 200.0, 140.0, 300.0), velocity=(3.0, 1.0, 3.0, 1.0)):
    """Rows of a box moving at constant velocity (pixels per frame); score 0.5 + frame / 100."""
    f = np.asarray(frames, np.float64)
    boxes = np.asarray(start)[None, :] + f[:, None] * np.asarray(velocity)[None, :]
    return np.column_stack([f, np.full(len(f), track_id), np.zeros(len(f)), 0.5 + f / 100, boxes])


def test_interpolation_fills_a_three_frame_gap_exactly():
    frames = [0, 1, 2, 3, 7, 8, 9]  # 4, 5, 6 missing
    out = interpolate_gaps(linear_track(1, frames), max_gap=3)
    truth = linear_track(1, range(10))
    assert out.shape == truth.shape
    np.testing.assert_allclose(out, truth, atol=1e-6)


def test_interpolation_leaves_longer_gaps_and_other_tracks_alone():
    a = linear_track(1, [0, 1, 2, 3, 7, 8])  # gap of 3
    b = linear_track(2, [0, 5])  # gap of 4
    out = interpolate_gaps(np.concatenate([b, a]), max_gap=3)
    assert sorted(out[out[:, TRACK_ID] == 1, FRAME].tolist()) == list(range(9))
    assert sorted(out[out[:, TRACK_ID] == 2, FRAME].tolist()) == [0, 5]
    assert len(interpolate_gaps(a, max_gap=0)) == len(a)


def test_a_gap_longer_than_the_track_was_seen_is_left_open():
    sporadic = linear_track(1, [0, 1, 2, 10, 11])  # seen 5 times, 7 frames missing
    steady = linear_track(2, [0, 1, 2, 3, 4, 5, 6, 7, 15, 16])  # seen 10 times, the same 7 missing
    out = interpolate_gaps(np.concatenate([sporadic, steady]), max_gap=10, max_ratio=1.0)
    assert out[out[:, TRACK_ID] == 1, FRAME].tolist() == [0, 1, 2, 10, 11]
    assert out[out[:, TRACK_ID] == 2, FRAME].tolist() == list(range(17))
    # the ratio bounds the gap by the frames seen: 7 <= 1.5 x 5 fills the sporadic track too
    assert len(interpolate_gaps(sporadic, max_gap=10, max_ratio=1.5)) == 12
    assert len(interpolate_gaps(sporadic, max_gap=10)) == 12  # no ratio given: any gap up to max_gap


def test_duplicate_track_in_a_frame_is_a_data_error():
    rows = linear_track(1, [0, 1, 1, 2])
    with pytest.raises(DataError, match="appears twice in frame 1"):
        interpolate_gaps(rows, max_gap=5)


def test_rts_keeps_a_noise_free_straight_line():
    frames = np.arange(40)
    boxes = linear_track(1, frames)[:, BOX]
    np.testing.assert_allclose(rts_smooth(frames, boxes, load_config().smoothing, FPS), boxes, atol=1e-2)


@pytest.mark.parametrize("fps", [7.0, 25.0])
def test_rts_reduces_noise_on_a_straight_walk_and_moves_no_box_far(cfg, fps):
    noise_px, bound_px = 2.0, 8.0  # bound: four noise standard deviations
    rng = np.random.default_rng(0)
    frames = np.arange(80)
    truth = linear_track(1, frames)[:, BOX]
    noisy = truth + rng.normal(0.0, noise_px, truth.shape)
    smoothed = rts_smooth(frames, noisy, cfg.smoothing, fps)
    raw_error = np.abs(noisy - truth).mean()
    assert np.abs(smoothed - truth).mean() < 0.5 * raw_error
    assert np.abs(smoothed - noisy).max() < bound_px


def test_rts_handles_unfilled_gaps_as_longer_predictions(cfg):
    frames = np.array([0, 1, 2, 3, 40, 41, 42, 43])  # 36 missing frames
    truth = linear_track(1, frames)[:, BOX]
    np.testing.assert_allclose(rts_smooth(frames, truth, cfg.smoothing, FPS), truth, atol=1e-2)


def test_single_frame_tracks_pass_through_unchanged(cfg):
    lone = linear_track(7, [5])
    lone[:, BOX] += 0.123  # not on anyone's line
    walk = linear_track(1, range(20))
    walk[:, BOX] += 1.5 * (-1.0) ** np.arange(20)[:, None]  # zigzag jitter
    out = smooth_tracks(np.concatenate([walk, lone]), cfg.smoothing, FPS)
    np.testing.assert_array_equal(out[out[:, TRACK_ID] == 7], lone)
    assert not np.allclose(out[out[:, TRACK_ID] == 1, BOX], walk[:, BOX])  # the long track was smoothed
    assert rts_smooth(np.array([3]), lone[:, BOX], cfg.smoothing, FPS).tolist() == lone[:, BOX].tolist()


def test_smooth_tracks_fills_gaps_and_orders_by_frame(cfg):
    rows = np.concatenate([linear_track(2, [0, 1, 4, 5]), linear_track(1, [0, 1, 2, 3, 4, 5])])
    exact = cfg.smoothing.model_copy(update={"std_measurement": 0.01})  # the smoother keeps a line a line
    out = smooth_tracks(rows, exact, FPS)
    assert len(out) == 12
    assert np.all(np.diff(out[:, FRAME]) >= 0)
    filled = out[(out[:, TRACK_ID] == 2) & np.isin(out[:, FRAME], [2, 3])]
    np.testing.assert_allclose(filled[:, BOX], linear_track(2, [2, 3])[:, BOX], atol=1e-2)
    np.testing.assert_allclose(filled[:, SCORE], [0.52, 0.53])


def test_rows_round_trip_through_tracks():
    rows = np.concatenate([linear_track(3, [0, 2]), linear_track(1, [2, 3])])
    frames = dict(tracks_by_frame(rows))
    assert sorted(frames) == [0, 2, 3]
    assert frames[2].track_ids.tolist() == [1, 3]
    per_frame = [frames.get(i, Tracks(boxes=np.zeros((0, 4)), scores=[], class_ids=[])) for i in range(4)]
    back = rows_from_tracks(per_frame)
    order = np.lexsort((rows[:, TRACK_ID], rows[:, FRAME]))
    np.testing.assert_allclose(back, rows[order], atol=1e-4)  # boxes and scores pass through float32


def _write_run(folder, rows):
    times = rows[:, FRAME] / FPS
    write_csv(folder / "tracks.csv", rows, times, {0: "person"})
    write_mot(folder / "tracks.txt", rows)


def test_smooth_run_rewrites_outputs_and_keeps_the_originals(tmp_path, cfg):
    rng = np.random.default_rng(1)
    walk = linear_track(1, [f for f in range(30) if f not in (10, 11)])
    walk[:, BOX] += rng.normal(0, 1.5, (len(walk), 4))
    _write_run(tmp_path, walk)
    originals = {name: (tmp_path / name).read_bytes() for name in ("tracks.csv", "tracks.txt")}
    cfg = apply_overrides(cfg, {"smoothing.max_gap_s": 1.0})  # 7 frames

    summary = smooth_run(tmp_path, cfg)
    assert summary["filled"] == 2 and summary["rows_out"] == 30 and summary["fps"] == pytest.approx(FPS, rel=1e-3)
    for name, data in originals.items():
        assert raw_path(tmp_path / name).read_bytes() == data
    rows, times, names = read_csv(tmp_path / "tracks.csv")
    assert sorted(rows[:, FRAME].tolist()) == list(range(30)) and names == {0: "person"}
    np.testing.assert_allclose(times, rows[:, FRAME] / FPS, atol=1e-3)
    mot = read_mot(tmp_path / "tracks.txt")
    np.testing.assert_allclose(mot[:, BOX], rows[:, BOX], atol=0.02)
    truth = linear_track(1, range(30))[:, BOX]
    assert np.abs(rows[:, BOX] - truth).mean() < np.abs(walk[:, BOX] - linear_track(1, walk[:, FRAME])[:, BOX]).mean()
    assert not list(tmp_path.glob(".*tmp"))

    smoothed = (tmp_path / "tracks.csv").read_bytes()
    smooth_run(tmp_path, cfg)  # again: starts from the raw files, not from its own output
    assert (tmp_path / "tracks.csv").read_bytes() == smoothed
    assert raw_path(tmp_path / "tracks.csv").read_bytes() == originals["tracks.csv"]


def test_smooth_run_with_only_a_mot_file(tmp_path, cfg):
    write_mot(tmp_path / "tracks.txt", linear_track(4, [0, 1, 3, 4]))
    summary = smooth_run(tmp_path, cfg, fps=FPS)
    assert summary["rows_out"] == 5 and not (tmp_path / "tracks.csv").exists()
    assert read_mot(tmp_path / "tracks.txt")[:, FRAME].tolist() == [0, 1, 2, 3, 4]


def test_smooth_run_without_tracks_is_a_data_error(tmp_path, cfg):
    with pytest.raises(DataError, match="no tracks.csv or tracks.txt"):
        smooth_run(tmp_path, cfg)


def test_default_config_smooths_along_the_camera(cfg):
    assert cfg.smoothing.enabled is True and cfg.smoothing.max_gap_s > 0 and cfg.smoothing.compensate_camera is True


def test_smooth_run_of_a_run_without_tracks(tmp_path, cfg):
    _write_run(tmp_path, np.zeros((0, 8)))
    assert smooth_run(tmp_path, cfg, fps=FPS)["rows_out"] == 0
    assert read_csv(tmp_path / "tracks.csv")[0].shape == (0, 8)
    assert (tmp_path / "tracks.txt").read_text() == ""


def test_malformed_mot_file_is_a_data_error(tmp_path, cfg):
    (tmp_path / "tracks.txt").write_text("1,2,3\n")
    with pytest.raises(DataError, match="tracks.txt"):
        smooth_run(tmp_path, cfg, fps=FPS)


# camera motion --------------------------------------------------------------------------------------------------
def shaky_camera(frames: int, seed: int = 0) -> np.ndarray:
    """(frames,2,3) warps of a hand-held camera: shifts of up to 20 px, a little zoom and rotation each frame."""
    rng = np.random.default_rng(seed)
    angle, scale = rng.normal(0, 0.01, frames), 1 + rng.normal(0, 0.01, frames)
    warps = np.stack([np.cos(angle) * scale, -np.sin(angle) * scale, rng.uniform(-20, 20, frames),
                      np.sin(angle) * scale, np.cos(angle) * scale, rng.uniform(-20, 20, frames)], axis=1)
    warps[0] = np.eye(2, 3).ravel()
    return warps.reshape(-1, 2, 3)


def seen_by(camera: CameraPath, rows: np.ndarray) -> np.ndarray:
    """Rows given in the first frame's coordinates, as the camera sees them in each frame."""
    return camera.from_first(rows)


def test_camera_path_moves_boxes_to_the_first_frame_and_back():
    warps = shaky_camera(30)
    camera = CameraPath(np.arange(30), warps)
    rows = linear_track(1, range(30))
    np.testing.assert_allclose(camera.to_first(camera.from_first(rows)), rows, atol=1e-9)
    # a point (a box of no size) frame 2 sees: frame 3 sees the same point where frame 3's warp takes it
    seen_in_2 = np.array([[2, 1, 0, 0.5, 300.0, 200.0, 300.0, 200.0]])
    seen_in_3 = camera.from_first(camera.to_first(seen_in_2) + [1, 0, 0, 0, 0, 0, 0, 0])
    np.testing.assert_allclose(seen_in_3[0, [X1, Y1]], warps[3] @ [300.0, 200.0, 1.0], atol=1e-9)
    # frames camera_motion.csv leaves out had no motion: before its first frame there is none at all, after a
    # listed frame that frame's map holds
    sparse = CameraPath(np.array([5]), warps[5:6])

    def at(frame: int) -> np.ndarray:
        return np.array([[frame, 1, 0, 0.5, 100.0, 200.0, 140.0, 300.0]])

    for frame in (0, 4):
        np.testing.assert_array_equal(sparse.from_first(at(frame)), at(frame))
    np.testing.assert_allclose(sparse.from_first(at(9))[:, BOX], sparse.from_first(at(5))[:, BOX])
    assert not np.allclose(sparse.from_first(at(5))[:, BOX], at(5)[:, BOX])


def test_smoothing_follows_the_camera_a_person_standing_still_in_a_shaky_video(cfg):
    camera = CameraPath(np.arange(30), shaky_camera(30))
    still = linear_track(1, range(30), velocity=(0.0, 0.0, 0.0, 0.0))  # in the world: standing still
    seen = seen_by(camera, still)
    reported = seen[~np.isin(seen[:, FRAME], [12, 13, 14])]  # missed for three frames
    followed = smooth_tracks(reported, cfg.smoothing, FPS, camera)
    assert followed[:, FRAME].tolist() == list(range(30))
    np.testing.assert_allclose(followed[:, BOX], seen[:, BOX], atol=0.05)  # every box where the camera saw it
    # in image coordinates the shake looks like motion: the smoother and the gap filling get it wrong
    image = smooth_tracks(reported, cfg.smoothing.model_copy(update={"compensate_camera": False}), FPS, camera)
    assert np.abs(image[:, BOX] - seen[:, BOX]).max() > 5.0


def test_a_camera_path_that_drifts_out_of_range_is_not_followed(cfg, caplog):
    zoom = np.tile(np.array([[2.0, 0, 0], [0, 2.0, 0]]), (30, 1, 1))  # 2x per frame: 2**29 by the end
    camera = CameraPath(np.arange(30), zoom)
    assert not camera.usable and CameraPath(np.arange(30), shaky_camera(30)).usable
    rows = linear_track(1, range(30))
    with caplog.at_level("WARNING"):
        out = smooth_tracks(rows, cfg.smoothing, FPS, camera)
    assert "drifts too far to follow" in caplog.text
    np.testing.assert_array_equal(out, smooth_tracks(rows, cfg.smoothing, FPS))


def test_a_strided_run_is_filled_on_its_own_frames_only(cfg):
    rows = linear_track(1, [0, 3, 6, 15, 18])  # every third frame tracked; 9 and 12 missed
    out = smooth_tracks(rows, cfg.smoothing.model_copy(update={"std_measurement": 0.01}), FPS, stride=3)
    assert out[:, FRAME].tolist() == [0, 3, 6, 9, 12, 15, 18]
    np.testing.assert_allclose(out[:, BOX], linear_track(1, range(0, 19, 3))[:, BOX], atol=0.05)
    every_frame = cfg.smoothing.model_copy(update={"max_gap_ratio": 2.0})  # 8 frames missing, 5 seen
    assert smooth_tracks(rows, every_frame, FPS)[:, FRAME].tolist() == list(range(19))  # stride 1: every frame
