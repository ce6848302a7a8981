"""train-reid: crops (gt, detections, teacher vectors, cache), batches, losses, metrics, training, checkpoint, export."""

from __future__ import annotations

import argparse
import shutil
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import onnx
import pytest
import torch
import torchvision
from helpers import ROOT, read_frames

from tracker.commands import main
from tracker.commands.train_reid import add_parser, run
from tracker.config import load_config
from tracker.detect.appearance import build_embedder
from tracker.detect.appearance.crops import crop_batch
from tracker.detect.appearance.onnx_embedder import OSNET_WEIGHTS
from tracker.detect.appearance.resnet import ReIDNet, ResNetEmbedder, save_checkpoint
from tracker.detect.appearance.training import (
    Batches,
    PKBatchSampler,
    TrainOptions,
    augment,
    batch_hard_triplet,
    build_model,
    distillation_losses,
    mix,
    retrieval_metrics,
    split_identities,
    teach,
    train,
)
from tracker.detect.appearance.training_data import (
    UNLABELLED,
    CropSet,
    cache_key,
    collect_crops,
    find_footage,
    spread_sample,
    usable_rows,
)
from tracker.errors import ConfigError, DataError, ModelError, OutputError, SourceError

CROP = (64, 32)  # small crops keep CPU training fast
SAMPLE_VIDEO = ROOT / "samples" / "pets09_s2l1_150.mp4"
FRAME_HW = (240, 320)
PERSON_HW = (72, 28)
PALETTE = [(0, 0, 220), (0, 200, 0), (210, 0, 0), (0, 210, 210), (200, 0, 200), (220, 220, 0), (40, 40, 40)]


def people_tracks(n_people: int, n_frames: int) -> np.ndarray:
    """MOT15 gt rows (frame, id, left, top, w, h, 1, -1, -1, -1): each person in its own lane, walking right."""
    rows = []
    for person in range(n_people):
        first = person % 3  # lifetimes start at different frames
        for frame in range(1 + first, n_frames + 1):
            left = 10 + 9 * (frame - 1) + 37 * (person % 2)
            top = 5 + (person * 38) % (FRAME_HW[0] - PERSON_HW[0] - 5)
            rows.append([frame, person + 1, left, top, PERSON_HW[1], PERSON_HW[0], 1, -1, -1, -1])
    return np.array(rows, np.float64)


def draw_frames(gt: np.ndarray, n_frames: int) -> list[np.ndarray]:
    """BGR frames: fixed noisy background, each person a two-colour body with a stripe pattern of its own."""
    rng = np.random.default_rng(0)
    background = rng.normal(128, 20, (*FRAME_HW, 3)).clip(0, 255).astype(np.uint8)
    frames = []
    for number in range(1, n_frames + 1):
        image = background.copy()
        for _, pid, left, top, w, h, *_ in gt[gt[:, 0] == number]:
            pid, left, top, w, h = int(pid), int(left), int(top), int(w), int(h)
            image[top : top + h // 2, left : left + w] = PALETTE[pid % len(PALETTE)]
            image[top + h // 2 : top + h, left : left + w] = PALETTE[(3 * pid + 1) % len(PALETTE)]
            image[top + pid * 4 : top + pid * 4 + 3, left : left + w] = 255  # a white stripe at a height of its own
        frames.append(image)
    return frames


def write_sequence(root: Path, n_people: int = 6, n_frames: int = 14, video: bool = False) -> Path:
    """A MOTChallenge sequence folder: gt/gt.txt, seqinfo.ini and img1/*.jpg (or one lossless-ish video)."""
    gt = people_tracks(n_people, n_frames)
    frames = draw_frames(gt, n_frames)
    (root / "gt").mkdir(parents=True)
    np.savetxt(root / "gt" / "gt.txt", gt, delimiter=",", fmt="%d")
    (root / "seqinfo.ini").write_text(
        f"[Sequence]\nname={root.name}\nimDir=img1\nframeRate=10\nseqLength={n_frames}\n"
        f"imWidth={FRAME_HW[1]}\nimHeight={FRAME_HW[0]}\nimExt=.jpg\n"
    )
    if video:
        writer = cv2.VideoWriter(str(root / f"{root.name}.avi"), cv2.VideoWriter_fourcc(*"MJPG"), 10, FRAME_HW[::-1])
        for image in frames:
            writer.write(image)
        writer.release()
    else:
        (root / "img1").mkdir()
        for number, image in enumerate(frames, start=1):
            cv2.imwrite(str(root / "img1" / f"{number:06d}.jpg"), image, [cv2.IMWRITE_JPEG_QUALITY, 95])
    return root


def options(**overrides) -> TrainOptions:
    """Identities only (no teacher, no detector) unless overridden: the cheapest training there is."""
    base = dict(init="random", arch="resnet18", crop_size=CROP, epochs=2, batch_p=3, batch_k=4, lr=1e-3,
                embedding_dim=16, val_fraction=0.3, max_crops_per_id=10, min_height=16, device="cpu", teacher="none",
                det_every=0, progress=False)  # fmt: skip
    return TrainOptions(**{**base, **overrides})


def load_crops(footage, opts: TrainOptions) -> CropSet:
    return collect_crops([footage], opts, "cpu")


@pytest.fixture(scope="module")
def sequence(tmp_path_factory):
    return find_footage(write_sequence(tmp_path_factory.mktemp("data") / "synthetic"))


@pytest.fixture(scope="module")
def trained(sequence, tmp_path_factory):
    out = tmp_path_factory.mktemp("reid")
    return train([sequence], options(), out), out


# --- crops from ground truth -------------------------------------------------------------------------------


def test_spread_sample_keeps_evenly_spaced_rows_per_id():
    ids = np.array([7] * 10 + [3] * 2 + [5] * 4)
    frames = np.r_[np.arange(10, 0, -1), [4, 2], [1, 2, 3, 4]]  # frames of id 7 given in reverse
    picked = spread_sample(ids, frames, per_id=3)
    by_id = {int(i): sorted(frames[picked][ids[picked] == i].tolist()) for i in np.unique(ids)}
    assert by_id == {7: [1, 5, 8], 3: [2, 4], 5: [1, 3, 4]}  # rank * 3 // n starts a new run


def test_usable_rows_filters_height_ignore_flag_class_and_visibility():
    opts = options(min_height=20, min_visibility=0.5)
    mot17 = np.array([
        [1, 1, 0, 0, 10, 40, 1, 1, 0.9],   # kept
        [1, 2, 0, 0, 10, 10, 1, 1, 0.9],   # too short
        [1, 3, 0, 0, 10, 40, 0, 1, 0.9],   # ignored
        [1, 4, 0, 0, 10, 40, 1, 3, 0.9],   # a car
        [1, 5, 0, 0, 10, 40, 1, 1, 0.2],   # hardly visible
        [9, 6, 0, 0, 10, 40, 1, 1, 0.9],   # beyond the footage
    ])  # fmt: skip
    assert usable_rows(mot17, "MOT17", opts, length=5).tolist() == [True, False, False, False, False, False]
    mot15 = np.array([[1, 1, 0, 0, 10, 40, 1, -1, -1, -1], [2, 1, 0, 0, 10, 40, 1, -1, -1, -1]])
    assert usable_rows(mot15, "MOT15", opts, length=5).all()  # no visibility column to filter on


def test_load_crops_labels_and_pixels(sequence):
    data = load_crops(sequence, options(max_crops_per_id=5))
    assert data.crops.shape == (len(data), *CROP, 3) and data.crops.dtype == np.uint8
    assert data.identities == [("synthetic", i) for i in range(1, 7)]
    assert np.bincount(data.labels).tolist() == [5] * 6
    assert data.teacher.shape == (len(data), 0)  # no teacher
    gt = np.loadtxt(sequence.sequence.gt_file, delimiter=",")
    row = gt[(gt[:, 0] == data.frames[0]) & (gt[:, 1] == data.identities[data.labels[0]][1])][0]
    top_colour = PALETTE[int(row[1]) % len(PALETTE)]
    assert np.abs(data.crops[0, 2, CROP[1] // 2].astype(int) - top_colour).max() < 30  # a person, not background


def test_video_sequence_gives_the_same_crops(tmp_path, sequence):
    from_video = find_footage(write_sequence(tmp_path / "synthetic", video=True))
    assert from_video.frames.suffix == ".avi"
    a, b = load_crops(sequence, options()), load_crops(from_video, options())
    np.testing.assert_array_equal(a.frames, b.frames)
    np.testing.assert_array_equal(a.labels, b.labels)
    assert np.abs(a.crops.astype(int) - b.crops.astype(int)).mean() < 8  # JPEG vs MJPG noise only


def test_split_is_deterministic_and_checked():
    a, b = split_identities(20, 0.25, seed=3), split_identities(20, 0.25, seed=3)
    np.testing.assert_array_equal(a, b)
    assert a.sum() == 5
    assert not np.array_equal(a, split_identities(20, 0.25, seed=4))
    assert split_identities(5, 0.1, seed=0).sum() == 2  # at least two held out
    assert not split_identities(3, 0.0, seed=0).any()
    with pytest.raises(DataError, match="--val-fraction 0"):
        split_identities(3, 0.3, seed=0)


def test_pk_sampler_batches():
    labels = np.repeat(np.arange(5), [6, 6, 3, 8, 2])
    sampler = PKBatchSampler(labels, p=3, k=4, seed=0)
    batches = list(sampler)
    assert len(batches) == len(sampler) == 3  # 25 crops / 12 per batch
    for batch in batches:
        counts = np.bincount(labels[batch], minlength=5)
        assert sorted(counts[counts > 0].tolist()) == [4, 4, 4]
        for label in np.flatnonzero(counts):  # without repeats while an identity has k crops
            chosen = [i for i in batch if labels[i] == label]
            assert len(set(chosen)) == min(4, int((labels == label).sum()))
    assert batches == list(PKBatchSampler(labels, p=3, k=4, seed=0))
    assert PKBatchSampler(labels, p=9, k=2, seed=0).p == 5


# --- losses, metrics, augmentation -------------------------------------------------------------------------


def test_retrieval_metrics_on_a_known_ranking():
    gallery = np.eye(4, dtype=np.float32)
    gallery_labels = np.array([0, 1, 0, 1])
    query = np.array([[0.9, 0.4, 0.1, 0.0], [0.0, 0.5, 0.0, 0.1]], np.float32)
    rank1, mean_ap = retrieval_metrics(query, np.array([0, 1]), gallery, gallery_labels)
    # query 0 ranks gallery 0 (hit), 1, 2 (hit), 3: AP = (1 + 2/3) / 2; query 1 ranks 1 (hit), 3 (hit): AP = 1
    assert rank1 == 1.0
    assert mean_ap == pytest.approx(((1 + 2 / 3) / 2 + 1) / 2)
    r1, _ = retrieval_metrics(query[:1], np.array([1]), gallery, gallery_labels)
    assert r1 == 0.0
    assert np.isnan(retrieval_metrics(query, np.array([7, 8]), gallery, gallery_labels)[0])


def test_batch_hard_triplet_loss():
    e = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0], [0.0, 1.0]])
    separated = torch.tensor([0, 1, 0, 1])
    assert batch_hard_triplet(e, separated, margin=0.3).item() == pytest.approx(0.0, abs=1e-5)
    mixed = torch.tensor([0, 0, 1, 1])  # hardest positive at distance sqrt(2), hardest negative at 0
    assert batch_hard_triplet(e, mixed, margin=0.3).item() == pytest.approx(2**0.5 + 0.3, abs=1e-4)


def test_augment_draws_per_crop_and_is_seeded():
    crop = np.random.default_rng(0).integers(0, 255, (1, *CROP, 3), dtype=np.uint8)
    crops = torch.from_numpy(crop).repeat(8, 1, 1, 1)

    def run_augment(seed):
        generator = torch.Generator()
        generator.manual_seed(seed)
        return augment(crops, generator)

    out = run_augment(0)
    assert out.shape == (8, 3, *CROP) and out.dtype == torch.float32 and torch.isfinite(out).all()
    differences = (out[1:] - out[:1]).abs().flatten(1).mean(dim=1)
    assert (differences > 0.05).all()  # the same crop comes out differently each time
    assert torch.equal(out, run_augment(0))
    assert not torch.equal(out, run_augment(1))


def test_mix_blends_only_the_unlabelled_rows_and_is_seeded():
    """mixup: rows from ``start`` on become convex blends of two of those rows; the labelled rows before stay as drawn."""
    views = torch.arange(6, dtype=torch.float32).view(6, 1, 1, 1).expand(6, 3, 4, 2).clone()

    def run_mix(seed):
        return mix(views, 2, 0.4, np.random.default_rng(seed))

    out = run_mix(0)
    assert torch.equal(out[:2], views[:2])
    values = out[2:, 0, 0, 0]
    assert ((values >= 2) & (values <= 5)).all() and (out[2:] == values.view(4, 1, 1, 1)).all()  # one blend per view
    assert (values != views[2:, 0, 0, 0]).any()
    assert torch.equal(out, run_mix(0)) and not torch.equal(out, run_mix(1))
    assert torch.equal(mix(views, 5, 0.4, np.random.default_rng(0)), views)  # one unlabelled view: nothing to blend with


# --- training ---------------------------------------------------------------------------------------------


def test_training_lowers_loss_and_writes_checkpoints(trained):
    result, out = trained
    assert [h.epoch for h in result.history] == [1, 2]
    assert result.history[1].loss < 0.85 * result.history[0].loss  # without learning it falls by about 1%
    assert result.train_identities == 4 and result.held_out_identities == 2
    for h in result.history:
        assert 0.0 <= h.rank1 <= 1.0 and 0.0 < h.mAP <= 1.0
    assert result.best == out / "best.pt" and result.last == out / "last.pt" and result.best.is_file()
    saved = torch.load(result.last, weights_only=True)
    assert saved["arch"] == "resnet18" and saved["embedding_dim"] == 16
    meta = saved["meta"]
    assert meta["trained_on"] == ["synthetic"] and meta["epochs"] == 2 and meta["crop_size"] == list(CROP)
    assert meta["val"]["mAP"] == pytest.approx(result.history[-1].mAP)


def test_checkpoint_loads_through_build_embedder(trained, sequence):
    result, _ = trained
    cfg = load_config(overrides={
        "appearance.name": "resnet", "appearance.weights": str(result.last), "appearance.arch": "resnet18",
        "appearance.embedding_dim": 16, "appearance.crop_size": list(CROP), "appearance.device": "cpu",
    }).appearance  # fmt: skip
    embedder = build_embedder(cfg)
    image = cv2.imread(str(sequence.frames / "img1" / "000005.jpg"))
    gt = np.loadtxt(sequence.sequence.gt_file, delimiter=",")
    boxes = gt[gt[:, 0] == 5][:, 2:6].astype(np.float32)
    boxes[:, 2:] += boxes[:, :2]
    with torch.inference_mode():
        expected = result.model.eval()(crop_batch(image, boxes, CROP)).numpy()
    np.testing.assert_allclose(embedder.embed(image, boxes), expected, atol=1e-5)


def test_appearance_weights_alone_load_a_checkpoint(trained, sequence, tmp_path, capsys):
    """--appearance-weights best.pt: resnet, the file, and the architecture, embedding size and crop size it
    records; the run embeds with it (DeepSORT embeds every detection)."""
    result, _ = trained
    out = tmp_path / "run"
    code = main([
        "track", str(sequence.frames), "--out", str(out), "--quiet", "--no-video", "--tracker", "deepsort",
        "--detector", "mot", "--set", f"detector.det_file={sequence.sequence.gt_file}", "--device", "cpu",
        "--appearance-weights", str(result.best), "--max-frames", "3",
    ])  # fmt: skip
    assert code == 0, capsys.readouterr().err
    saved = load_config(out / "config.yaml").appearance
    assert (saved.name, saved.weights, saved.arch, saved.embedding_dim) == ("resnet", str(result.best), "resnet18", 16)
    assert tuple(saved.crop_size) == CROP
    # a torchvision backbone records none of it: the configured arch (resnet18) and embedding_dim 0 stay
    torch.save(torchvision.models.resnet18(weights=None).state_dict(), tmp_path / "backbone.pth")
    from tracker.commands.common import appearance_weight_overrides

    assert appearance_weight_overrides(str(tmp_path / "backbone.pth")) == [
        "appearance.name=resnet", f'appearance.weights="{tmp_path / "backbone.pth"}"',
    ]
    assert appearance_weight_overrides("reid.onnx") == ["appearance.name=osnet", 'appearance.weights="reid.onnx"']
    with pytest.raises(ModelError, match="appearance weights file not found"):
        appearance_weight_overrides(str(tmp_path / "missing.pt"))


def test_init_from_checkpoints(tmp_path):
    torch.manual_seed(5)
    ours = ReIDNet("resnet18", 16)
    save_checkpoint(ours, tmp_path / "ours.pt")
    model = build_model(options(init=str(tmp_path / "ours.pt")))
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), ours.state_dict().values()))
    backbone = torchvision.models.resnet18(weights=None)
    torch.save(backbone.state_dict(), tmp_path / "torchvision.pth")  # no projection: it stays initialised
    model = build_model(options(init=str(tmp_path / "torchvision.pth")))
    assert torch.equal(model.backbone.conv1.weight, backbone.conv1.weight)


def test_errors(tmp_path, sequence):
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"not a checkpoint")
    with pytest.raises(ModelError, match="^--init .*garbage.pt"):
        train([sequence], options(init=str(garbage)), tmp_path / "out")
    with pytest.raises(ModelError, match="embedding_dim"):
        save_checkpoint(ReIDNet("resnet18", 8), tmp_path / "dim8.pt")
        build_model(options(init=str(tmp_path / "dim8.pt")))
    few = find_footage(write_sequence(tmp_path / "few", n_people=3, n_frames=4))
    with pytest.raises(DataError, match="too few to hold out"):
        train([few], options(), tmp_path / "out")
    with pytest.raises(DataError, match="no usable ground-truth boxes .* and no teacher"):
        train([few], options(min_height=500), tmp_path / "out")
    with pytest.raises(DataError, match="need at least 2"):  # one identity, no teacher: nothing to contrast
        train([find_footage(write_sequence(tmp_path / "one", n_people=1, n_frames=4))], options(val_fraction=0),
              tmp_path / "out")  # fmt: skip
    with pytest.raises(ConfigError, match="--val-fraction"):
        train([few], options(val_fraction=1.5), tmp_path / "out")
    with pytest.raises(ConfigError, match="--mixup 0.4 .*unless --teacher-input augmented"):  # blends need a live teacher
        train([few], options(mixup=0.4, teacher_input="clean"), tmp_path / "out")
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    with pytest.raises(OutputError, match="a-file"):
        train([sequence], options(), blocker / "reid")
    (tmp_path / "empty").mkdir()
    with pytest.raises(SourceError, match="no frames"):
        find_footage(tmp_path / "empty")


def test_cli_trains_and_prints_the_settings(tmp_path, sequence, capsys):
    parser = argparse.ArgumentParser(prog="tracker")
    add_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args([
        "train-reid", str(sequence.sequence.root), "--out", str(tmp_path / "reid"), "--init", "random", "--epochs",
        "1", "--arch", "resnet18", "--embedding-dim", "8", "--crop-size", "64", "32", "--batch-p", "3", "--batch-k",
        "2", "--device", "cpu", "--val-fraction", "0.3", "--max-crops-per-id", "4", "--min-height", "16",
        "--teacher", "none", "--det-every", "0", "--quiet",
    ])  # fmt: skip
    assert run(args) == 0
    printed = capsys.readouterr().out
    assert f"use it with: --appearance-weights {tmp_path / 'reid' / 'best.pt'}" in printed
    assert torch.load(tmp_path / "reid" / "best.pt", weights_only=True)["meta"]["options"]["batch_k"] == 2
    with pytest.raises(SystemExit):
        parser.parse_args(["train-reid", str(sequence.frames)])  # --init is required: random init must be explicit


def test_train_reid_command(tmp_path, capsys):
    torch = pytest.importorskip("torch")
    seq = write_sequence(tmp_path / "synthetic", n_people=4, n_frames=6)
    out = tmp_path / "reid"
    # the smallest run that trains: 4 identities x 2 crops, one batch, one epoch, no held-out identities
    assert main([
        "train-reid", str(seq), "--out", str(out), "--init", "random", "--epochs", "1", "--arch", "resnet18",
        "--embedding-dim", "8", "--crop-size", "64", "32", "--batch-p", "4", "--batch-k", "2", "--device", "cpu",
        "--val-fraction", "0", "--max-crops-per-id", "2", "--min-height", "16", "--teacher", "none", "--det-every",
        "0", "--quiet", "--onnx", str(out / "reid.onnx"), "--half-checkpoint", str(out / "half.pt"),
    ]) == 0  # fmt: skip
    printed = capsys.readouterr().out
    assert f"best checkpoint: {out / 'best.pt'}" in printed
    assert torch.load(out / "best.pt", weights_only=True)["meta"]["epochs"] == 1
    # the printed option loads the ONNX export as the tracker's appearance model, without torch; the checkpoint
    # and its half-precision copy load with the same option and embed alike
    from tracker.commands.common import appearance_weight_overrides

    option, path = printed.split("use it with: ", 1)[1].split()
    assert option == "--appearance-weights" and path == str(out / "reid.onnx")
    image = cv2.imread(str(seq / "img1" / "000001.jpg"))
    boxes = np.array([[10, 5, 38, 77], [40, 10, 70, 80]], np.float32)
    embeddings, runs_on_torch = {}, {}
    for weights in (path, out / "best.pt", out / "half.pt"):
        cfg = load_config(overrides=appearance_weight_overrides(str(weights)) + ["appearance.device=cpu"])
        embedder = build_embedder(cfg.appearance)
        assert tuple(embedder.crop_size) == (64, 32)
        embeddings[weights], runs_on_torch[weights] = embedder.embed(image, boxes), isinstance(embedder, ResNetEmbedder)
        assert embeddings[weights].shape == (2, 8)
    assert list(runs_on_torch.values()) == [False, True, True]
    for weights in (out / "best.pt", out / "half.pt"):
        assert (embeddings[path] * embeddings[weights]).sum(axis=1).min() > 0.99

    bad = ["train-reid", str(seq), "--init", "random", "--epochs", "0", "--out", str(out)]
    assert main(bad) == ConfigError.exit_code
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: --epochs 0 is out of range")


# --- teacher, detection crops, cache ----------------------------------------------------------------------


def write_clip(path: Path, frames: int = 3) -> Path:
    """The first frames of the PETS09 sample clip as a small lossless-ish video: real people for the detector."""
    images = read_frames(SAMPLE_VIDEO, range(frames))
    height, width = images[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 7, (width, height))
    for index in range(frames):
        writer.write(images[index])
    writer.release()
    return path


def test_teacher_vectors_are_the_osnet_embeddings_of_the_clean_crops(sequence):
    data = load_crops(sequence, options(teacher=None, max_crops_per_id=3))
    assert data.teacher.shape == (len(data), 512) and data.teacher.dtype == np.float16
    osnet = build_embedder(load_config(overrides={"appearance.name": "osnet", "appearance.device": "cpu"}).appearance)
    gt = np.loadtxt(sequence.sequence.gt_file, delimiter=",")
    number = int(data.frames[0])
    rows = gt[gt[:, 0] == number]
    boxes = rows[:, 2:6].astype(np.float32)
    boxes[:, 2:] += boxes[:, :2]
    image = cv2.imread(str(sequence.frames / "img1" / f"{number:06d}.jpg"))
    expected = osnet.embed(image, boxes)
    for i in np.flatnonzero(data.frames == number):
        person = list(rows[:, 1]).index(data.identities[data.labels[i]][1])
        assert float(data.teacher[i].astype(np.float32) @ expected[person]) > 0.999


def test_detection_crops_of_a_video_without_ground_truth(tmp_path):
    clip = find_footage(write_clip(tmp_path / "clip.avi"))
    assert clip.sequence is None and clip.name == "clip"
    opts = options(teacher=None, det_every=1, crop_size=(128, 64), min_height=32)
    data = load_crops(clip, opts)
    assert len(data) >= 6 and (data.labels == UNLABELLED).all() and data.identities == []  # PETS09: 5-8 people
    assert set(data.frames.tolist()) == {1, 2, 3} and data.teacher.shape == (len(data), 512)
    np.testing.assert_allclose(np.linalg.norm(data.teacher.astype(np.float32), axis=1), 1.0, atol=2e-3)
    assert data.crops.shape[1:] == (128, 64, 3) and data.crops.std() > 20  # people, not blank crops
    capped = load_crops(clip, replace(opts, max_detection_crops=4))
    assert len(capped) == 4 and set(map(bytes, capped.crops)) <= set(map(bytes, data.crops))
    every_other = load_crops(clip, replace(opts, det_every=2))
    assert set(every_other.frames.tolist()) == {1, 3}


def test_cache_holds_crops_and_teacher_vectors(tmp_path):
    clip = find_footage(write_clip(tmp_path / "clip.avi", frames=2))
    opts = options(teacher=None, det_every=1, crop_size=(128, 64), min_height=32)
    first = collect_crops([clip], opts, "cpu", tmp_path / "cache")
    files = list((tmp_path / "cache").glob("clip-*.npz"))
    assert [f.name for f in files] == [f"clip-{cache_key(clip, opts)}.npz"]
    stamp = files[0].stat().st_mtime_ns
    again = collect_crops([clip], opts, "cpu", tmp_path / "cache")
    assert files[0].stat().st_mtime_ns == stamp  # read, not rewritten
    for name in ("crops", "labels", "frames", "teacher"):
        np.testing.assert_array_equal(getattr(first, name), getattr(again, name))
    assert cache_key(clip, replace(opts, det_conf=0.6)) != cache_key(clip, opts)
    assert cache_key(clip, replace(opts, teacher="none")) != cache_key(clip, opts)
    # the teacher is known by its bytes: a copy elsewhere (another checkout) keys the same crops, another model not
    copy = tmp_path / "teacher.onnx"
    shutil.copyfile(OSNET_WEIGHTS, copy)
    assert cache_key(clip, replace(opts, teacher=str(copy))) == cache_key(clip, opts)
    copy.write_bytes(copy.read_bytes()[:-1] + b"x")
    assert cache_key(clip, replace(opts, teacher=str(copy))) != cache_key(clip, opts)


# --- distillation --------------------------------------------------------------------------------------------


def test_distillation_losses():
    teacher = torch.nn.functional.normalize(torch.tensor([[1.0, 0.0, 0.0], [0.6, 0.8, 0.0], [0.0, 0.6, 0.8]]), dim=1)
    identity = torch.nn.Identity()
    cosine, relation = distillation_losses(teacher * 3.0, teacher, teacher, identity)  # scale does not matter
    assert cosine.item() == pytest.approx(0.0, abs=1e-6) and relation.item() == pytest.approx(0.0, abs=1e-6)
    swapped = teacher[[1, 0, 2]]  # right vectors, wrong crops
    cosine, relation = distillation_losses(swapped, swapped, teacher, identity)
    assert cosine.item() == pytest.approx((2 * (1 - 0.6) + 0) / 3, abs=1e-6)
    # off-diagonal cosines: student (0.6, 0.48, 0) against teacher (0.6, 0, 0.48), each pair twice
    assert relation.item() == pytest.approx(4 * 0.48**2 / 6, abs=1e-6)
    rotated = distillation_losses(teacher @ torch.tensor([[0.0, 1, 0], [1, 0, 0], [0, 0, 1]]), teacher, teacher,
                                  identity)  # fmt: skip
    assert rotated[1].item() == pytest.approx(0.0, abs=1e-6)  # relations hold under any rotation; cosines do not
    assert rotated[0].item() > 0.1


def crop_set(labels: list[int], teacher_dim: int) -> CropSet:
    n = len(labels)
    return CropSet(np.zeros((n, *CROP, 3), np.uint8), np.array(labels, np.int64), np.arange(n),
                   np.ones((n, teacher_dim), np.float16), [("s", i) for i in range(max(labels) + 1)])  # fmt: skip


def test_batches_mix_identities_and_unlabelled_crops():
    labels = [0] * 4 + [1] * 4 + [2] * 4 + [UNLABELLED] * 20
    opts = options(batch_p=2, batch_k=2, batch_unlabelled=6)
    batches = Batches(crop_set(labels, 8), opts)
    assert len(batches) == 32 // 10 + 1
    for rows, classes in batches:
        assert len(rows) == 10 and len(classes) == 4
        np.testing.assert_array_equal(np.array(labels)[rows[:4]], classes)  # the three ids are already 0..2
        assert (np.array(labels)[rows[4:]] == UNLABELLED).all() and len(set(rows[4:].tolist())) == 6
    no_teacher = Batches(crop_set(labels, 0), opts)  # unlabelled crops teach nothing without a teacher
    assert all(len(rows) == 4 for rows, _ in no_teacher) and len(no_teacher) == 12 // 4
    unlabelled = Batches(crop_set([0] * 3 + [UNLABELLED] * 9, 8), opts)  # one identity: no PK part
    assert all(len(rows) == 6 and len(classes) == 0 for rows, classes in unlabelled)


def test_distillation_training_step_and_onnx_export(tmp_path, sequence):
    clip = find_footage(write_clip(tmp_path / "clip.avi", frames=2))
    opts = options(teacher=None, det_every=1, arch="resnet18_x0_25", embedding_dim=0, epochs=1, val_fraction=0,
                   batch_unlabelled=4, max_crops_per_id=2)  # fmt: skip
    result = train([sequence, clip], opts, tmp_path / "reid")
    terms = result.history[0].terms
    assert terms["identity"] > 0 and terms["triplet"] >= 0 and 0 < terms["distill"] < 2 and terms["relation"] > 0
    meta = torch.load(result.last, weights_only=True)["meta"]
    assert meta["crops"]["labelled"] == 12 and meta["crops"]["unlabelled"] > 0
    assert meta["trained_on"] == ["synthetic", "clip"]
    live = train([sequence, clip], replace(opts, teacher_input="augmented"), tmp_path / "live")  # on every view
    mixed = train([sequence, clip], replace(opts, teacher_input="augmented", mixup=0.4), tmp_path / "mixed")  # blends
    for other in (live, mixed):
        assert 0 < other.history[0].terms["distill"] < 2 and other.history[0].terms["relation"] > 0
    assert not torch.equal(next(live.model.parameters()), next(mixed.model.parameters()))  # the blends were learnt

    from tracker.detect.appearance.export import export_onnx

    path = export_onnx(result.model, tmp_path / "reid.onnx", CROP)
    model = onnx.load(str(path))
    assert {t.data_type for t in model.graph.initializer if t.dims} == {onnx.TensorProto.FLOAT16}
    embedder = build_embedder(load_config(overrides={"appearance.name": "resnet", "appearance.weights": str(path),
                                                     "appearance.device": "cpu"}).appearance)  # fmt: skip
    assert embedder.crop_size == CROP and embedder.dim == result.model.dim and embedder.batch_size > 1
    image = cv2.imread(str(sequence.frames / "img1" / "000005.jpg"))
    boxes = np.array([[10, 5, 38, 77], [60, 40, 90, 110]], np.float32)
    with torch.inference_mode():
        expected = result.model(crop_batch(image, boxes, CROP)).numpy()
    assert (embedder.embed(image, boxes) * expected).sum(axis=1).min() > 0.999  # fp16 weights, fp32 arithmetic


def test_teacher_embeds_the_students_view_like_the_clean_crop(tmp_path):
    """teacher_input=augmented: the student's small view, upsampled to the teacher's input, is embedded as the clean
    crop cut at the teacher's size is (so the teacher can follow every augmentation without a crop of its own)."""
    image = read_frames(SAMPLE_VIDEO, [40])[40]
    gt = np.loadtxt(ROOT / "samples" / "pets09_s2l1_150" / "gt" / "gt.txt", delimiter=",")
    boxes = gt[gt[:, 0] == 41][:, 2:6].astype(np.float32)
    boxes[:, 2:] += boxes[:, :2]
    osnet = build_embedder(load_config(overrides={"appearance.name": "osnet", "appearance.device": "cpu"}).appearance)
    views = crop_batch(image, boxes, (128, 64))
    taught = teach(osnet, views)
    assert taught.shape == (len(boxes), 512) and taught.dtype == torch.float32
    similarity = taught.numpy() @ osnet.embed(image, boxes).T
    assert np.diag(similarity).min() > 0.95 and (similarity.argmax(axis=1) == np.arange(len(boxes))).all()
