"""Appearance embedders: crops, the packaged OSNet and ResNet, ResNet weight loading, the GPU crop path."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
import torchvision
from helpers import read_frames
from onnx import TensorProto, helper, numpy_helper

from tracker.config import load_config
from tracker.detect.appearance import Embedder, build_embedder
from tracker.detect.appearance.crops import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    clip_boxes,
    crop_batch,
    normalised_crops,
    resize_crops,
    roi_align_crops,
)
from tracker.detect.appearance.onnx_embedder import OSNET_WEIGHTS, RESNET_WEIGHTS, OnnxEmbedder, make_batch_dynamic
from tracker.detect.appearance.resnet import (
    CHECKPOINT_FORMAT,
    PACKAGED_CHECKPOINT,
    RESNET34_BLOCKS,
    ReIDNet,
    ResNetEmbedder,
    TrackerResNet,
    save_checkpoint,
)
from tracker.errors import ConfigError, ModelError

ROOT = Path(__file__).resolve().parents[2]
SAMPLE_VIDEO = ROOT / "samples" / "pets09_s2l1_150.mp4"
SAMPLE_SEQ = ROOT / "samples" / "pets09_s2l1_150"
SMALL_CROP = [64, 32]  # resnet tests: small crops keep the CPU forward passes fast
cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")


def appearance(**overrides):
    return load_config(overrides={f"appearance.{k}": v for k, v in overrides.items()}).appearance


def resnet(**overrides):
    base = {"name": "resnet", "device": "cpu", "crop_size": SMALL_CROP, "allow_random_weights": False}
    return build_embedder(appearance(**{**base, **overrides}))


@pytest.fixture(scope="module")
def frames() -> dict[int, np.ndarray]:
    """1-based MOT frame number -> BGR frame, for the frames the tests use."""
    numbers = (1, 10, 41, 50, 91, 100, 121, 130)
    return {index + 1: image for index, image in read_frames(SAMPLE_VIDEO, [n - 1 for n in numbers]).items()}


@pytest.fixture(scope="module")
def gt() -> np.ndarray:
    return np.loadtxt(SAMPLE_SEQ / "gt" / "gt.txt", delimiter=",")


def people(gt: np.ndarray, frame: int) -> tuple[np.ndarray, np.ndarray]:
    """Identity ids and xyxy boxes of the ground truth on a 1-based frame."""
    rows = gt[gt[:, 0] == frame]
    boxes = rows[:, 2:6].astype(np.float32)
    boxes[:, 2:] += boxes[:, :2]
    return rows[:, 1].astype(int), boxes


@pytest.fixture(scope="module")
def osnet():
    return build_embedder(appearance(name="osnet", device="cpu"))


# --- crops ------------------------------------------------------------------------------------------------


def test_clip_boxes_keeps_degenerate_boxes_inside_with_min_size():
    boxes = np.array(
        [[10, 10, 10, 10], [-50, -50, -10, -10], [700, 500, 900, 900], [5, 5, 3, 2], [np.nan, 0, 20, np.inf]],
        np.float32,
    )
    out = clip_boxes(boxes, height=100, width=200)
    assert (out[:, :2] >= 0).all() and (out[:, 2] <= 200).all() and (out[:, 3] <= 100).all()
    assert (out[:, 2:] - out[:, :2] >= 1.0).all()
    np.testing.assert_allclose(out[2], [199, 99, 200, 100])
    assert np.isfinite(out).all()


@pytest.mark.parametrize("sampler", [resize_crops, lambda i, b, s: roi_align_crops(i, b, s, "cpu", torch.float32)])
def test_crop_normalises_to_imagenet_rgb(sampler):
    image = np.zeros((60, 80, 3), np.uint8)
    image[:30] = (0, 0, 255)  # top half red in BGR
    image[30:] = (255, 0, 0)  # bottom half blue
    crops = sampler(image, np.array([[0, 0, 80, 60], [10, 35, 20, 55]], np.float32), (24, 16))
    assert crops.shape == (2, 3, 24, 16) and crops.dtype == torch.float32
    mean, std = np.array(IMAGENET_MEAN), np.array(IMAGENET_STD)
    red, blue = (np.array([1.0, 0.0, 0.0]) - mean) / std, (np.array([0.0, 0.0, 1.0]) - mean) / std
    np.testing.assert_allclose(crops[0, :, 2, 8].numpy(), red, atol=1e-5)  # top of the whole-frame crop
    np.testing.assert_allclose(crops[0, :, -3, 8].numpy(), blue, atol=1e-5)
    np.testing.assert_allclose(crops[1].mean(dim=(1, 2)).numpy(), blue, atol=1e-5)  # box inside the blue half


def test_crop_samplers_agree_on_real_frame(frames, gt):
    _, boxes = people(gt, 41)
    boxes = np.round(boxes)  # the cv2 path rounds edges to whole pixels
    a = resize_crops(frames[41], boxes, (256, 128))
    b = roi_align_crops(frames[41], boxes, (256, 128), "cpu", torch.float32)
    assert a.shape == b.shape == (len(boxes), 3, 256, 128)
    assert (a - b).abs().mean() < 0.02  # normalised units: about one grey level
    assert (a - b.roll(1, dims=0)).abs().mean() > 0.3  # and each crop is its own box


def test_crop_batch_empty_and_degenerate():
    image = np.full((40, 30, 3), 128, np.uint8)
    assert crop_batch(image, np.zeros((0, 4), np.float32), (8, 4)).shape == (0, 3, 8, 4)
    degenerate = np.array([[5, 5, 5, 5], [40, 50, 60, 70]], np.float32)
    out = crop_batch(image, degenerate, (8, 4))
    assert out.shape == (2, 3, 8, 4) and torch.isfinite(out).all()


# --- OSNet -------------------------------------------------------------------------------------------------


def test_build_embedder_none_is_none():
    assert build_embedder(appearance(name="none")) is None


def test_osnet_shapes_norms_determinism(osnet, frames, gt):
    assert isinstance(osnet, Embedder) and osnet.dim == 512
    assert osnet.batch_size > 1  # the fixed-batch export was made dynamic
    _, boxes = people(gt, 41)
    a, b = osnet.embed(frames[41], boxes), osnet.embed(frames[41], boxes)
    assert a.shape == (len(boxes), 512) and a.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(a, axis=1), 1.0, atol=1e-5)
    np.testing.assert_array_equal(a, b)
    empty = osnet.embed(frames[41], np.zeros((0, 4), np.float32))
    assert empty.shape == (0, 512) and empty.dtype == np.float32


def test_osnet_batched_equals_one_by_one(frames, gt):
    embedder = build_embedder(appearance(name="osnet", device="cpu", batch_size=4))
    _, boxes = people(gt, 121)
    boxes = np.concatenate([boxes, boxes[:2] + 3.0])  # 9 boxes: chunks of 4, 4, 1
    together = embedder.embed(frames[121], boxes)
    alone = np.concatenate([embedder.embed(frames[121], box[None]) for box in boxes])
    np.testing.assert_allclose(together, alone, atol=1e-4)


def test_dynamic_batch_edit_matches_original_model(shared_data):
    """torchreid's export of OSNet has a batch of 1; the edit batches it without changing a feature."""
    source = shared_data / "weights" / "osnet_x0_25_msmt17.onnx"  # the export, as the model zoo gives it
    model = onnx.load(str(source))
    original = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    assert make_batch_dynamic(model)
    assert model.graph.input[0].type.tensor_type.shape.dim[0].dim_param == "N"
    edited = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    crops = np.random.default_rng(1).standard_normal((3, 3, 256, 128)).astype(np.float32)
    together = edited.run(None, {"images": crops})[0]
    alone = np.concatenate([original.run(None, {"images": crops[i : i + 1]})[0] for i in range(3)])
    assert together.shape == (3, 512)
    np.testing.assert_allclose(together, alone, atol=1e-5)
    assert not make_batch_dynamic(model)  # already dynamic: nothing to do
    # the packaged file is this edit, so it loads batched without the onnx package
    packaged = ort.InferenceSession(str(OSNET_WEIGHTS), providers=["CPUExecutionProvider"])
    np.testing.assert_array_equal(packaged.run(None, {"images": crops})[0], together)
    assert not make_batch_dynamic(onnx.load(str(OSNET_WEIGHTS)))


def test_fixed_batch_export_is_batched_at_load(shared_data, osnet, frames, gt):
    exported = build_embedder(appearance(name="osnet", device="cpu", weights=str(shared_data / "weights" /
                                                                                 "osnet_x0_25_msmt17.onnx")))
    assert exported.batch_size == osnet.batch_size > 1
    _, boxes = people(gt, 41)
    np.testing.assert_allclose(exported.embed(frames[41], boxes), osnet.embed(frames[41], boxes), atol=1e-5)


def _fixed_batch_model(path, nodes, initializers, out_width) -> None:
    """A tiny ReID-shaped ONNX exported with batch 1: images (1,3,4,2) -> output (1,out_width)."""
    graph = helper.make_graph(
        nodes,
        "fixed_batch",
        [helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 3, 4, 2])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, out_width])],
        initializers,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.save(model, str(path))


def _flattens_batch(path) -> None:
    """Folds the batch into the feature vector: the edited graph is rejected by onnxruntime."""
    weight = numpy_helper.from_array(np.arange(24 * 5, dtype=np.float32).reshape(24, 5) / 100, "w")
    nodes = [
        helper.make_node("Reshape", ["images", "everything"], ["v"]),
        helper.make_node("Reshape", ["v", "row_shape"], ["row"]),
        helper.make_node("MatMul", ["row", "w"], ["output"]),
    ]
    targets = (("everything", [-1]), ("row_shape", [1, -1]))
    shapes = [numpy_helper.from_array(np.array(s, np.int64), n) for n, s in targets]
    _fixed_batch_model(path, nodes, [weight, *shapes], 5)


def _centres_on_batch(path) -> None:
    """Subtracts the batch mean: runs batched, but every crop's output depends on the others."""
    nodes = [
        helper.make_node("GlobalAveragePool", ["images"], ["pooled"]),
        helper.make_node("ReduceMean", ["pooled"], ["batch_mean"], axes=[0], keepdims=1),
        helper.make_node("Sub", ["pooled", "batch_mean"], ["centred"]),
        helper.make_node("Add", ["centred", "offset"], ["shifted"]),
        helper.make_node("Reshape", ["shifted", "row_shape"], ["output"]),
    ]
    offset = numpy_helper.from_array(np.array([1.0, 2.0, 3.0], np.float32).reshape(1, 3, 1, 1), "offset")
    _fixed_batch_model(path, nodes, [offset, numpy_helper.from_array(np.array([1, -1], np.int64), "row_shape")], 3)


@pytest.mark.parametrize("make_model, dim", [(_flattens_batch, 5), (_centres_on_batch, 3)])
def test_osnet_falls_back_to_one_by_one_when_batching_breaks(tmp_path, make_model, dim):
    path = tmp_path / "model.onnx"
    make_model(path)
    embedder = build_embedder(appearance(name="osnet", device="cpu", weights=str(path), crop_size=[4, 2]))
    assert embedder.batch_size == 1 and embedder.dim == dim
    image = np.random.default_rng(0).integers(0, 255, (30, 20, 3), dtype=np.uint8)
    boxes = np.array([[0, 0, 10, 20], [5, 5, 15, 25], [2, 2, 4, 4]], np.float32)
    out = embedder.embed(image, boxes)
    assert out.shape == (3, dim)
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(out, np.concatenate([embedder.embed(image, box[None]) for box in boxes]), atol=1e-6)


def test_osnet_errors(tmp_path):
    with pytest.raises(ModelError, match="not found"):
        build_embedder(appearance(name="osnet", weights=str(tmp_path / "missing.onnx")))
    garbage = tmp_path / "garbage.onnx"
    garbage.write_bytes(b"not an onnx model")
    with pytest.raises(ModelError, match="ONNX"):
        build_embedder(appearance(name="osnet", weights=str(garbage)))
    with pytest.raises(ConfigError, match=r"crop_size=\[256, 128\]"):
        build_embedder(appearance(name="osnet", crop_size=[128, 64]))


def _same_person_wins(embedder, frames, gt) -> float:
    """PETS09: each person on frame f vs everyone on frame f+9, for several f: share of comparisons won."""
    wins = comparisons = 0
    for first in (1, 41, 91, 121):
        ids_a, boxes_a = people(gt, first)
        ids_b, boxes_b = people(gt, first + 9)
        dist = 1.0 - embedder.embed(frames[first], boxes_a) @ embedder.embed(frames[first + 9], boxes_b).T
        same = ids_a[:, None] == ids_b[None, :]
        for i in np.flatnonzero(same.any(axis=1)):
            wins += int((dist[i][same[i]][0] < dist[i][~same[i]]).sum())
            comparisons += int((~same[i]).sum())
    assert comparisons >= 40
    return wins / comparisons


def test_osnet_same_person_closer_than_different_people(osnet, frames, gt):
    assert _same_person_wins(osnet, frames, gt) >= 0.85


def _mean_direction(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    mean = (a + b) / 2
    return mean / np.linalg.norm(mean, axis=1, keepdims=True)


def test_onnx_flip_averages_the_crop_and_its_mirror(osnet, frames, gt):
    """appearance.flip: the unit vector of the mean of a crop's and its mirror image's embeddings; mirroring the
    frame (and the boxes) then leaves every embedding as it was."""
    flipped = build_embedder(appearance(name="osnet", device="cpu", flip=True))
    _, boxes = people(gt, 41)
    boxes = np.round(boxes)  # whole pixels: the mirrored boxes cut the mirrored crops exactly
    crops = normalised_crops(frames[41], boxes, osnet.crop_size)
    plain, mirrored = osnet.embed_crops(crops), osnet.embed_crops(np.ascontiguousarray(crops[..., ::-1]))
    out = flipped.embed(frames[41], boxes)
    np.testing.assert_allclose(out, _mean_direction(plain, mirrored), atol=1e-5)
    assert (out * plain).sum(axis=1).max() < 0.9999  # the mirror image does change the embedding
    width = frames[41].shape[1]
    mirror_boxes = np.stack([width - boxes[:, 2], boxes[:, 1], width - boxes[:, 0], boxes[:, 3]], axis=1)
    np.testing.assert_allclose(flipped.embed(np.ascontiguousarray(frames[41][:, ::-1]), mirror_boxes), out, atol=1e-4)


def test_torch_flip_averages_the_crop_and_its_mirror(frames, gt):
    plain = resnet(arch="resnet18_x0_25", allow_random_weights=True)
    flipped = resnet(arch="resnet18_x0_25", allow_random_weights=True, flip=True)
    flipped.model.load_state_dict(plain.model.state_dict())
    _, boxes = people(gt, 50)
    crops = crop_batch(frames[50], boxes, tuple(SMALL_CROP))
    with torch.inference_mode():
        a, b = plain.model(crops).numpy(), plain.model(crops.flip(3)).numpy()
    np.testing.assert_allclose(flipped.embed(frames[50], boxes), _mean_direction(a, b), atol=1e-5)
    np.testing.assert_allclose(plain.embed(frames[50], boxes), a, atol=1e-6)


# --- ResNet ------------------------------------------------------------------------------------------------


def test_resnet_without_weights_is_the_packaged_onnx_model(frames, gt):
    embedder = build_embedder(appearance(name="resnet", device="cpu"))
    assert isinstance(embedder, OnnxEmbedder) and embedder.batch_size > 1
    model = onnx.load(str(RESNET_WEIGHTS))
    props = {p.key: p.value for p in model.metadata_props}
    assert props["arch"] == "resnet18_x0_25" and embedder.crop_size == (128, 64) and embedder.dim == 128
    _, boxes = people(gt, 41)
    out = embedder.embed(frames[41], boxes)
    assert out.shape == (len(boxes), 128) and out.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, atol=1e-5)
    with pytest.raises(ConfigError, match=r"crop_size=\[128, 64\]"):
        build_embedder(appearance(name="resnet", device="cpu", crop_size=[256, 128]))
    random = resnet(arch="resnet18", allow_random_weights=True, embedding_dim=64)  # tests: an untrained torch model
    assert isinstance(random, ResNetEmbedder) and random.dim == 64


def test_packaged_resnet_checkpoint_is_the_onnx_model(frames, gt):
    """The torch twin (the CUDA path) of the packaged ONNX model gives the same embeddings."""
    saved = torch.load(PACKAGED_CHECKPOINT, weights_only=True)
    assert saved["arch"] == "resnet18_x0_25" and {v.dtype for v in saved["state_dict"].values()} >= {torch.float16}
    torch_path = ResNetEmbedder(appearance(name="resnet", device="cpu"))  # what a CUDA device builds, on the CPU
    assert torch_path.model.arch == "resnet18_x0_25" and torch_path.crop_size == (128, 64)
    onnx_path = build_embedder(appearance(name="resnet", device="cpu"))
    _, boxes = people(gt, 91)
    a, b = torch_path.embed(frames[91], boxes), onnx_path.embed(frames[91], boxes)
    assert (a * b).sum(axis=1).min() > 0.999


def test_packaged_resnet_tells_people_apart(frames, gt):
    embedder = build_embedder(appearance(name="resnet", device="cpu"))
    assert _same_person_wins(embedder, frames, gt) >= 0.85


def test_resnet_shapes_norms_batching(frames, gt):
    embedder = resnet(arch="resnet18", allow_random_weights=True, batch_size=2)
    assert embedder.dim == 512
    _, boxes = people(gt, 50)
    out = embedder.embed(frames[50], boxes)
    assert out.shape == (len(boxes), 512) and out.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, atol=1e-5)
    np.testing.assert_array_equal(out, embedder.embed(frames[50], boxes))
    alone = np.concatenate([embedder.embed(frames[50], box[None]) for box in boxes])
    np.testing.assert_allclose(out, alone, atol=1e-4)
    assert embedder.embed(frames[50], np.zeros((0, 4))).shape == (0, 512)


def test_our_checkpoint_round_trip(tmp_path, frames, gt):
    torch.manual_seed(0)
    model = ReIDNet("resnet18", embedding_dim=32)
    path = tmp_path / "reid.pth"
    save_checkpoint(model, path, crop_size=SMALL_CROP, note="test")
    saved = torch.load(path, weights_only=True)
    assert saved["format"] == CHECKPOINT_FORMAT and saved["arch"] == "resnet18" and saved["embedding_dim"] == 32
    assert saved["meta"] == {"crop_size": SMALL_CROP, "note": "test"}
    first = resnet(arch="resnet18", embedding_dim=32, weights=str(path))
    second = resnet(arch="resnet18", embedding_dim=32, weights=str(path))
    _, boxes = people(gt, 10)
    a = first.embed(frames[10], boxes)
    np.testing.assert_array_equal(a, second.embed(frames[10], boxes))
    crops = crop_batch(frames[10], boxes, tuple(SMALL_CROP))
    with torch.inference_mode():
        np.testing.assert_allclose(a, model.eval()(crops).numpy(), atol=1e-5)
    bare = tmp_path / "bare.pth"
    torch.save({f"module.{k}": v for k, v in model.state_dict().items()}, bare)  # DataParallel-wrapped ReIDNet
    np.testing.assert_array_equal(a, resnet(arch="resnet18", embedding_dim=32, weights=str(bare)).embed(frames[10], boxes))
    with pytest.raises(ModelError, match="appearance.arch=resnet18"):
        resnet(arch="resnet34", embedding_dim=32, weights=str(path))
    with pytest.raises(ModelError, match="appearance.embedding_dim=32"):
        resnet(arch="resnet18", embedding_dim=0, weights=str(path))


def _torchvision_features(model: torch.nn.Module, crops: torch.Tensor) -> np.ndarray:
    model.fc = torch.nn.Identity()
    with torch.inference_mode():
        return torch.nn.functional.normalize(model.eval()(crops), dim=1).numpy()


def test_torchvision_state_dict_loads(tmp_path, frames, gt):
    torch.manual_seed(1)
    reference = torchvision.models.resnet18(weights=None)
    path = tmp_path / "resnet18.pth"
    torch.save(reference.state_dict(), path)  # includes the ImageNet fc head, dropped on load
    embedder = resnet(arch="resnet18", weights=str(path))
    _, boxes = people(gt, 1)
    expected = _torchvision_features(reference, crop_batch(frames[1], boxes, tuple(SMALL_CROP)))
    np.testing.assert_allclose(embedder.embed(frames[1], boxes), expected, atol=1e-5)
    with pytest.raises(ModelError, match="embedding_dim=0"):
        resnet(arch="resnet18", weights=str(path), embedding_dim=128)


def test_torchreid_checkpoint_loads(tmp_path, frames, gt):
    torch.manual_seed(2)
    reference = torchvision.models.resnet18(weights=None)
    state = {f"module.{k}": v for k, v in reference.state_dict().items() if not k.startswith("fc.")}
    state["module.classifier.weight"] = torch.randn(751, 512)  # identity classifier of a Market-1501 model
    state["module.classifier.bias"] = torch.zeros(751)
    path = tmp_path / "torchreid.pth.tar"
    torch.save({"state_dict": state, "epoch": 60, "rank1": 0.91}, path)
    embedder = resnet(arch="resnet18", weights=str(path))
    _, boxes = people(gt, 1)
    expected = _torchvision_features(reference, crop_batch(frames[1], boxes, tuple(SMALL_CROP)))
    np.testing.assert_allclose(embedder.embed(frames[1], boxes), expected, atol=1e-5)


def test_wrong_keys_raise_model_error_naming_them(tmp_path):
    state = torchvision.models.resnet18(weights=None).state_dict()
    del state["layer4.1.conv2.weight"]
    state["extra.weight"] = torch.zeros(3)
    path = tmp_path / "broken.pth"
    torch.save(state, path)
    named = r"missing: backbone\.layer4\.1\.conv2\.weight.*unexpected: backbone\.extra\.weight"
    with pytest.raises(ModelError, match=named):
        resnet(arch="resnet18", weights=str(path))
    # a ResNet-18 checkpoint for a ResNet-50 embedder: many keys, summarised
    with pytest.raises(ModelError, match=r"\(\d+ in all\).*appearance.arch \(resnet50\)"):
        resnet(arch="resnet50", weights=str(path))


def test_bad_weight_files(tmp_path):
    with pytest.raises(ModelError, match="not found"):
        resnet(arch="resnet18", weights=str(tmp_path / "nope.pth"))
    garbage = tmp_path / "garbage.pth"
    garbage.write_bytes(b"\x00\x01 not a checkpoint")
    with pytest.raises(ModelError, match="garbage.pth"):
        resnet(arch="resnet18", weights=str(garbage))
    listing = tmp_path / "list.pth"
    torch.save([torch.zeros(1)], listing)
    with pytest.raises(ModelError, match="not a state dict"):
        resnet(arch="resnet18", weights=str(listing))


def test_tracker_resnet34_matches_torchvision_resnet34(tmp_path):
    """The written-out ResNet-34 is the same network: torchvision weights give torchvision's features."""
    torch.manual_seed(3)
    reference = torchvision.models.resnet34(weights=None)
    ours = TrackerResNet(RESNET34_BLOCKS)
    state = {k: v for k, v in reference.state_dict().items() if not k.startswith("fc.")}
    ours.load_state_dict(state)
    crops = torch.randn(2, 3, *SMALL_CROP)
    with torch.inference_mode():
        np.testing.assert_allclose(ours.eval()(crops).numpy(), _features_raw(reference, crops), atol=1e-5)
    path = tmp_path / "resnet34.pth"
    torch.save(reference.state_dict(), path)
    assert resnet(arch="tracker_resnet34", weights=str(path)).dim == 512


def _features_raw(model: torch.nn.Module, crops: torch.Tensor) -> np.ndarray:
    model.fc = torch.nn.Identity()
    with torch.inference_mode():
        return model.eval()(crops).numpy()


# --- GPU ---------------------------------------------------------------------------------------------------


def test_roi_align_crops_embed_like_opencv_crops(frames, gt):
    """The GPU path's maths on the CPU: the packaged ResNet on roi_align crops of the same boxes embeds as on cv2 crops."""
    embedder = ResNetEmbedder(appearance(name="resnet", device="cpu"))
    _, boxes = people(gt, 121)
    boxes = np.round(boxes)  # the cv2 path rounds edges to whole pixels
    with torch.inference_mode():
        a = embedder.model(resize_crops(frames[121], boxes, embedder.crop_size)).numpy()
        b = embedder.model(roi_align_crops(frames[121], boxes, embedder.crop_size, "cpu", torch.float32)).numpy()
    similarity = a @ b.T
    assert np.diag(similarity).min() > 0.98  # same box: same embedding up to resampling
    assert (np.diag(similarity)[:, None] > similarity - 2 * np.eye(len(boxes))).all()  # closer than any other box


@pytest.mark.gpu
@cuda
def test_roi_align_on_gpu_matches_cpu(frames, gt):
    _, boxes = people(gt, 41)
    cpu = roi_align_crops(frames[41], boxes, (256, 128), "cpu", torch.float32)
    gpu = crop_batch(frames[41], boxes, (256, 128), "cuda", torch.float16)
    assert gpu.device.type == "cuda" and gpu.dtype == torch.float16
    assert (gpu.float().cpu() - cpu).abs().max() < 0.05


@pytest.mark.gpu
@cuda
def test_resnet_and_osnet_on_gpu_match_cpu(frames, gt):
    torch.manual_seed(4)
    _, boxes = people(gt, 41)
    cpu = resnet(arch="resnet18", allow_random_weights=True, device="cpu")
    gpu = resnet(arch="resnet18", allow_random_weights=True, device="cuda", half=True)
    gpu.model.load_state_dict(cpu.model.state_dict())
    a, b = cpu.embed(frames[41], boxes), gpu.embed(frames[41], boxes)
    assert b.dtype == np.float32 and (a * b).sum(axis=1).min() > 0.99
    packaged_gpu = build_embedder(appearance(name="resnet", device="cuda"))  # torch, fp16, crops cut on the GPU
    assert isinstance(packaged_gpu, ResNetEmbedder) and packaged_gpu.dtype == torch.float16
    packaged_cpu = build_embedder(appearance(name="resnet", device="cpu"))  # onnxruntime
    e, f = packaged_cpu.embed(frames[41], boxes), packaged_gpu.embed(frames[41], boxes)
    assert (e * f).sum(axis=1).min() > 0.99
    osnet_gpu = build_embedder(appearance(name="osnet", device="cuda"))
    osnet_cpu = build_embedder(appearance(name="osnet", device="cpu"))
    c, d = osnet_cpu.embed(frames[41], boxes), osnet_gpu.embed(frames[41], boxes)
    assert (c * d).sum(axis=1).min() > 0.99
