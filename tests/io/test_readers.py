"""Exports: every tracks file parses back to the tracks written; summary.csv, run.json and the readers' errors."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tracker.analyze.track_state import TrackState
from tracker.config import load_config
from tracker.errors import DataError
from tracker.io.mot import read_results
from tracker.io.readers import (
    load_tracks,
    read_camera_motion,
    read_csv,
    read_jsonl,
    read_run_info,
    read_summary,
)
from tracker.io.sinks import CameraMotionSink, JsonlSink, SummarySink, open_sinks
from tracker.io.sources import SourceInfo
from tracker.structures import Detections, FrameResult, Tracks

CLASS_NAMES = ["person", "traffic, light", 'say "hi"']  # commas and quotes must survive CSV and JSON
FPS = 12.5


def result(frame: int, boxes, ids, scores=None, class_ids=None) -> FrameResult:
    n = len(ids)
    tracks = Tracks(
        boxes=np.asarray(boxes, np.float32).reshape(n, 4),
        scores=np.full(n, 0.5, np.float32) if scores is None else np.asarray(scores, np.float32),
        class_ids=np.zeros(n, np.int32) if class_ids is None else np.asarray(class_ids, np.int32),
        track_ids=np.asarray(ids, np.int64),
        det_index=np.arange(n),
    )
    return FrameResult(frame_index=frame, time_s=frame / FPS, tracks=tracks, detections=Detections.empty())


def random_frames(seed: int = 0, n_frames: int = 30) -> list[FrameResult]:
    """Frames with 0-6 tracks each (some empty), random boxes, scores and classes (one unnamed: 7)."""
    rng = np.random.default_rng(seed)
    frames = []
    for f in range(n_frames):
        n = int(rng.integers(0, 7))
        xy = rng.uniform(0, 600, (n, 2))
        wh = rng.uniform(5, 120, (n, 2))
        ids = rng.choice(40, n, replace=False) + 1
        frames.append(
            result(f, np.hstack([xy, xy + wh]), ids, rng.uniform(0.1, 1.0, n), rng.choice([0, 1, 2, 7], n))
        )
    return frames


def info(**changes) -> SourceInfo:
    base = dict(uri="clip.mp4", kind="file", name="clip", fps=FPS, width=640, height=480, frame_count=30,
                is_live=False)
    return SourceInfo(**{**base, **changes})


def write_run(out, frames, **output) -> None:
    update = dict(video=False, show=False, csv=True, mot=True, jsonl=True, **output)
    cfg = load_config().output.model_copy(update=update)
    with open_sinks(out, cfg, info(), CLASS_NAMES) as sinks:
        for r in frames:
            sinks.write(r)


def expected(frames: list[FrameResult]) -> dict[str, np.ndarray]:
    rows = [r for r in frames if len(r.tracks)]
    cat = lambda get: np.concatenate([get(r) for r in rows])  # noqa: E731
    class_ids = cat(lambda r: r.tracks.class_ids)
    return dict(
        frame=cat(lambda r: np.full(len(r.tracks), r.frame_index)),
        time_s=cat(lambda r: np.full(len(r.tracks), r.time_s)),
        track_id=cat(lambda r: r.tracks.track_ids),
        class_id=class_ids,
        class_name=np.array([CLASS_NAMES[c] if c < len(CLASS_NAMES) else str(c) for c in class_ids]),
        score=cat(lambda r: r.tracks.scores),
        boxes=cat(lambda r: r.tracks.boxes),
    )


def assert_same_tracks(records, want, with_classes=True, with_time=True, box_atol=0.005 + 1e-4) -> None:
    """Equal up to the files' rounding: boxes to 2 decimals, scores to 4, times to 3."""
    np.testing.assert_array_equal(records.frame, want["frame"])
    np.testing.assert_array_equal(records.track_id, want["track_id"])
    np.testing.assert_allclose(records.boxes, want["boxes"], atol=box_atol)
    np.testing.assert_allclose(records.score, want["score"], atol=0.00005 + 1e-6)  # 4 decimals
    if with_time:
        np.testing.assert_allclose(records.time_s, want["time_s"], atol=0.0005 + 1e-9)
    if with_classes:
        np.testing.assert_array_equal(records.class_id, want["class_id"])
        np.testing.assert_array_equal(records.class_name, want["class_name"])


def test_every_tracks_file_parses_back_to_the_same_tracks(tmp_path):
    frames = random_frames()
    write_run(tmp_path, frames)
    want = expected(frames)
    assert len(want["frame"]) > 50
    assert_same_tracks(read_csv(tmp_path / "tracks.csv"), want)
    assert_same_tracks(read_jsonl(tmp_path / "tracks.jsonl"), want)
    mot = read_results(tmp_path / "tracks.txt", fps=FPS)
    assert_same_tracks(mot, want, with_classes=False, box_atol=0.01 + 1e-4)  # x2 = rounded left + rounded width
    assert (mot.class_id == -1).all() and (mot.class_name == "").all()
    assert np.isnan(read_results(tmp_path / "tracks.txt").time_s).all()  # no fps: no times
    assert_same_tracks(load_tracks(tmp_path), want)  # tracks.jsonl is preferred


def test_jsonl_is_strict_json_with_one_object_per_frame(tmp_path):
    frames = random_frames(seed=1, n_frames=12) + [result(12, [[np.nan, 1, 2, 3]], [9], scores=[np.inf])]
    with JsonlSink(tmp_path / "t.jsonl", CLASS_NAMES) as sink:
        for r in frames:
            sink.write(r)

    def refuse(constant):
        raise AssertionError(f"non-standard JSON constant {constant}")

    lines = (tmp_path / "t.jsonl").read_text().splitlines()
    objects = [json.loads(line, parse_constant=refuse) for line in lines]
    assert [o["frame"] for o in objects] == list(range(13))  # frames without tracks are listed too
    assert any(o["tracks"] == [] for o in objects)
    first = next(o for o in objects if o["tracks"])["tracks"][0]
    assert set(first) == {"id", "class_id", "class", "score", "box"} and len(first["box"]) == 4
    assert objects[-1]["tracks"] == [{"id": 9, "class_id": 0, "class": "person", "score": None,
                                      "box": [None, 1.0, 2.0, 3.0]}]
    back = read_jsonl(tmp_path / "t.jsonl")
    assert np.isnan(back.boxes[-1, 0]) and np.isnan(back.score[-1])


def test_summary_of_a_hand_made_scene(tmp_path):
    # track 1: bottom-centre moves by (3, 4) = 5 px per report, reported at frames 0, 1, 2 and 5 (a gap)
    # track 2 ("traffic, light"): stands still at frames 1-2, then jumps 10 px right at frame 3
    def box1(k):
        return [10 + 3 * k, 20 + 4 * k, 30 + 3 * k, 60 + 4 * k]

    frames = [
        result(0, [box1(0)], [1], scores=[0.9]),
        result(1, [box1(1), [100, 100, 120, 150]], [1, 2], scores=[0.8, 0.4], class_ids=[0, 1]),
        result(2, [box1(2), [100, 100, 120, 150]], [1, 2], scores=[0.7, 0.5], class_ids=[0, 1]),
        result(3, [[110, 100, 130, 150]], [2], scores=[0.6], class_ids=[1]),
        result(4, [], []),
        result(5, [box1(5)], [1], scores=[0.6]),
    ]
    with SummarySink(tmp_path / "summary.csv", CLASS_NAMES) as sink:
        for r in frames:
            sink.write(r)
        assert not (tmp_path / "summary.csv").exists()  # written once, at close
    s = read_summary(tmp_path / "summary.csv")
    np.testing.assert_array_equal(s["track_id"], [1, 2])
    np.testing.assert_array_equal(s["class_name"], ["person", "traffic, light"])
    np.testing.assert_array_equal(s["first_frame"], [0, 1])
    np.testing.assert_array_equal(s["last_frame"], [5, 3])
    np.testing.assert_array_equal(s["frames_seen"], [4, 3])
    np.testing.assert_allclose(s["duration_s"], [5 / FPS, 2 / FPS], atol=0.0005)
    np.testing.assert_allclose(s["path_length_px"], [25.0, 10.0], atol=0.005)  # 5 + 5 + 15 (across the gap)
    np.testing.assert_allclose(s["mean_score"], [0.75, 0.5], atol=0.00005)


def test_run_json_describes_the_source_and_the_frames_written(tmp_path):
    write_run(tmp_path, random_frames(n_frames=7))
    data = read_run_info(tmp_path)
    assert data["source"] == "clip.mp4" and data["source_path"].endswith("clip.mp4")
    assert (data["width"], data["height"], data["fps"], data["frame_count"]) == (640, 480, FPS, 30)
    assert data["class_names"] == CLASS_NAMES
    assert (data["frames_written"], data["first_frame"], data["last_frame"]) == (7, 0, 6)
    assert data["finished_at"] is not None
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "run.json", "summary.csv", "tracks.csv", "tracks.jsonl", "tracks.txt"
    ]  # no temporary files left behind


def test_live_sources_have_no_source_path(tmp_path):
    cfg = load_config().output.model_copy(update=dict(video=False, show=False))
    with open_sinks(tmp_path, cfg, info(uri="rtsp://cam/stream", kind="stream", is_live=True, frame_count=None),
                    CLASS_NAMES):
        pass
    assert read_run_info(tmp_path)["source_path"] is None


def test_frame_results_rebuild_the_frames(tmp_path):
    frames = random_frames(seed=2, n_frames=10)
    write_run(tmp_path, frames)
    rebuilt = list(read_csv(tmp_path / "tracks.csv").frame_results())
    nonempty = [r for r in frames if len(r.tracks)]
    assert [r.frame_index for r in rebuilt] == [r.frame_index for r in nonempty]
    for got, want in zip(rebuilt, nonempty):
        order = np.argsort(want.tracks.track_ids)
        np.testing.assert_array_equal(got.tracks.track_ids, want.tracks.track_ids[order])
        np.testing.assert_allclose(got.tracks.boxes, want.tracks.boxes[order], atol=0.0051)
        assert got.time_s == pytest.approx(want.time_s, abs=0.0005)


def test_empty_files_read_as_no_tracks(tmp_path):
    write_run(tmp_path, [result(0, [], []), result(1, [], [])])
    for records in (read_csv(tmp_path / "tracks.csv"), read_results(tmp_path / "tracks.txt"),
                    read_jsonl(tmp_path / "tracks.jsonl")):
        assert len(records) == 0 and records.boxes.shape == (0, 4)
    assert len(read_summary(tmp_path / "summary.csv")["track_id"]) == 0


@pytest.mark.parametrize("name", ["tracks.csv", "tracks.txt", "tracks.jsonl"])
@pytest.mark.parametrize("cut", [7, 20])
def test_an_unfinished_last_line_is_skipped_with_a_warning(tmp_path, caplog, name, cut):
    """A writer killed in the middle of a write (Linux stops a write of several pages at a page boundary)
    leaves the first part of a line: the readers keep every whole line before it and say what they skipped."""
    frames = [result(f, [[10 + f, 20, 30.25 + f, 40.75]], [1]) for f in range(4)]
    write_run(tmp_path, frames)
    path = tmp_path / name
    whole = path.read_bytes()
    path.write_bytes(whole[:-cut])
    read = {"tracks.csv": read_csv, "tracks.txt": read_results, "tracks.jsonl": read_jsonl}[name]
    with caplog.at_level("WARNING", logger="tracker.io.readers"):
        records = read(path)
    assert records.frame.tolist() == [0, 1, 2]
    assert "unfinished last line" in caplog.text and name in caplog.text
    # damaged before its last line as well: that damage is still an error
    lines = path.read_text().split("\n")
    lines[-2] = "x" + lines[-2]
    path.write_text("\n".join(lines))
    with pytest.raises(DataError, match="line"):
        read(path)


def test_a_whole_last_line_without_a_newline_is_kept(tmp_path):
    """MOTChallenge files written by other tools may end without a newline: nothing is skipped."""
    (tmp_path / "gt.txt").write_text("1,1,10,20,30,40,1,1,1\n2,1,11,20,30,40,1,1,1")
    assert read_results(tmp_path / "gt.txt").frame.tolist() == [0, 1]


def test_readers_name_the_problem(tmp_path):
    with pytest.raises(DataError, match="not found") as err:
        read_csv(tmp_path / "missing.csv")
    assert err.value.exit_code == 6
    bad_header = tmp_path / "a.csv"
    bad_header.write_text("frame,id\n1,2\n")
    with pytest.raises(DataError, match="header"):
        read_csv(bad_header)
    write_run(tmp_path, random_frames(n_frames=3))
    lines = (tmp_path / "tracks.csv").read_text().splitlines()
    lines[2] = lines[2].replace(lines[2].split(",")[0], "x", 1)
    (tmp_path / "tracks.csv").write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match="line 3: frame 'x'"):
        read_csv(tmp_path / "tracks.csv")
    (tmp_path / "bad.txt").write_text("1,2,3\n")
    with pytest.raises(DataError, match="columns"):
        read_results(tmp_path / "bad.txt")
    (tmp_path / "bad.jsonl").write_text('{"frame": 0, "time_s": 0, "tracks": []}\n{"frame": 1}\n')
    with pytest.raises(DataError, match="line 2"):
        read_jsonl(tmp_path / "bad.jsonl")
    with pytest.raises(DataError, match="run folder not found"):
        load_tracks(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no tracks file"):
        load_tracks(tmp_path / "empty")


def test_track_state_maps_ids_to_stable_rows_and_grows():
    st = TrackState(count=((), np.int64, 0), xy=((2,), np.float64, np.nan))
    rows, new = st.rows(np.array([50, 7, 3]))
    np.testing.assert_array_equal(rows, [0, 1, 2])
    assert new.all()
    st.column("count")[rows] += 1
    ids = np.arange(1000, 0, -3)  # many new ids, out of order, mixed with known ones (7 is among them)
    rows2, new2 = st.rows(ids)
    assert len(st) == 3 + len(ids) - 1 and st.column("count").shape[0] >= len(st)
    assert rows2[ids == 7] == 1 and not new2[ids == 7] and new2.sum() == len(ids) - 1
    st.column("count")[rows2] += 1
    counts = dict(zip(st.ids.tolist(), st["count"].tolist()))
    assert counts[7] == 2 and counts[50] == 1 and counts[3] == 1 and counts[1000] == 1
    np.testing.assert_array_equal(st.rows(np.array([3, 50]))[0], [2, 0])
    assert np.isnan(st["xy"]).all()  # new rows get the fill value


def test_camera_motion_round_trips_and_leaves_out_the_frames_without_motion(tmp_path):
    rng = np.random.default_rng(0)
    warps = {0: np.eye(2, 3), 1: np.eye(2, 3) + rng.normal(0, 0.01, (2, 3)) * [1, 1, 1000],
             2: np.eye(2, 3), 3: None, 4: np.eye(2, 3) + rng.normal(0, 0.01, (2, 3)) * [1, 1, 1000]}  # fmt: skip
    path = tmp_path / "camera_motion.csv"
    with CameraMotionSink(path) as sink:
        for frame, warp in warps.items():
            sink.write(FrameResult(frame_index=frame, time_s=frame / FPS, tracks=result(frame, [], []).tracks,
                                   detections=Detections.empty(), warp=warp))  # fmt: skip
    frames, read = read_camera_motion(path)
    assert frames.tolist() == [1, 4]  # no motion (identity, or no estimate) is no line
    np.testing.assert_allclose(read, [warps[1], warps[4]], rtol=1e-8)
    (tmp_path / "bad.csv").write_text(path.read_text().replace("\n4,", "\n1,"))
    with pytest.raises(DataError, match="frames are not in increasing order"):
        read_camera_motion(tmp_path / "bad.csv")
