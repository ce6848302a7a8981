"""The annotated video: H.264 that browsers play, fragments that survive a kill, real time for live sources."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from helpers import MjpegServer

from tracker.config import load_config
from tracker.io import video
from tracker.io.sinks import VideoSink
from tracker.pipeline import run

av = pytest.importorskip("av")

SIZE = (160, 120)
BOX = (20, 30, 40, 60)  # x1, y1, x2, y2 of the still object the live source shows
STREAM_INTERVAL_S = 0.1  # the stream sends 10 frames a second; OpenCV reports its MJPEG demuxer's 25
LIVE_FRAMES = 12


def gray(level: int, size=SIZE) -> np.ndarray:
    return np.full((size[1], size[0], 3), level, np.uint8)


def probe(path: Path) -> tuple[dict, list[float], list[bool]]:
    """(stream facts, each frame's time in seconds, which frames are keyframes) of a video, decoded by PyAV."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        facts = {"codec": stream.codec_context.name, "pix_fmt": stream.codec_context.pix_fmt,
                 "size": (stream.codec_context.width, stream.codec_context.height)}  # fmt: skip
        frames = list(container.decode(stream))
    return facts, [float(f.pts * f.time_base) for f in frames], [f.key_frame for f in frames]


def test_default_video_is_h264_yuv420p_with_the_index_first_and_a_keyframe_a_second(tmp_path):
    path = tmp_path / "annotated.mp4"
    fps = 12.5
    with VideoSink(path, fps, (65, 49), "h264") as sink:  # odd sides: 4:2:0 needs even ones
        for i in range(40):
            sink.write_image(gray(6 * i, (65, 49)), i / fps)
    facts, times, keys = probe(path)
    assert facts == {"codec": "h264", "pix_fmt": "yuv420p", "size": (64, 48)}
    np.testing.assert_allclose(times, np.arange(40) / fps, atol=1e-3)
    key_times = np.array(times)[keys]
    assert key_times[0] == 0 and np.diff(key_times).max() <= 1.0 + 1e-6
    head = path.read_bytes()[:64]
    assert head[4:8] == b"ftyp" and b"moov" in head  # the index first: plays while it downloads


def test_frame_gaps_keep_their_time(tmp_path):
    """A file's undecodable frames are skipped: the frames after them keep their own time."""
    path = tmp_path / "annotated.mp4"
    with VideoSink(path, 10.0, SIZE, "h264") as sink:
        for i in (0, 1, 2, 6, 7):
            sink.write_image(gray(30 * i), i / 10.0)
    np.testing.assert_allclose(probe(path)[1], [0.0, 0.1, 0.2, 0.6, 0.7], atol=1e-3)


def test_without_pyav_h264_falls_back_to_opencv_mp4v(tmp_path, monkeypatch, caplog):
    monkeypatch.setattr(video, "h264_available", lambda: False)
    assert video.resolve_codec("h264") == video.FALLBACK_CODEC
    assert "pip install av" in caplog.text
    assert video.resolve_codec("MJPG") == "MJPG"


def stream_dets(path: Path) -> Path:
    x1, y1, x2, y2 = BOX
    path.write_text("".join(f"{i},-1,{x1},{y1},{x2 - x1},{y2 - y1},0.9\n" for i in range(1, 2000)))
    return path


@pytest.mark.parametrize("codec", ["h264", "MJPG"])
def test_live_video_plays_in_real_time(codec, tmp_path):
    """A stream that sends 10 frames a second while reporting 25: the video lasts as long as the capture."""
    image = gray(0)
    x1, y1, x2, y2 = BOX
    image[y1:y2, x1:x2] = 255
    server = MjpegServer(lambda k: image, frame_interval_s=STREAM_INTERVAL_S)
    cfg = load_config(overrides=[
        "detector.name=mot", f"detector.det_file={stream_dets(tmp_path / 'det.txt')}", "appearance.name=none",
        "output.jsonl=true", f"output.codec={codec}", "source.drop_stale_frames=false",
    ])  # fmt: skip
    try:
        run(server.url, tmp_path / "run", cfg, progress=False, max_frames=LIVE_FRAMES)
    finally:
        server.stop()
    lines = (tmp_path / "run" / "tracks.jsonl").read_text().splitlines()
    captured = np.array([json.loads(line)["time_s"] for line in lines])
    assert len(captured) == LIVE_FRAMES and captured[-1] > 0.8  # really 10 frames a second
    out = video.video_path(tmp_path / "run", codec)
    facts, times, _ = probe(out)
    if codec == "h264":  # each frame at the time it was captured
        np.testing.assert_allclose(times, captured - captured[0], atol=2e-3)
    else:  # a constant 25 fps: frames repeated until the next one was captured
        reported = 25.0
        assert abs(len(times) - (captured[-1] - captured[0]) * reported - 1) <= 2, (len(times), captured)
        cap = cv2.VideoCapture(str(out))
        assert cap.get(cv2.CAP_PROP_FPS) == reported
        cap.release()
