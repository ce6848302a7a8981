"""Plots: `tracker plot` draws non-blank PNGs of a run, over the source's first frame or a blank canvas."""

from __future__ import annotations

import argparse

import cv2
import numpy as np
import pytest

from tracker.analyze import plots
from tracker.commands import main
from tracker.commands import plot as plot_command
from tracker.config import load_config
from tracker.errors import DataError
from tracker.io.sinks import open_sinks
from tracker.io.sources import SourceInfo
from tracker.structures import Detections, FrameResult, TrackRecords, Tracks

W, H, N_FRAMES, FPS = 160, 120, 12, 10.0
CLASSES = ["person", "car"]


def write_video(path) -> None:
    """A short MJPG clip whose frames are a colour gradient (the trajectories' background)."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), FPS, (W, H))
    gradient = np.zeros((H, W, 3), np.uint8)
    gradient[..., 0] = np.linspace(0, 255, W, dtype=np.uint8)[None]
    gradient[..., 2] = np.linspace(255, 0, H, dtype=np.uint8)[:, None]
    for _ in range(N_FRAMES):
        writer.write(gradient)
    writer.release()


def make_run(run_dir, video, counting: bool = True) -> None:
    """A run folder as `tracker track` leaves it: 3 tracks (2 person, 1 car), one with a gap, counting on."""
    overrides = {}
    if counting:
        overrides = {"counting.enabled": True,
                     "counting.lines": [{"name": "mid", "points": [[0, 60], [160, 60]]}],
                     "counting.zones": [{"name": "left", "polygon": [[0, 0], [60, 0], [60, 120], [0, 120]]}]}
    cfg = load_config(overrides=overrides)
    out = cfg.output.model_copy(update=dict(video=False, show=False))
    info = SourceInfo(uri=str(video), kind="file", name="clip", fps=FPS, width=W, height=H, frame_count=N_FRAMES,
                      is_live=False)
    with open_sinks(run_dir, out, info, CLASSES, counting=cfg.counting) as sinks:
        for f in range(N_FRAMES):
            boxes, ids, classes = [[10 + 8 * f, 20 + 6 * f, 20 + 8 * f, 40 + 6 * f]], [1], [0]
            if f not in (4, 5):  # track 2 is lost for two frames
                boxes.append([140 - 6 * f, 90, 150 - 6 * f, 110])
                ids.append(2)
                classes.append(0)
            if f >= 6:
                boxes.append([50, 70 - 5 * (f - 6), 80, 90 - 5 * (f - 6)])
                ids.append(3)
                classes.append(1)
            n = len(ids)
            tracks = Tracks(boxes=np.array(boxes, np.float32), scores=np.full(n, 0.8, np.float32),
                            class_ids=np.array(classes, np.int32), track_ids=np.array(ids, np.int64),
                            det_index=np.arange(n))
            sinks.write(FrameResult(frame_index=f, time_s=f / FPS, tracks=tracks, detections=Detections.empty()))


def assert_chart(path, min_bytes: int = 5000) -> np.ndarray:
    assert path.is_file() and path.stat().st_size > min_bytes
    image = cv2.imread(str(path))
    assert image is not None and image.std() > 0
    return image


@pytest.fixture
def run_dir(tmp_path):
    video = tmp_path / "clip.avi"
    write_video(video)
    run = tmp_path / "run"
    make_run(run, video)
    return run


def test_plot_writes_every_chart(run_dir):
    paths = plots.make_plots(run_dir)
    assert [p.name for p in paths] == ["trajectories.png", "timeline.png", "active_tracks.png", "counting.png"]
    assert all(p.parent == run_dir / "plots" for p in paths)
    for path in paths:
        assert_chart(path)


def test_trajectories_use_the_source_frame_or_a_blank_canvas(run_dir, tmp_path):
    with_source = assert_chart(plots.make_plots(run_dir, tmp_path / "a")[0])
    (tmp_path / "clip.avi").unlink()  # the source is gone: a blank canvas of the frame size
    blank = assert_chart(plots.make_plots(run_dir, tmp_path / "b")[0])
    assert with_source.shape == blank.shape
    # the gradient background makes the plot area far more colourful than the blank canvas
    saturation = lambda im: cv2.cvtColor(im, cv2.COLOR_BGR2HSV)[..., 1].mean()  # noqa: E731
    assert saturation(with_source) > saturation(blank) + 20
    again = plots.make_plots(run_dir, tmp_path / "c", source=None)[0]
    np.testing.assert_array_equal(cv2.imread(str(again)), blank)  # deterministic


def test_explicit_source_overrides_run_json(run_dir, tmp_path):
    other = tmp_path / "other.avi"
    write_video(other)
    (tmp_path / "clip.avi").unlink()
    frame = plots.first_frame({"source_path": str(tmp_path / "clip.avi")})
    assert frame is None
    frame = plots.first_frame({}, source=other)
    assert frame is not None and frame.shape == (H, W, 3)


def test_timeline_runs_show_gaps_and_active_tracks_count_per_class(run_dir):
    from tracker.io.readers import load_tracks

    records = load_tracks(run_dir)
    ids, first, last = plots.track_runs(records)
    np.testing.assert_array_equal(ids, [1, 2, 2, 3])
    np.testing.assert_array_equal(first, [0, 0, 6, 6])
    np.testing.assert_array_equal(last, [11, 3, 11, 11])
    total, classes, per_class = plots.active_tracks(records, n_frames=15)
    assert len(total) == 15 and total[12:].sum() == 0  # frames past the last report count zero
    np.testing.assert_array_equal(total[:N_FRAMES], [2, 2, 2, 2, 1, 1, 3, 3, 3, 3, 3, 3])
    assert classes.tolist() == ["car", "person"]
    np.testing.assert_array_equal(per_class[0, :N_FRAMES], [0] * 6 + [1] * 6)


def test_cli_command(run_dir, tmp_path, capsys):
    parser = argparse.ArgumentParser(prog="tracker")
    sub = parser.add_subparsers(dest="command")
    plot_command.add_parser(sub)
    args = parser.parse_args(["plot", str(run_dir), "--out", str(tmp_path / "charts")])
    assert plot_command.run(args) == 0
    assert "trajectories.png" in capsys.readouterr().err
    assert len(list((tmp_path / "charts").glob("*.png"))) == 4


def test_runs_without_run_json_or_counting(tmp_path):
    run = tmp_path / "run"
    make_run(run, tmp_path / "missing.avi", counting=False)
    (run / "run.json").unlink()
    (run / "tracks.csv").unlink()  # only the MOTChallenge file is left: no classes, no times
    paths = plots.make_plots(run)
    assert [p.name for p in paths] == ["trajectories.png", "timeline.png", "active_tracks.png"]
    for path in paths:
        assert_chart(path)


def test_empty_run_still_plots(tmp_path):
    empty = TrackRecords(frame=[], time_s=[], track_id=[], class_id=[], class_name=np.zeros(0, str), score=[],
                         boxes=np.zeros((0, 4)))
    for path in (plots.plot_timeline(empty, tmp_path / "t.png"), plots.plot_active_tracks(empty, tmp_path / "a.png"),
                 plots.plot_trajectories(empty, tmp_path / "j.png", (W, H), None)):
        assert_chart(path, min_bytes=1000)


def test_missing_run_folder(tmp_path):
    with pytest.raises(DataError, match="run folder not found"):
        plots.make_plots(tmp_path / "nope")


def test_plot_command(tmp_path, capsys):
    video = tmp_path / "clip.avi"
    write_video(video)
    make_run(tmp_path / "run", video)
    assert main(["plot", str(tmp_path / "run"), "--out", str(tmp_path / "charts")]) == 0
    err = capsys.readouterr().err
    names = ["trajectories.png", "timeline.png", "active_tracks.png", "counting.png"]
    assert err.splitlines()[0] == "plotted 4 charts:" and all(name in err for name in names)
    for name in names:
        image = cv2.imread(str(tmp_path / "charts" / name))
        assert image is not None and image.std() > 0, name

    assert main(["plot", str(tmp_path / "missing")]) == DataError.exit_code
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: run folder not found")
