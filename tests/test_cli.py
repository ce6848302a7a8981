"""The ``tracker`` command line: help, an end-to-end run on the sample clip, errors and overrides."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import yaml

from tracker.cli import EXIT_INTERNAL, build_parser, format_summary, main
from tracker.config import load_config
from tracker.errors import ConfigError, SourceError
from tracker.pipeline import RunSummary

ROOT = Path(__file__).resolve().parents[1]
SAMPLE_VIDEO = ROOT / "samples" / "pets09_s2l1_150.mp4"
SAMPLE_GT = ROOT / "samples" / "pets09_s2l1_150" / "gt" / "gt.txt"
CSV_HEADER = "frame,time_s,track_id,class_id,class_name,score,x1,y1,x2,y2"
MOT_COLUMNS = 10
DET_SCORE = 0.9  # score given to the ground-truth boxes used as detections
CLI_TIMEOUT_S = 120  # generous bound for one subprocess run of the real pipeline


def write_det_file(path: Path) -> Path:
    """A MOTChallenge det.txt with the sample clip's ground-truth boxes (fast, deterministic detections)."""
    gt = np.loadtxt(SAMPLE_GT, delimiter=",", usecols=range(6), ndmin=2)
    rows = [f"{int(f)},-1,{x:.2f},{y:.2f},{w:.2f},{h:.2f},{DET_SCORE},-1,-1,-1" for f, _, x, y, w, h in gt]
    path.write_text("\n".join(rows) + "\n")
    return path


def fast_args(det_file: Path) -> list[str]:
    """CLI options that replace the neural models with the det file (the models are not the point)."""
    return ["--detector", "mot", "--set", f"detector.det_file={det_file}", "--appearance", "none"]


def run_cli(*args: str, timeout: float = CLI_TIMEOUT_S) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "tracker.cli", *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout
    )


def video_frames(path: Path) -> int:
    """Frames that actually decode (not the container's claim)."""
    cap = cv2.VideoCapture(str(path))
    assert cap.isOpened(), f"{path} does not open"
    n = 0
    while cap.grab():
        n += 1
    cap.release()
    return n


# help ----------------------------------------------------------------------------------


@pytest.mark.parametrize("argv", [["--help"], ["track", "--help"]])
def test_help_reads_well(argv, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 0
    text = capsys.readouterr().out
    assert "examples:" in text and "tracker track samples/pets09_s2l1_150.mp4" in text
    assert "exit codes:" in text and "130 interrupted" in text
    if argv[0] == "track":
        for option in ("--out", "--max-frames", "--set", "--tracker", "--detector", "--quiet"):
            assert option in text


def test_no_command_prints_help(capsys):
    assert main([]) == ConfigError.exit_code
    assert "COMMAND" in capsys.readouterr().out


@pytest.mark.parametrize(
    "argv, fragment",
    [
        (["trak", "x.mp4"], "invalid choice: 'trak'"),
        (["track", "x.mp4", "--detector", "yolov99"], "argument --detector: invalid choice: 'yolov99'"),
        (["track", "x.mp4", "--tracker", "deepsortt"], "argument --tracker: invalid choice: 'deepsortt'"),
        (["track", "x.mp4", "--max-frames", "0"], "argument --max-frames: 0 is less than 1"),
        (["track", "x.mp4", "--max-frames", "ten"], "'ten' is not a whole number"),
        (["track", "x.mp4", "--conf", "high"], "argument --conf"),
    ],
)
def test_usage_errors_are_one_line(argv, fragment, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == ConfigError.exit_code
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: ") and fragment in err and "--help" in err


# end to end ------------------------------------------------------------------------------


MAX_FRAMES = 12


@pytest.fixture(scope="module")
def default_run(tmp_path_factory):
    """The real default pipeline (YOLOX-Nano + OSNet + BoT-SORT) on the first frames of the sample clip."""
    out = tmp_path_factory.mktemp("cli") / "run"
    proc = run_cli(
        "track", str(SAMPLE_VIDEO), "--out", str(out), "--quiet", "--max-frames", str(MAX_FRAMES),
        "--set", "tracker.max_age=45", "--set", "output.trail_length=7",
    )
    return proc, out


def test_end_to_end_outputs(default_run):
    proc, out = default_run
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    assert f"tracked {MAX_FRAMES} frames" in proc.stderr
    assert "skipped 0 undecodable frames, dropped 0 invalid detections" in proc.stderr
    for name in ("annotated.mp4", "tracks.csv", "tracks.txt", "config.yaml"):
        assert (out / name).is_file() and (out / name).stat().st_size > 0, name

    lines = (out / "tracks.csv").read_text().splitlines()
    assert lines[0] == CSV_HEADER
    rows = list(csv.DictReader(lines))
    assert rows, "people are visible from the first frame: there must be tracks"
    assert all(len(r) == len(CSV_HEADER.split(",")) and None not in r.values() for r in rows)
    csv_frames = {int(r["frame"]) for r in rows}
    assert min(csv_frames) >= 0 and max(csv_frames) < MAX_FRAMES
    assert {r["class_name"] for r in rows} == {"person"}

    mot = np.loadtxt(out / "tracks.txt", delimiter=",", ndmin=2)
    assert mot.shape == (len(rows), MOT_COLUMNS)
    assert set(mot[:, 0].astype(int)) == {f + 1 for f in csv_frames}  # MOT frames are 1-based
    assert mot[:, 0].min() >= 1

    assert video_frames(out / "annotated.mp4") == MAX_FRAMES
    cap = cv2.VideoCapture(str(out / "annotated.mp4"))
    size = (int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)))
    cap.release()
    assert size == (768, 576)


def test_config_yaml_round_trips_with_overrides(default_run):
    proc, out = default_run
    assert proc.returncode == 0, proc.stderr
    saved = load_config(out / "config.yaml")
    expected = load_config(overrides=["tracker.max_age=45", "output.trail_length=7"])
    assert saved.model_dump() == expected.model_dump()
    raw = yaml.safe_load((out / "config.yaml").read_text())
    assert raw["tracker"]["max_age"] == 45 and raw["output"]["trail_length"] == 7


def test_set_and_shortcut_options_reach_config_yaml(tmp_path, capsys):
    det = write_det_file(tmp_path / "det.txt")
    out = tmp_path / "run"
    code = main([
        "track", str(SAMPLE_VIDEO), "--out", str(out), "--quiet", "--max-frames", "3", "--no-video",
        *fast_args(det), "--tracker", "bytetrack", "--conf", "0.4",
        "--set", "tracker.match_thresh=0.7", "--set", "source.queue_size=4",
    ])
    assert code == 0, capsys.readouterr().err
    saved = load_config(out / "config.yaml")
    assert saved.tracker.name == "bytetrack" and saved.tracker.match_thresh == 0.7
    assert saved.source.queue_size == 4 and saved.detector.conf_threshold == 0.4
    assert saved.detector.name == "mot" and saved.detector.det_file == str(det)
    assert saved.appearance.name == "none" and saved.output.video is False
    assert not (out / "annotated.mp4").exists()


def test_max_frames_limits_every_output(tmp_path, capsys):
    det = write_det_file(tmp_path / "det.txt")
    out = tmp_path / "run"
    assert main(["track", str(SAMPLE_VIDEO), "--out", str(out), "--quiet", "--max-frames", "7", *fast_args(det)]) == 0
    assert "tracked 7 frames" in capsys.readouterr().err
    frames = np.loadtxt(out / "tracks.txt", delimiter=",", ndmin=2)[:, 0]
    assert frames.max() <= 7 and video_frames(out / "annotated.mp4") == 7


# errors ------------------------------------------------------------------------------------


def test_camera_that_does_not_open_is_one_line(tmp_path):
    if Path("/dev/video0").exists():
        pytest.skip("this machine has a camera 0")
    proc = run_cli("track", "0", "--out", str(tmp_path / "cam"), "--quiet", "--detector", "mot")
    assert proc.returncode == SourceError.exit_code
    assert proc.stderr == (
        "error: cannot open camera 0. Check the index (0 is the first camera), that it is connected "
        "and that no other program uses it\n"
    )


def test_debug_shows_the_traceback(tmp_path):
    proc = run_cli("--debug", "track", str(tmp_path / "missing.mp4"), "--out", str(tmp_path / "o"))
    assert proc.returncode != 0
    assert "Traceback (most recent call last)" in proc.stderr and "SourceError: source not found" in proc.stderr


def test_internal_error_is_one_line_with_exit_code_1(tmp_path, capsys, monkeypatch):
    """A bug (here: an exception from the tracker) prints one line, exit code 1; --debug re-raises it."""
    from tracker.trackers.core import Tracker

    def broken(self, *args, **kwargs):
        raise ZeroDivisionError("simulated bug\nsecond line")

    monkeypatch.setattr(Tracker, "update", broken)
    det = write_det_file(tmp_path / "det.txt")
    argv = ["track", str(SAMPLE_VIDEO), "--out", str(tmp_path / "o"), "--quiet", *fast_args(det)]
    assert main(argv) == EXIT_INTERNAL
    err = capsys.readouterr().err
    assert err == (
        "error: internal error: ZeroDivisionError: simulated bug second line (run with --debug for the traceback)\n"
    )
    with pytest.raises(ZeroDivisionError):
        main(["--debug", *argv])


def test_summary_lists_skipped_and_dropped_and_live_stats(tmp_path):
    summary = RunSummary(
        out_dir=tmp_path, frames=10, tracks=2, seconds=2.0, interrupted=True, outputs=[tmp_path / "tracks.csv"],
        source_stats={"failed_reads": 1, "dropped_frames": 4, "outages": 2, "reconnects": 1},
        invalid_detections=3, is_live=True,
    )
    text = format_summary(summary)
    assert text.splitlines() == [
        f"interrupted after 10 frames, 2 tracks, 5.0 fps -> {tmp_path}",
        "  skipped 1 undecodable frame, dropped 3 invalid detections (NaN, infinite or empty boxes)",
        "  live source: 4 stale frames skipped to keep up, 2 outages, 1 reconnect",
        f"  {tmp_path / 'tracks.csv'}",
    ]


def test_parser_builds_without_importing_models():
    """``tracker --help`` and usage errors must stay instant: the parser never imports torch."""
    parser = build_parser()
    args = parser.parse_args(["track", "video.mp4", "--max-frames", "5"])
    assert args.max_frames == 5 and args.source == "video.mp4"
    proc = subprocess.run(
        [sys.executable, "-c", "import sys, tracker.cli; tracker.cli.build_parser(); print('torch' in sys.modules)"],
        cwd=ROOT, capture_output=True, text=True, timeout=CLI_TIMEOUT_S,
    )
    assert proc.stdout.strip() == "False", proc.stderr
