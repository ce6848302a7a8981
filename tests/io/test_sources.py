"""Frame sources: video files, image folders, cameras and live MJPEG-over-HTTP streams."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from helpers import MjpegServer

from tracker.config import load_config
from tracker.errors import SourceError
from tracker.io.sources import Frame, FrameSource, is_live_spec, open_source, redact_url, source_name

SAMPLE_VIDEO = Path(__file__).resolve().parents[2] / "samples" / "pets09_s2l1_150.mp4"
GRAY_STEP = 10  # frame i is a solid gray of level (i * GRAY_STEP) mod GRAY_WRAP
GRAY_WRAP = 250
SIZE = (64, 48)  # width, height of the test videos
CODEC_TOLERANCE = 4  # gray levels lost to lossy encoding of a flat frame


def source_cfg(**changes):
    cfg = load_config().source
    return cfg.model_copy(update=changes)


def gray_level(i):
    return (np.asarray(i) * GRAY_STEP) % GRAY_WRAP


def gray(i: int, size=SIZE) -> np.ndarray:
    return np.full((size[1], size[0], 3), gray_level(i), np.uint8)


def level(frame: Frame) -> float:
    return float(frame.image.mean())


def write_video(path: Path, n: int, fps: float = 12.5, fourcc: str = "mp4v") -> Path:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), fps, SIZE)
    assert writer.isOpened()
    for i in range(n):
        writer.write(gray(i))
    writer.release()
    return path


def read_all(source: FrameSource) -> list[Frame]:
    with source:
        return list(source)


def run_with_timeout(fn, timeout_s: float):
    """fn() in a thread; fails the test if it does not return within timeout_s. Returns (value, error)."""
    box: dict = {}

    def target():
        try:
            box["value"] = fn()
        except BaseException as exc:  # noqa: BLE001 - handed back to the test
            box["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(timeout_s)
    assert not thread.is_alive(), f"did not finish within {timeout_s} s"
    return box.get("value"), box.get("error")


# video files ---------------------------------------------------------------------------


def test_video_frames_in_order_with_float_fps(tmp_path):
    path = write_video(tmp_path / "clip.mp4", 20, fps=12.5)
    source = open_source(path, source_cfg())
    info = source.info
    frames = read_all(source)
    assert info.kind == "file" and info.name == "clip" and not info.is_live
    assert isinstance(info.fps, float) and info.fps == 12.5
    assert (info.width, info.height, info.frame_count) == (64, 48, 20)
    assert [f.index for f in frames] == list(range(20))
    np.testing.assert_allclose([f.time_s for f in frames], np.arange(20) / 12.5)
    np.testing.assert_allclose([level(f) for f in frames], gray_level(np.arange(20)), atol=CODEC_TOLERANCE)
    assert all(f.image.dtype == np.uint8 and f.image.shape == (48, 64, 3) for f in frames)
    assert source.stats.frames_read == 20 and source.stats.failed_reads == 0


def test_fps_override_sets_time(tmp_path):
    path = write_video(tmp_path / "clip.mp4", 5, fps=12.5)
    source = open_source(str(path), source_cfg(fps=10.0))
    frames = read_all(source)
    assert source.info.fps == 10.0
    np.testing.assert_allclose([f.time_s for f in frames], np.arange(5) / 10.0)


def test_sample_clip():
    source = open_source(SAMPLE_VIDEO, source_cfg())
    frames = read_all(source)
    assert (source.info.width, source.info.height, source.info.fps) == (768, 576, 7.0)
    assert len(frames) == source.info.frame_count == 150


@pytest.mark.parametrize("start", [1, 37, 149])
def test_video_starts_at_a_frame_with_the_whole_video_s_indices_and_pixels(start):
    whole = read_all(open_source(SAMPLE_VIDEO, source_cfg()))
    source = open_source(SAMPLE_VIDEO, source_cfg(), start_frame=start)
    frames = read_all(source)
    assert source.info.frame_count == 150  # the info describes the whole video
    assert [f.index for f in frames] == list(range(start, 150))
    np.testing.assert_allclose([f.time_s for f in frames], np.arange(start, 150) / 7.0)
    for frame in frames[:3] + frames[-2:]:
        assert np.array_equal(frame.image, whole[frame.index].image)


def test_a_start_frame_keeps_the_whole_source_s_stride(tmp_path):
    path = write_video(tmp_path / "clip.mp4", 12)
    assert [f.index for f in read_all(open_source(path, source_cfg(vid_stride=3), start_frame=4))] == [6, 9]
    write_images(tmp_path / "imgs", 12, suffix=".png")
    frames = read_all(open_source(tmp_path / "imgs", source_cfg(vid_stride=3), start_frame=4))
    assert [f.index for f in frames] == [6, 9]


def test_image_folder_starts_at_a_frame(tmp_path):
    write_images(tmp_path / "imgs", 6, suffix=".png")
    frames = read_all(open_source(tmp_path / "imgs", source_cfg(), start_frame=4))
    assert [f.index for f in frames] == [4, 5]
    assert [level(f) for f in frames] == pytest.approx(gray_level(np.arange(4, 6)).tolist(), abs=CODEC_TOLERANCE)


def test_start_past_the_end_or_on_a_live_source_is_an_error(tmp_path):
    path = write_video(tmp_path / "clip.mp4", 5)
    with pytest.raises(SourceError, match="has 5 frames: it cannot start at frame 5"):
        open_source(path, source_cfg(), start_frame=5)
    with pytest.raises(SourceError, match="camera 0 is live: it cannot start at frame 2"):
        open_source(0, source_cfg(), start_frame=2)
    server = gray_stream()
    try:
        with pytest.raises(SourceError, match="is live: it cannot start at frame 3"):
            open_source(server.url, source_cfg(**LIVE), start_frame=3)
    finally:
        server.stop()


def test_source_names_without_opening(tmp_path):
    write_images(tmp_path / "MOT-X" / "img1", 2)
    assert source_name(tmp_path / "MOT-X") == "MOT-X"
    assert source_name("videos/cam 1.mp4") == "cam 1"
    assert source_name("3") == "camera3" and source_name(0) == "camera0"
    assert source_name("rtsp://user:pw@host:554/live/door.sdp") == "door"
    assert is_live_spec("rtsp://h/x") and is_live_spec(" 2 ") and not is_live_spec(str(tmp_path / "MOT-X"))


def test_poll_returns_none_until_a_frame_is_decoded_then_ends_like_next():
    server = gray_stream(frame_interval_s=0.05)
    try:
        source = open_source(server.url, source_cfg(**LIVE))
        with source:
            seen, deadline = [], time.monotonic() + 10
            while len(seen) < 3 and time.monotonic() < deadline:
                frame = source.poll()  # never waits
                if frame is not None:
                    seen.append(frame.index)
            assert len(seen) == 3 and seen == sorted(seen)
    finally:
        server.stop()
    with open_source(SAMPLE_VIDEO, source_cfg()) as source:
        assert read_all(source) and pytest.raises(StopIteration, source.poll)


def _empty_dir(p: Path) -> Path:
    (p / "empty").mkdir()
    return p / "empty"


def _file(name: str, data: bytes):
    def make(p: Path) -> Path:
        (p / name).write_bytes(data)
        return p / name

    return make


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda p: p / "missing.mp4", "not found"),
        (_empty_dir, "no images"),
        (_file("zero.mp4", b""), "empty (0 bytes)"),
        (_file("text.mp4", b"not a video\n" * 50), "cannot open video"),
        (lambda p: write_video(p / "none.avi", 0, fourcc="MJPG"), "no readable frame"),
    ],
    ids=["missing", "empty-dir", "zero-bytes", "text-as-mp4", "no-frames"],
)
def test_open_errors(tmp_path, make, message):
    with pytest.raises(SourceError) as err:
        open_source(make(tmp_path), source_cfg())
    assert message in str(err.value)
    assert "\n" not in str(err.value) and err.value.fix
    assert err.value.exit_code == 3


def test_truncated_videos_end_or_raise_never_hang(tmp_path):
    for fourcc, suffix in [("mp4v", ".mp4"), ("MJPG", ".avi")]:
        full = write_video(tmp_path / f"full{suffix}", 40, fourcc=fourcc)
        cut = tmp_path / f"cut{suffix}"
        cut.write_bytes(full.read_bytes()[: full.stat().st_size // 2])
        frames, error = run_with_timeout(lambda: read_all(open_source(cut, source_cfg())), timeout_s=30)
        if error is not None:
            assert isinstance(error, SourceError), error
        else:
            assert 0 < len(frames) < 40
            assert [f.index for f in frames] == list(range(len(frames)))


class _FlakyCapture:
    """A real capture whose grab() reports failure at chosen 0-based positions (the frame is consumed)."""

    real = cv2.VideoCapture
    fail_at: set[int] = set()

    def __init__(self, *args):
        self._cap = self.real(*args)
        self._position = 0
        self._failed = False

    def grab(self):
        ok = self._cap.grab()
        position, self._position = self._position, self._position + 1
        self._failed = ok and position in self.fail_at
        return ok and not self._failed

    def retrieve(self):
        return (False, None) if self._failed else self._cap.retrieve()

    def __getattr__(self, name):
        return getattr(self._cap, name)


@pytest.fixture
def flaky(monkeypatch):
    monkeypatch.setattr(cv2, "VideoCapture", _FlakyCapture)
    return _FlakyCapture


def test_undecodable_frames_are_skipped_and_counted(tmp_path, flaky):
    path = write_video(tmp_path / "clip.mp4", 20)
    flaky.fail_at = {5, 6}
    source = open_source(path, source_cfg(max_failed_reads=3))
    frames = read_all(source)
    expected = [i for i in range(20) if i not in flaky.fail_at]
    assert [f.index for f in frames] == expected
    np.testing.assert_allclose([level(f) for f in frames], gray_level(expected), atol=CODEC_TOLERANCE)
    assert source.stats.failed_reads == 2 and source.stats.frames_read == 18


def test_too_many_consecutive_failures_raise(tmp_path, flaky):
    path = write_video(tmp_path / "clip.mp4", 20)
    flaky.fail_at = set(range(5, 20))
    source = open_source(path, source_cfg(max_failed_reads=3))
    seen = []
    with pytest.raises(SourceError, match="stopped decoding at frame 5 of 20"):
        with source:
            for frame in source:
                seen.append(frame.index)
    assert seen == [0, 1, 2, 3, 4]


def test_failure_at_the_last_frame_is_the_end(tmp_path, flaky):
    path = write_video(tmp_path / "clip.mp4", 20)
    flaky.fail_at = {19}
    frames = read_all(open_source(path, source_cfg(max_failed_reads=3)))
    assert [f.index for f in frames] == list(range(19))


# image folders -----------------------------------------------------------------------------


def write_images(folder: Path, n: int, names=None, suffix=".jpg", size=SIZE) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    names = names or [f"{i + 1:06d}" for i in range(n)]
    paths = []
    for i, name in enumerate(names):
        path = folder / f"{name}{suffix}"
        cv2.imwrite(str(path), gray(i, size))
        paths.append(path)
    return paths


def test_mot_sequence_folder(tmp_path):
    seq = tmp_path / "SEQ-01"
    write_images(seq / "img1", 6)
    (seq / "seqinfo.ini").write_text("[Sequence]\nname=SEQ-01\nimDir=img1\nframeRate=7\nseqLength=6\n")
    for spec in (seq, seq / "img1"):  # the sequence folder or its img1/
        source = open_source(spec, source_cfg())
        frames = read_all(source)
        info = source.info
        assert (info.kind, info.name, info.fps, info.frame_count) == ("images", "SEQ-01", 7.0, 6)
        assert (info.width, info.height, info.is_live) == (64, 48, False)
        assert [f.index for f in frames] == list(range(6))
        np.testing.assert_allclose([f.time_s for f in frames], np.arange(6) / 7.0)
        np.testing.assert_allclose([level(f) for f in frames], gray_level(np.arange(6)), atol=CODEC_TOLERANCE)


def test_mot_sequence_reads_only_images_of_its_imext(tmp_path):
    seq = tmp_path / "SEQ-02"
    write_images(seq / "img1", 4)
    write_images(seq / "img1", 2, names=["000002_mask", "000003_mask"], suffix=".png")  # not frames: not .jpg
    (seq / "seqinfo.ini").write_text("[Sequence]\nname=SEQ-02\nimDir=img1\nframeRate=7\nimExt=.jpg\n")
    source = open_source(seq, source_cfg())
    assert source.info.frame_count == 4 and len(read_all(source)) == 4


def test_plain_image_folder_natural_order_and_default_fps(tmp_path):
    names = ["frame1", "frame2", "frame10", "frame11"]  # plain sorting would put frame10 second
    write_images(tmp_path / "imgs", 4, names=names, suffix=".png")
    (tmp_path / "imgs" / "notes.txt").write_text("ignored")
    source = open_source(tmp_path / "imgs", source_cfg(default_fps=17.0))
    frames = read_all(source)
    assert source.info.fps == 17.0 and source.info.frame_count == 4
    assert [level(f) for f in frames] == gray_level(np.arange(4)).tolist()  # png is lossless


def test_mixed_image_sizes_name_the_image(tmp_path):
    folder = tmp_path / "imgs"
    write_images(folder, 3)
    cv2.imwrite(str(folder / "000004.jpg"), gray(3, (32, 32)))
    before = threading.active_count()
    source = open_source(folder, source_cfg())
    with pytest.raises(SourceError, match="000004.jpg is 32x32 but the sequence is 64x48"):
        read_all(source)
    assert threading.active_count() == before  # the reader thread ended with the error


def test_broken_image_is_skipped(tmp_path):
    folder = tmp_path / "imgs"
    write_images(folder, 4)
    (folder / "000002.jpg").write_bytes(b"garbage")
    source = open_source(folder, source_cfg())
    frames = read_all(source)
    assert [f.index for f in frames] == [0, 2, 3]
    assert source.stats.failed_reads == 1


def test_seqinfo_without_image_folder(tmp_path):
    (tmp_path / "seq").mkdir()
    (tmp_path / "seq" / "seqinfo.ini").write_text("[Sequence]\nname=seq\nimDir=img1\nframeRate=30\n")
    with pytest.raises(SourceError, match="no image folder img1/"):
        open_source(tmp_path / "seq", source_cfg())


# thread lifetime ----------------------------------------------------------------------------


def test_abandoned_iteration_releases_the_thread(tmp_path):
    path = write_video(tmp_path / "clip.mp4", 60)
    before = threading.active_count()
    source = open_source(path, source_cfg(queue_size=2))
    assert threading.active_count() == before + 1
    for frame in source:
        if frame.index == 3:
            break
    source.close()
    source.close()  # idempotent
    assert threading.active_count() == before
    assert list(source) == []  # a closed source yields nothing


def test_context_manager_releases_on_error(tmp_path):
    path = write_video(tmp_path / "clip.mp4", 60)
    before = threading.active_count()
    with pytest.raises(RuntimeError, match="boom"):
        with open_source(path, source_cfg(queue_size=2)) as source:
            next(source)
            raise RuntimeError("boom")
    assert source.closed
    assert threading.active_count() == before


# cameras and streams --------------------------------------------------------------------------


@pytest.mark.parametrize("spec", [99, "99"])
def test_camera_that_does_not_open(spec):
    with pytest.raises(SourceError, match="cannot open camera 99"):
        open_source(spec, source_cfg())


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_url_that_does_not_answer_fails_fast():
    url = f"http://user:secret@127.0.0.1:{closed_port()}/live.mjpg"
    started = time.monotonic()
    with pytest.raises(SourceError, match="cannot connect to stream") as err:
        open_source(url, source_cfg(stream_timeout_s=2.0))
    assert time.monotonic() - started < 5.0
    assert "secret" not in str(err.value)


def test_redact_url():
    assert redact_url("rtsp://admin:pw@cam.local:554/live") == "rtsp://admin:***@cam.local:554/live"
    assert redact_url("http://host/x.mjpg") == "http://host/x.mjpg"


def gray_stream(port: int = 0, frame_interval_s: float = 0.01) -> MjpegServer:
    """A local MJPEG stream whose frame k (of each connection) is gray(k mod 25)."""
    return MjpegServer(lambda k: gray(k % 25), port, frame_interval_s)


LIVE = dict(stream_timeout_s=2.0, reconnect_backoff_s=0.05, reconnect_timeout_s=5.0)


def test_live_stream_info_and_reconnect():
    server = gray_stream()
    port = server.port
    source = open_source(server.url, source_cfg(drop_stale_frames=False, **LIVE))
    info = source.info
    assert (info.kind, info.is_live, info.frame_count, info.name) == ("stream", True, None, "live")
    assert (info.width, info.height) == SIZE and info.fps > 0
    restarted = None
    try:
        frames = [next(source) for _ in range(5)]
        server.stop()
        time.sleep(0.3)
        restarted = gray_stream(port)
        deadline = time.monotonic() + 10
        while source.stats.reconnects == 0 and time.monotonic() < deadline:
            frames.append(next(source))
        frames += [next(source) for _ in range(5)]  # frames flow again after the reconnect
    finally:
        source.close()
        if restarted is not None:
            restarted.stop()
    assert source.stats.outages == 1 and source.stats.reconnects == 1
    indices = [f.index for f in frames]
    assert indices == list(range(len(frames)))
    times = np.array([f.time_s for f in frames])
    assert times[0] == 0.0 and np.all(np.diff(times) >= 0)


def test_live_stream_that_never_returns_raises():
    server = gray_stream()
    source = open_source(server.url, source_cfg(**{**LIVE, "reconnect_timeout_s": 0.5}))
    next(source)
    server.stop()

    def drain():
        with source:
            for _ in source:
                pass

    started = time.monotonic()
    _, error = run_with_timeout(drain, timeout_s=15)
    assert isinstance(error, SourceError) and "did not come back within 0.5 s" in str(error)
    assert source.stats.outages == 1 and source.stats.reconnects == 0
    assert time.monotonic() - started < 10


def test_live_stream_drops_stale_frames():
    server = gray_stream(frame_interval_s=0.005)
    try:
        with open_source(server.url, source_cfg(drop_stale_frames=True, **LIVE)) as source:
            frames = []
            for frame in source:
                frames.append(frame)
                time.sleep(0.05)  # a consumer much slower than the stream
                if len(frames) == 8:
                    break
    finally:
        server.stop()
    indices = np.array([f.index for f in frames])
    assert np.all(np.diff(indices) >= 1) and indices[-1] > len(frames)  # gaps where frames were dropped
    assert source.stats.dropped_frames > 0
    assert source.stats.frames_read >= indices[-1] + 1


# --vid-stride -------------------------------------------------------------------------------


def test_vid_stride_yields_every_nth_video_frame_with_its_own_time(tmp_path):
    path = write_video(tmp_path / "clip.mp4", 20, fps=12.5)
    source = open_source(path, source_cfg(vid_stride=3))
    frames = read_all(source)
    expected = list(range(0, 20, 3))
    assert [f.index for f in frames] == expected
    np.testing.assert_allclose([f.time_s for f in frames], np.array(expected) / 12.5)
    np.testing.assert_allclose([level(f) for f in frames], gray_level(expected), atol=CODEC_TOLERANCE)
    info = source.info
    assert (info.vid_stride, info.frame_count, info.processed_frames) == (3, 20, 7)
    assert info.processed_fps == pytest.approx(12.5 / 3)
    assert source.stats.frames_read == 7 and source.stats.failed_reads == 0


def test_vid_stride_never_reads_the_skipped_images(tmp_path):
    folder = tmp_path / "imgs"
    paths = write_images(folder, 10)
    for i, path in enumerate(paths):
        if i % 4:
            path.write_bytes(b"not an image")  # reading one would count a failed read
    source = open_source(folder, source_cfg(vid_stride=4))
    frames = read_all(source)
    assert [f.index for f in frames] == [0, 4, 8]
    np.testing.assert_allclose([level(f) for f in frames], gray_level([0, 4, 8]), atol=CODEC_TOLERANCE)
    assert source.stats.failed_reads == 0 and source.stats.frames_read == 3


def test_vid_stride_on_a_live_stream_keeps_every_nth_frame():
    server = gray_stream()
    try:
        with open_source(server.url, source_cfg(drop_stale_frames=False, vid_stride=2, **LIVE)) as source:
            frames = [next(source) for _ in range(5)]
    finally:
        server.stop()
    assert [f.index for f in frames] == [0, 2, 4, 6, 8]
    # consecutive server frames differ by GRAY_STEP: two apart, the kept frames differ by twice that
    steps = np.diff([level(f) for f in frames]) % GRAY_WRAP
    np.testing.assert_allclose(steps, 2 * GRAY_STEP, atol=2 * CODEC_TOLERANCE)
