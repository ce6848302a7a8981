"""Sinks: CSV / MOT round trips, whole-frame writes, annotated video, window, errors."""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from tracker.config import load_config
from tracker.errors import OutputError
from tracker.io.mot import read_results
from tracker.io.sinks import (
    CSV_HEADER,
    CsvSink,
    MotSink,
    SinkSet,
    StopRequested,
    VideoSink,
    WindowSink,
    open_sinks,
)
from tracker.io.sources import SourceInfo
from tracker.io.video import opencv_writes
from tracker.structures import Detections, FrameResult, Tracks

ROOT = Path(__file__).resolve().parents[2]
CLASS_NAMES = ["person", "traffic, light"]  # a comma in a name must survive the CSV round trip
SIZE = (64, 48)


def result(frame: int, boxes, ids, scores=None, class_ids=None, fps: float = 12.5, image=None) -> FrameResult:
    n = len(ids)
    tracks = Tracks(
        boxes=np.asarray(boxes, np.float32).reshape(n, 4),
        scores=np.linspace(0.5, 0.9, n).astype(np.float32) if scores is None else np.asarray(scores, np.float32),
        class_ids=np.zeros(n, np.int32) if class_ids is None else np.asarray(class_ids, np.int32),
        track_ids=np.asarray(ids, np.int64),
        det_index=np.arange(n),
    )
    return FrameResult(frame_index=frame, time_s=frame / fps, tracks=tracks, detections=Detections.empty(), image=image)


FRAMES = [
    result(0, [[10.123, 20.5, 30.25, 60.0], [1, 2, 3, 4]], [1, 2], scores=[0.91234, 0.5], class_ids=[0, 1]),
    result(1, [], []),  # a frame without tracks writes no rows
    result(2, [[11.0, 21.0, 31.0, 61.0]], [1], scores=[0.87654], class_ids=[0]),
]


def output_cfg(**changes):
    return load_config().output.model_copy(update=changes)


def info(**changes) -> SourceInfo:
    base = dict(uri="clip.mp4", kind="file", name="clip", fps=12.5, width=SIZE[0], height=SIZE[1],
                frame_count=10, is_live=False)
    return SourceInfo(**{**base, **changes})


def gray(level: int) -> np.ndarray:
    return np.full((SIZE[1], SIZE[0], 3), level, np.uint8)


def test_csv_round_trip(tmp_path):
    path = tmp_path / "tracks.csv"
    with CsvSink(path, CLASS_NAMES) as sink:
        for r in FRAMES:
            sink.write(r)
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    assert tuple(rows[0]) == CSV_HEADER
    assert rows[1:] == [
        ["0", "0.000", "1", "0", "person", "0.9123", "10.12", "20.50", "30.25", "60.00"],
        ["0", "0.000", "2", "1", "traffic, light", "0.5000", "1.00", "2.00", "3.00", "4.00"],
        ["2", "0.160", "1", "0", "person", "0.8765", "11.00", "21.00", "31.00", "61.00"],
    ]
    data = np.genfromtxt(path, delimiter=",", skip_header=1, usecols=(0, 1, 2, 3, 5, 6, 7, 8, 9))
    assert data.shape == (3, 9)  # numeric columns parse


def test_mot_round_trip_is_one_based(tmp_path):
    path = tmp_path / "tracks.txt"
    with MotSink(path) as sink:
        for r in FRAMES:
            sink.write(r)
    data = np.loadtxt(path, delimiter=",", ndmin=2)
    np.testing.assert_allclose(
        data,
        [
            [1, 1, 10.12, 20.5, 20.13, 39.5, 0.9123, -1, -1, -1],
            [1, 2, 1, 2, 2, 2, 0.5, -1, -1, -1],
            [3, 1, 11, 21, 20, 40, 0.8765, -1, -1, -1],
        ],
        atol=0.006,
    )


@pytest.mark.parametrize("flush_every", [1, 3])
def test_text_files_only_ever_hold_whole_frames(tmp_path, flush_every):
    csv_path, mot_path = tmp_path / "t.csv", tmp_path / "t.txt"
    rows_per_frame = 300  # a frame larger than an 8 KiB write buffer
    frames = [result(i, np.tile([1.0, 2.0, 3.0, 4.0], (rows_per_frame, 1)), np.arange(rows_per_frame))
              for i in range(7)]
    with CsvSink(csv_path, CLASS_NAMES, flush_every) as csv_sink, MotSink(mot_path, flush_every) as mot_sink:
        for written, r in enumerate(frames, start=1):
            csv_sink.write(r)
            mot_sink.write(r)
            on_disk = written - written % flush_every
            for path, header in [(csv_path, 1), (mot_path, 0)]:
                text = path.read_text()
                assert text == "" or text.endswith("\n")
                assert text.count("\n") == header + on_disk * rows_per_frame
    assert mot_path.read_text().count("\n") == len(frames) * rows_per_frame  # close writes the rest


KILL_SCRIPT = """
import sys, numpy as np
sys.path.insert(0, sys.argv[2])
from tracker.io.sinks import MotSink
from tracker.structures import Detections, FrameResult, Tracks
n = 400
tracks = Tracks(boxes=np.tile(np.float32([1.5, 2.5, 30.25, 40.75]), (n, 1)), scores=np.ones(n, np.float32),
                class_ids=np.zeros(n, np.int32), track_ids=np.arange(n), det_index=np.arange(n))
sink = MotSink(sys.argv[1])
frame = 0
while True:
    sink.write(FrameResult(frame_index=frame, time_s=0.0, tracks=tracks, detections=Detections.empty()))
    frame += 1
    if frame == 5:
        print("ready", flush=True)
"""


def test_killed_writer_leaves_whole_lines_that_read_back(tmp_path):
    """SIGKILL in the middle of the writes: every line but an unfinished last one is whole, every frame but
    the last is complete (Linux may stop a write of several pages at a page boundary), and the reader
    reads all of it."""
    path = tmp_path / "tracks.txt"
    command = [sys.executable, "-c", KILL_SCRIPT, str(path), str(ROOT)]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "ready"
        time.sleep(0.3)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    text = path.read_text()
    lines = text[: text.rfind("\n")].split("\n")  # an unfinished last line is not counted
    assert len(lines) >= 5 * 400
    assert all(line.count(",") == 9 for line in lines)
    frames = np.array([int(line.split(",")[0]) for line in lines])
    assert (np.bincount(frames)[1:-1] == 400).all()  # MOT frames are 1-based; the last may be cut short
    assert len(read_results(path)) == len(lines)


def test_video_sink_writes_a_playable_file(tmp_path):
    path = tmp_path / "raw.mp4"
    with VideoSink(path, 12.5, SIZE, "mp4v") as sink:
        for i in range(10):
            sink.write_image(gray(20 * i))
    cap = cv2.VideoCapture(str(path))
    assert cap.get(cv2.CAP_PROP_FRAME_COUNT) == 10 and cap.get(cv2.CAP_PROP_FPS) == 12.5
    levels = []
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        assert frame.shape == (SIZE[1], SIZE[0], 3)
        levels.append(frame[SIZE[1] // 2:, :].mean())  # below the info overlay
    cap.release()
    np.testing.assert_allclose(levels, 20 * np.arange(10), atol=4)


def test_open_sinks_writes_every_output(tmp_path):
    out = tmp_path / "run"
    cfg = output_cfg(video=True, csv=True, mot=True, show=False, codec="MJPG")
    opencv_writes.cache_clear()
    with open_sinks(out, cfg, info(), CLASS_NAMES) as sinks:
        for i in range(6):
            sinks.write(result(i, [[10, 10, 30, 40]], [5], image=gray(100)))
    # the codec is tried on a scratch file once: before any file is replaced, the video sink reuses the answer
    assert (opencv_writes.cache_info().misses, opencv_writes.cache_info().hits) == (1, 1)
    assert sorted(p.name for p in sinks.paths) == [
        "annotated.avi", "run.json", "summary.csv", "tracks.csv", "tracks.txt"
    ]
    assert all(p.is_file() for p in sinks.paths)
    assert sinks.closed
    cap = cv2.VideoCapture(str(out / "annotated.avi"))
    ok, frame = cap.read()
    assert ok and cap.get(cv2.CAP_PROP_FRAME_COUNT) == 6
    assert (cap.get(cv2.CAP_PROP_FRAME_WIDTH), cap.get(cv2.CAP_PROP_FRAME_HEIGHT)) == SIZE
    cap.release()
    assert np.abs(frame.astype(int) - 100).max() > 60  # annotations were drawn
    assert len(np.loadtxt(out / "tracks.txt", delimiter=",", ndmin=2)) == 6


def test_video_output_needs_images(tmp_path):
    with open_sinks(tmp_path, output_cfg(video=True, show=False), info(), CLASS_NAMES) as sinks:
        with pytest.raises(ValueError, match="keep_images"):
            sinks.write(result(0, [], []))


def test_bad_codec_names_the_codec(tmp_path):
    with pytest.raises(OutputError, match="'ZZZZ'") as err:
        VideoSink(tmp_path / "v.mp4", 12.5, SIZE, "ZZZZ")
    assert "output.codec" in str(err.value) and "\n" not in str(err.value)
    assert not (tmp_path / "v.mp4").exists()
    with pytest.raises(OutputError, match="four-character"):
        VideoSink(tmp_path / "v.mp4", 12.5, SIZE, "h26")


def _sink_factories(parent: Path):
    return [
        lambda: CsvSink(parent / "t.csv", CLASS_NAMES),
        lambda: MotSink(parent / "t.txt"),
        lambda: VideoSink(parent / "v.mp4", 12.5, SIZE, "mp4v"),
        lambda: open_sinks(parent / "out", output_cfg(show=False), info(), CLASS_NAMES),
    ]


def test_output_folder_that_cannot_be_created(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    for make in _sink_factories(blocker):
        with pytest.raises(OutputError, match="cannot") as err:
            make()
        assert err.value.exit_code == 5 and "\n" not in str(err.value)


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root ignores folder permissions")
def test_read_only_folder(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        for make in _sink_factories(folder):
            with pytest.raises(OutputError):
                make()
    finally:
        folder.chmod(0o700)


def test_close_is_idempotent_and_write_after_close_raises(tmp_path):
    sinks = [CsvSink(tmp_path / "t.csv", CLASS_NAMES), MotSink(tmp_path / "t.txt"),
             VideoSink(tmp_path / "v.mp4", 12.5, SIZE, "mp4v"), SinkSet()]
    for sink in sinks:
        sink.close()
        sink.close()
        assert sink.closed
        with pytest.raises(ValueError, match="closed"):
            if isinstance(sink, VideoSink):  # an image sink: SinkSet hands it annotated frames
                sink.write_image(gray(0))
            else:
                sink.write(result(0, [], [], image=gray(0)))


def test_sink_set_closes_every_sink_when_one_fails(tmp_path):
    class Broken:
        path = None

        def write(self, r):
            pass

        def close(self):
            raise OSError("disk gone")

    good = MotSink(tmp_path / "t.txt")
    sinks = SinkSet()
    sinks.add(Broken())
    sinks.add(good)
    with pytest.raises(OSError, match="disk gone"):
        sinks.close()
    assert good.closed


def test_window_without_display(monkeypatch):
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    if sys.platform.startswith("linux"):
        with pytest.raises(OutputError, match="no display"):
            WindowSink("tracker")


@pytest.mark.parametrize("key, visible, stops", [(ord("q"), 1.0, True), (27, 1.0, True), (-1, 0.0, True),
                                                 (-1, 1.0, False)])
def test_window_stops_on_q_esc_or_close(monkeypatch, key, visible, stops):
    shown = []
    monkeypatch.setenv("DISPLAY", ":0")
    monkeypatch.setattr(cv2, "namedWindow", lambda *a: None)
    monkeypatch.setattr(cv2, "imshow", lambda title, image: shown.append(image))
    monkeypatch.setattr(cv2, "waitKey", lambda ms: key)
    monkeypatch.setattr(cv2, "getWindowProperty", lambda *a: visible)
    monkeypatch.setattr(cv2, "destroyWindow", lambda *a: None)
    from tracker.io.drawing import Annotator

    with SinkSet(Annotator(5, 2), CLASS_NAMES) as window:
        window.add_image(WindowSink("tracker"))
        if stops:
            with pytest.raises(StopRequested):
                window.write(result(0, [[10, 10, 30, 40]], [1], image=gray(100)))
        else:
            window.write(result(0, [[10, 10, 30, 40]], [1], image=gray(100)))
    assert len(shown) == 1 and not np.all(shown[0] == 100)  # the annotated frame was shown
    assert issubclass(StopRequested, KeyboardInterrupt)  # the pipeline's Ctrl-C handling covers it


def test_blur_classes_must_be_detector_classes(tmp_path):
    from tracker.errors import ConfigError

    with pytest.raises(ConfigError, match="'persn' is not a class") as err:
        open_sinks(tmp_path, output_cfg(video=True, codec="MJPG", blur_classes=["persn"]), info(), CLASS_NAMES)
    assert "\n" not in str(err.value)
    with open_sinks(tmp_path, output_cfg(video=True, codec="MJPG", blur_classes=["person"]), info(), CLASS_NAMES) as s:
        assert s.annotator.blur_classes == {"person"}
