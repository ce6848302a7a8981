"""A run owns its folder: re-runs never mix in an earlier run, runs without --out are numbered."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers import write_sample_det_file

from tracker.analyze.plots import CHART_NAMES
from tracker.commands import main
from tracker.errors import ConfigError, SourceError
from tracker.io.readers import load_tracks
from tracker.io.run_folder import clear_run_files, next_run_folder, run_files

ROOT = Path(__file__).resolve().parents[2]
SAMPLE_VIDEO = ROOT / "samples" / "pets09_s2l1_150.mp4"
DOOR = "counting.lines=[{name: door, points: [[0, 300], [768, 300]]}]"  # the sample's people cross it


@pytest.fixture(scope="module")
def det_file(tmp_path_factory) -> Path:
    return write_sample_det_file(tmp_path_factory.mktemp("det") / "det.txt", 0.9)


def track(det: Path, *extra: str) -> list[str]:
    return ["track", str(SAMPLE_VIDEO), "--detector", "mot", "--set", f"detector.det_file={det}",
            "--appearance", "none", "--quiet", *extra]  # fmt: skip


def every_output(det: Path, out: Path, frames: int) -> list[str]:
    """A run that writes every output there is: jsonl, counts, crossings, smoothing copies, crops, an MJPG video."""
    return track(det, "--out", str(out), "--max-frames", str(frames), "--smooth", "--save-crops",
                 "--set", "output.codec=MJPG",
                 "--set", "output.jsonl=true", "--set", "counting.enabled=true", "--set", DOOR)  # fmt: skip


def test_a_rerun_leaves_nothing_of_the_earlier_run_and_keeps_the_users_files(det_file, tmp_path):
    out = tmp_path / "run"
    assert main(every_output(det_file, out, 60)) == 0
    assert main(["plot", str(out)]) == 0
    (out / "notes.txt").write_text("mine")
    (out / "plots" / "mine.png").write_bytes(b"mine")
    (out / "crops" / "mine.txt").write_text("mine")
    first = {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()}
    assert {"tracks.jsonl", "counts.csv", "crossings.csv", "tracks.raw.csv", "camera_motion.csv", "annotated.avi"} <= first
    assert any(name.startswith("crops/1/") for name in first)

    # a run that writes fewer files: no smoothing copies, no camera motion
    assert main(track(det_file, "--out", str(out), "--max-frames", "10", "--no-smooth",
                      "--set", "tracker.cmc.method=none")) == 0  # fmt: skip
    left = {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()}
    assert left == {"notes.txt", "plots/mine.png", "crops/mine.txt", "run.json", "config.yaml", "tracks.csv", "tracks.txt",
                    "summary.csv", "annotated.mp4"}  # fmt: skip
    assert load_tracks(out).frame.max() == 9
    assert main(["plot", str(out)]) == 0
    assert not (out / "plots" / "counting.png").exists()


def test_plot_reads_only_the_files_that_run_json_lists(det_file, tmp_path):
    out = tmp_path / "run"
    assert main(track(det_file, "--out", str(out), "--max-frames", "10", "--no-video")) == 0
    stale = tmp_path / "other"  # a 60-frame run's tracks.jsonl and counts.csv, copied in after the run
    assert main(every_output(det_file, stale, 60)) == 0
    for name in ("tracks.jsonl", "counts.csv"):
        (out / name).write_bytes((stale / name).read_bytes())
    assert load_tracks(out).frame.max() == 9
    assert main(["plot", str(out)]) == 0
    assert not (out / "plots" / "counting.png").exists()
    info = json.loads((out / "run.json").read_text())
    assert sorted(info["outputs"]) == ["camera_motion.csv", "summary.csv", "tracks.csv", "tracks.txt"]


def test_runs_without_out_are_numbered_and_a_failed_start_leaves_no_folder(det_file, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(track(det_file, "--max-frames", "2", "--no-video")) == 0
    assert main(track(det_file, "--max-frames", "3", "--no-video")) == 0
    runs = tmp_path / "runs"
    assert sorted(p.name for p in runs.iterdir()) == ["track", "track2"]
    assert json.loads((runs / "track2" / "run.json").read_text())["frames_written"] == 3
    argv = track(det_file, "--no-video")
    argv[1] = str(tmp_path / "missing.mp4")
    assert main(argv) == SourceError.exit_code
    assert sorted(p.name for p in runs.iterdir()) == ["track", "track2"]
    assert next_run_folder(runs / "track") == runs / "track3"


def test_empty_out_is_a_one_line_error(det_file, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(track(det_file, "--out", "", "--max-frames", "2")) == ConfigError.exit_code
    err = capsys.readouterr().err
    assert err.startswith("error: --out is empty") and err.count("\n") == 1
    assert list(tmp_path.iterdir()) == []


def test_clearing_knows_every_file_a_run_writes(tmp_path):
    crops = ["crops/3/000012.jpg", "crops/3/000040.jpg", "crops/17/000100.jpg"]  # an earlier --save-crops run's
    for name in crops + ["crops/17/notes.txt"]:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x")
    names, folders = run_files(tmp_path)
    assert {f"plots/{name}" for name in CHART_NAMES} | set(crops) <= set(names)
    assert folders == ["crops/17", "crops/3", "plots", "crops"]
    for name in names + ["notes.txt", "annotated.notes.txt"]:
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_text("x")
    assert len(clear_run_files(tmp_path)) == len(names)
    assert sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file()) == [
        "annotated.notes.txt", "crops/17/notes.txt", "notes.txt"]  # fmt: skip
