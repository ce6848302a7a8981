"""Fine-tune the ResNet re-identification embedder on MOTChallenge ground truth (``tracker train-reid``).

The user's own annotated footage (sequence folders with ``gt/gt.txt`` and frames in
``img1/`` or a video) becomes an identity-labelled crop set: each identity is a
(sequence, track id) pair, and up to ``max_crops_per_id`` of its usable boxes, spread
evenly over its lifetime, are cut once with the same resize as inference
(:func:`~tracker.appearance.crops.cut_crops`) and kept in memory as uint8.

A deterministic share of the identities is held out. The network
(:class:`~tracker.appearance.resnet.ReIDNet`) learns on the rest with an identity
classifier (behind a BatchNorm "neck", discarded afterwards) trained by cross-entropy
with label smoothing, plus a batch-hard triplet loss on the L2-normalised embeddings
(Hermans et al. 2017, "In Defense of the Triplet Loss"), over P identities x K crops
per batch. Augmentations (flip, shift/scale, colour jitter, random erasing) are drawn
per crop and applied to the whole batch at once on the training device. After each
epoch the held-out identities are embedded and scored by rank-1 and mAP; ``last.pt``
and ``best.pt`` (best held-out mAP) are written in the tracker-reid-v1 format, which
``appearance.name=resnet`` loads.
"""

from __future__ import annotations

import math
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, Dataset

from ...errors import DataError, ModelError, OutputError
from ...io import mot
from ...io.files import prepare_out_dir
from ...io.mot import Sequence
from ..devices import resolve_device
from .crops import cut_crops, normalise
from .resnet import ReIDNet, load_weights, save_checkpoint
from .training_options import MIN_CROPS_PER_ID, MIN_IDS_PER_SIDE, TrainOptions  # torch-free: the CLI shows them

# --- augmentation (drawn independently for every crop) ---
FLIP_PROBABILITY = 0.5  # random horizontal flip
MAX_SHIFT = 0.05  # random translation, as a fraction of crop width / height
SCALE_JITTER = 0.1  # random zoom in [1 - x, 1 + x]
COLOUR_JITTER = 0.2  # brightness, contrast and saturation factors in [1 - x, 1 + x]
ERASE_PROBABILITY = 0.5  # random erasing (Zhong et al. 2020) of one rectangle, filled with the mean colour
ERASE_AREA = (0.02, 0.33)  # erased fraction of the crop area
ERASE_ASPECT = (0.3, 3.3)  # erased rectangle height / width, drawn log-uniformly
GREY_WEIGHTS_BGR = (0.114, 0.587, 0.299)  # ITU-R BT.601 luma of B, G, R
PIXEL_MAX = 255.0

# --- optimisation ---
WARMUP_FRACTION = 0.05  # share of all steps over which the learning rate ramps up linearly, then cosine to 0
EVAL_BATCH = 128  # crops per forward pass when embedding the held-out identities
DISTANCE_EPS = 1e-12  # floor under squared distances before the square root (finite gradients at 0)
SAMPLER_STREAM, AUGMENT_STREAM = 1, 2  # seed offsets: sampler and augmentation draws independent of the split


# --- crops from ground truth ---------------------------------------------------------------------------


@dataclass
class CropSet:
    """Identity-labelled crops: parallel arrays, plus the identity and sequence names."""

    crops: np.ndarray  # (N,H,W,3) BGR uint8
    labels: np.ndarray  # (N,) int64 identity index into ``identities``
    frames: np.ndarray  # (N,) int64 MOT frame number (1-based)
    identities: list[tuple[str, int]]  # (sequence name, gt track id) of each identity
    sequences: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.labels)

    def subset(self, mask: np.ndarray) -> CropSet:
        return CropSet(self.crops[mask], self.labels[mask], self.frames[mask], self.identities, self.sequences)


def usable_rows(gt: np.ndarray, benchmark: str, options: TrainOptions, length: int) -> np.ndarray:
    """Boolean mask of gt rows worth a crop: inside the footage, tall enough, not ignored, visible enough."""
    keep = (gt[:, mot.FRAME] >= 1) & (gt[:, mot.FRAME] <= length)
    keep &= (gt[:, mot.BOX][:, 3] >= max(options.min_height, 1.0)) & (gt[:, mot.BOX][:, 2] >= 1.0)
    if gt.shape[1] > mot.FLAG:
        keep &= gt[:, mot.FLAG] != 0  # 0: "ignore" (MOT16/17) or inactive (MOT15)
    if benchmark == "MOT17":
        keep &= (gt[:, mot.CLASS] == mot.PEDESTRIAN_CLASS) & (gt[:, mot.VISIBILITY] >= options.min_visibility)
    return keep


def spread_sample(ids: np.ndarray, frames: np.ndarray, per_id: int) -> np.ndarray:
    """Indices of at most ``per_id`` rows per id, spread evenly over each id's frames (sorted by id, frame).

    The rows of an id, in frame order, are cut into ``per_id`` equal runs and the first row
    of each run is kept, so an id seen in n <= per_id rows keeps all of them.
    """
    if len(ids) == 0:
        return np.zeros(0, np.int64)
    order = np.lexsort((frames, ids))
    ids_sorted = ids[order]
    starts = np.flatnonzero(np.r_[True, ids_sorted[1:] != ids_sorted[:-1]])
    counts = np.diff(np.r_[starts, len(ids_sorted)])
    rank = np.arange(len(ids_sorted)) - np.repeat(starts, counts)
    bucket = rank * per_id // np.repeat(counts, counts)
    first = np.r_[True, (bucket[1:] != bucket[:-1]) | (ids_sorted[1:] != ids_sorted[:-1])]
    return order[first]


def read_frames(seq: Sequence, wanted: np.ndarray):
    """Yield (frame number, BGR image) for the sorted unique 1-based ``wanted`` frames that can be read.

    img1/ frames are read one file each; a video is read sequentially up to the last wanted
    frame, decoding into an image (``retrieve``) only the wanted ones.
    """
    import cv2

    if seq.frames.is_dir():
        files = mot.frame_files(seq.image_dir)
        for number in wanted:
            path = files.get(int(number))
            image = cv2.imread(str(path)) if path is not None else None
            if image is not None:
                yield int(number), image
        return
    cap = cv2.VideoCapture(str(seq.frames))
    try:
        want = set(int(n) for n in wanted)
        for number in range(1, int(wanted.max()) + 1 if len(wanted) else 1):
            if not cap.grab():
                return
            if number in want:
                ok, image = cap.retrieve()
                if ok:
                    yield number, image
    finally:
        cap.release()


def load_crops(sequences: list[Sequence], options: TrainOptions) -> CropSet:
    """Identity-labelled uint8 crops of the usable gt boxes of ``sequences`` (DataError when none)."""
    size = tuple(int(v) for v in options.crop_size)
    crops, labels, frames, identities = [], [], [], []
    for seq in sequences:
        gt = mot.read_gt(seq.gt_file)
        if seq.frames.is_dir():
            present = np.array(sorted(mot.frame_files(seq.image_dir)), np.int64)
            gt = gt[np.isin(gt[:, mot.FRAME].astype(np.int64), present)]
        gt = gt[usable_rows(gt, seq.benchmark, options, seq.length)]
        ids = gt[:, mot.ID].astype(np.int64)
        rows = gt[spread_sample(ids, gt[:, mot.FRAME].astype(np.int64), options.max_crops_per_id)]
        rows = rows[np.argsort(rows[:, mot.FRAME], kind="stable")]
        numbers = rows[:, mot.FRAME].astype(np.int64)
        boxes = rows[:, mot.BOX].astype(np.float32)
        boxes[:, 2:] += boxes[:, :2]
        out = np.empty((len(rows), *size, 3), np.uint8)
        read = np.zeros(len(rows), bool)
        unique, first = np.unique(numbers, return_index=True)
        ends = np.r_[first[1:], len(numbers)]
        where = dict(zip(unique.tolist(), zip(first.tolist(), ends.tolist())))
        for number, image in read_frames(seq, unique):
            start, end = where[number]
            out[start:end] = cut_crops(image, boxes[start:end], size)
            read[start:end] = True
        track_ids = rows[read, mot.ID].astype(np.int64)
        names, local = np.unique(track_ids, return_inverse=True)
        labels.append(local + len(identities))
        identities += [(seq.name, int(n)) for n in names]
        crops.append(out[read])
        frames.append(numbers[read])
    if not identities:
        names = ", ".join(s.name for s in sequences)
        raise DataError(
            f"no usable ground-truth boxes in {names} (min height {options.min_height} px, "
            f"min visibility {options.min_visibility}, frames that can be read)",
            "Check gt/gt.txt and the frames, or lower --min-height / --min-visibility",
        )
    labels = np.concatenate(labels)
    enough = np.bincount(labels, minlength=len(identities))[labels] >= MIN_CROPS_PER_ID
    kept, dense = np.unique(labels[enough], return_inverse=True)  # identities renumbered 0..M-1
    return CropSet(np.concatenate(crops)[enough], dense.astype(np.int64), np.concatenate(frames)[enough],
                   [identities[i] for i in kept], [s.name for s in sequences])  # fmt: skip


def split_identities(n_identities: int, val_fraction: float, seed: int) -> np.ndarray:
    """Boolean mask of held-out identities: a seeded random ``val_fraction`` of them, at least MIN_IDS_PER_SIDE."""
    if val_fraction <= 0:
        return np.zeros(n_identities, bool)
    held = max(MIN_IDS_PER_SIDE, round(val_fraction * n_identities))
    if n_identities - held < MIN_IDS_PER_SIDE:
        raise DataError(
            f"only {n_identities} identities with {MIN_CROPS_PER_ID}+ usable crops: too few to hold out "
            f"{held} (--val-fraction {val_fraction}) and train on at least {MIN_IDS_PER_SIDE}",
            "Add annotated sequences, or give --val-fraction 0 to train without validation",
        )
    mask = np.zeros(n_identities, bool)
    mask[np.random.default_rng(seed).permutation(n_identities)[:held]] = True
    return mask


# --- batches and augmentation ----------------------------------------------------------------------------


class CropDataset(Dataset):
    """(crop uint8 HxWx3, label) pairs of an in-memory crop array."""

    def __init__(self, crops: np.ndarray, labels: np.ndarray):
        self.crops, self.labels = crops, labels

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        return torch.from_numpy(self.crops[index]), int(self.labels[index])


class PKBatchSampler:
    """Batches of ``p`` distinct identities x ``k`` crops each; an epoch covers about every crop once.

    Crops of an identity are drawn without replacement while it has at least ``k``, else
    with repeats. ``p`` is capped at the number of identities.
    """

    def __init__(self, labels: np.ndarray, p: int, k: int, seed: int):
        self.labels = np.asarray(labels)
        self.ids, counts = np.unique(self.labels, return_counts=True)
        self.p, self.k = min(p, len(self.ids)), k
        self.members = np.argsort(self.labels, kind="stable")  # crop indices grouped by identity
        self.starts = np.r_[0, np.cumsum(counts)[:-1]]
        self.counts = counts
        self.batches = max(1, math.ceil(len(self.labels) / (self.p * self.k)))
        self.rng = np.random.default_rng(seed)

    def __len__(self) -> int:
        return self.batches

    def __iter__(self):
        width = int(self.counts.max())
        for _ in range(self.batches):
            chosen = self.rng.choice(len(self.ids), self.p, replace=False)
            counts = self.counts[chosen]
            keys = self.rng.random((self.p, max(width, self.k)))
            keys[np.arange(keys.shape[1])[None, :] >= counts[:, None]] = np.inf  # past the identity's crops
            ranks = np.argsort(keys, axis=1)[:, : self.k] % counts[:, None]  # repeats once the crops run out
            yield self.members[self.starts[chosen][:, None] + ranks].ravel().tolist()


def _uniform(generator: torch.Generator, n: int, low: float, high: float, device) -> torch.Tensor:
    return low + (high - low) * torch.rand(n, generator=generator, device=device)


def augment(batch: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """(N,H,W,3) BGR uint8 crops -> (N,3,H,W) augmented, ImageNet-normalised RGB float, on the batch's device.

    Each crop gets its own flip, shift/zoom (one ``grid_sample``), brightness/contrast/
    saturation jitter and random-erasing rectangle; all crops are processed together.
    """
    n, height, width = batch.shape[:3]
    device = batch.device
    x = batch.permute(0, 3, 1, 2).float()
    flip = torch.where(torch.rand(n, generator=generator, device=device) < FLIP_PROBABILITY, -1.0, 1.0)
    scale = _uniform(generator, n, 1 - SCALE_JITTER, 1 + SCALE_JITTER, device)
    theta = torch.zeros(n, 2, 3, device=device)
    theta[:, 0, 0], theta[:, 1, 1] = scale * flip, scale
    theta[:, :, 2] = 2 * MAX_SHIFT * (2 * torch.rand(n, 2, generator=generator, device=device) - 1)  # [-1,1] units
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    x = F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)

    grey_weights = torch.tensor(GREY_WEIGHTS_BGR, device=device).view(1, 3, 1, 1)
    brightness, contrast, saturation = (_uniform(generator, n, 1 - COLOUR_JITTER, 1 + COLOUR_JITTER, device)
                                        .view(n, 1, 1, 1) for _ in range(3))  # fmt: skip
    x = x * brightness
    grey = (x * grey_weights).sum(dim=1, keepdim=True)
    x = grey.mean(dim=(2, 3), keepdim=True) + (x - grey.mean(dim=(2, 3), keepdim=True)) * contrast
    grey = (x * grey_weights).sum(dim=1, keepdim=True)
    x = (grey + (x - grey) * saturation).clamp_(0, PIXEL_MAX)
    x = normalise(x)

    area = _uniform(generator, n, *ERASE_AREA, device) * height * width
    aspect = torch.exp(_uniform(generator, n, math.log(ERASE_ASPECT[0]), math.log(ERASE_ASPECT[1]), device))
    eh = torch.sqrt(area * aspect).clamp(max=height)
    ew = torch.sqrt(area / aspect).clamp(max=width)
    top = torch.rand(n, generator=generator, device=device) * (height - eh)
    left = torch.rand(n, generator=generator, device=device) * (width - ew)
    rows = torch.arange(height, device=device).view(1, -1)
    cols = torch.arange(width, device=device).view(1, -1)
    inside_rows = (rows >= top[:, None]) & (rows < (top + eh)[:, None])
    inside_cols = (cols >= left[:, None]) & (cols < (left + ew)[:, None])
    erase = torch.rand(n, generator=generator, device=device) < ERASE_PROBABILITY
    mask = inside_rows[:, :, None] & inside_cols[:, None, :] & erase[:, None, None]
    return x.masked_fill(mask[:, None], 0.0)  # 0 is the ImageNet mean colour after normalisation


def as_input(batch: torch.Tensor) -> torch.Tensor:
    """(N,H,W,3) BGR uint8 -> (N,3,H,W) ImageNet-normalised RGB float: what inference feeds the network."""
    return normalise(batch.permute(0, 3, 1, 2).float().contiguous())


# --- losses and metrics --------------------------------------------------------------------------------


def batch_hard_triplet(embeddings: torch.Tensor, labels: torch.Tensor, margin: float) -> torch.Tensor:
    """Mean over anchors of relu(d(hardest positive) - d(hardest negative) + margin), Euclidean on unit vectors."""
    squared = (2.0 - 2.0 * embeddings @ embeddings.T).clamp(min=DISTANCE_EPS)
    dist = squared.sqrt()
    same = labels[:, None] == labels[None, :]
    hardest_positive = dist.masked_fill(~same, 0.0).max(dim=1).values
    hardest_negative = dist.masked_fill(same, float("inf")).min(dim=1).values
    return F.relu(hardest_positive - hardest_negative + margin).mean()


def retrieval_metrics(
    query: np.ndarray, query_labels: np.ndarray, gallery: np.ndarray, gallery_labels: np.ndarray
) -> tuple[float, float]:
    """(rank-1, mAP) of unit-vector queries against a gallery by cosine similarity.

    Queries without a match in the gallery are left out; (nan, nan) when none has one.
    """
    matches = gallery_labels[None, :] == query_labels[:, None]
    has_match = matches.any(axis=1)
    if not has_match.any():
        return float("nan"), float("nan")
    similarity = query[has_match] @ gallery.T
    order = np.argsort(-similarity, axis=1, kind="stable")
    hits = np.take_along_axis(matches[has_match], order, axis=1)
    precision = np.cumsum(hits, axis=1) / np.arange(1, hits.shape[1] + 1)
    average_precision = (precision * hits).sum(axis=1) / hits.sum(axis=1)
    return float(hits[:, 0].mean()), float(average_precision.mean())


def held_out_queries(labels: np.ndarray, frames: np.ndarray) -> np.ndarray:
    """Boolean mask picking each identity's earliest crop as its query (the rest form the gallery)."""
    order = np.lexsort((frames, labels))
    first = np.r_[True, labels[order][1:] != labels[order][:-1]]
    mask = np.zeros(len(labels), bool)
    mask[order[first]] = True
    return mask


@torch.inference_mode()
def embed_crops(model: ReIDNet, crops: np.ndarray, device: str) -> np.ndarray:
    """(N,dim) unit vectors of uint8 BGR crops, in eval mode, EVAL_BATCH at a time."""
    was_training = model.training
    model.eval()
    out = np.empty((len(crops), model.dim), np.float32)
    for start in range(0, len(crops), EVAL_BATCH):
        batch = torch.from_numpy(crops[start : start + EVAL_BATCH]).to(device)
        out[start : start + len(batch)] = model(as_input(batch)).cpu().numpy()
    model.train(was_training)
    return out


def validate(model: ReIDNet, held_out: CropSet, device: str) -> tuple[float, float]:
    """(rank-1, mAP): each held-out identity's earliest crop queries all other held-out crops."""
    embeddings = embed_crops(model, held_out.crops, device)
    query = held_out_queries(held_out.labels, held_out.frames)
    return retrieval_metrics(embeddings[query], held_out.labels[query], embeddings[~query], held_out.labels[~query])


# --- training -------------------------------------------------------------------------------------------


@dataclass
class EpochStats:
    epoch: int
    loss: float  # mean training loss (cross-entropy + triplet) over the epoch's batches
    rank1: float | None  # held-out rank-1, None without validation
    mAP: float | None  # held-out mean average precision
    seconds: float


@dataclass
class TrainResult:
    best: Path
    last: Path
    history: list[EpochStats]
    train_identities: int
    held_out_identities: int
    model: ReIDNet  # the network after the last epoch (as in last.pt), in eval mode


class IdentityHead(nn.Module):
    """BatchNorm neck + bias-free linear classifier over the training identities (training only)."""

    def __init__(self, dim: int, identities: int):
        super().__init__()
        self.neck = nn.BatchNorm1d(dim)
        self.classifier = nn.Linear(dim, identities, bias=False)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.neck(features))


def build_model(options: TrainOptions) -> ReIDNet:
    """ReIDNet seeded by ``options.seed``, initialised from ``options.init`` (ModelError for a bad file)."""
    torch.manual_seed(options.seed)
    model = ReIDNet(options.arch, options.embedding_dim)
    if options.init != "random":
        try:
            load_weights(model, options.init, allow_missing_head=True)
        except ModelError as exc:
            raise ModelError(
                f"--init {options.init}: {exc.problem}",
                "Give a torchvision, torchreid or tracker-reid-v1 checkpoint matching --arch and --embedding-dim, "
                "or --init random",
            ) from None
    return model


def _lr_factor(step: int, total: int) -> float:
    warmup = max(1, round(WARMUP_FRACTION * total))
    if step < warmup:
        return (step + 1) / warmup
    return 0.5 * (1.0 + math.cos(math.pi * (step - warmup) / max(1, total - warmup)))


def _log(options: TrainOptions, message: str) -> None:
    if options.progress:
        from tqdm import tqdm

        tqdm.write(message, file=sys.stderr)


def train(sequences: list[Sequence], options: TrainOptions, out_dir: str | Path) -> TrainResult:
    """Fine-tune a ReIDNet on the gt identities of ``sequences``; writes ``best.pt`` and ``last.pt`` to ``out_dir``."""
    from tqdm import tqdm

    options.check()
    device = resolve_device(options.device)
    model = build_model(options)
    out_dir = prepare_out_dir(out_dir)
    data = load_crops(sequences, options)
    held = split_identities(len(data.identities), options.val_fraction, options.seed)[data.labels]
    if (~held).sum() == 0 or len(np.unique(data.labels[~held])) < MIN_IDS_PER_SIDE:
        raise DataError(
            f"only {len(np.unique(data.labels))} identities with {MIN_CROPS_PER_ID}+ usable crops, "
            f"need at least {MIN_IDS_PER_SIDE} to train",
            "Add annotated sequences or lower --min-height / --min-visibility",
        )
    training, held_out = data.subset(~held), data.subset(held)
    train_ids, train_labels = np.unique(training.labels, return_inverse=True)
    _log(options, f"train-reid: {len(training)} crops of {len(train_ids)} identities for training, "
                  f"{len(held_out)} crops of {len(np.unique(held_out.labels))} held out, on {device}")  # fmt: skip

    model.to(device).train()
    head = IdentityHead(model.dim, len(train_ids)).to(device).train()
    sampler = PKBatchSampler(train_labels, options.batch_p, options.batch_k, seed=options.seed + SAMPLER_STREAM)
    loader = DataLoader(
        CropDataset(training.crops, train_labels), batch_sampler=sampler, num_workers=options.workers,
        pin_memory=device.startswith("cuda"),
    )  # fmt: skip
    optimiser = torch.optim.AdamW([*model.parameters(), *head.parameters()], lr=options.lr,
                                  weight_decay=options.weight_decay)  # fmt: skip
    total = options.epochs * len(sampler)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimiser, lambda step: _lr_factor(step, total))
    generator = torch.Generator(device=device)
    generator.manual_seed(options.seed + AUGMENT_STREAM)
    cross_entropy = nn.CrossEntropyLoss(label_smoothing=options.label_smoothing)

    history: list[EpochStats] = []
    best_map, best, last = -math.inf, out_dir / "best.pt", out_dir / "last.pt"
    for epoch in range(1, options.epochs + 1):
        started, losses = time.perf_counter(), []
        bar = tqdm(loader, desc=f"epoch {epoch}/{options.epochs}", unit="batch", leave=False,
                   disable=not options.progress, file=sys.stderr)  # fmt: skip
        for crops, labels in bar:
            crops, labels = crops.to(device, non_blocking=True), labels.to(device, non_blocking=True)
            features = model.head(model.backbone(augment(crops, generator))).float()
            loss = cross_entropy(head(features), labels) + batch_hard_triplet(
                F.normalize(features, dim=1), labels, options.margin
            )
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
            schedule.step()
            losses.append(float(loss.detach()))
            bar.set_postfix(loss=f"{np.mean(losses):.3f}")
        rank1 = mean_ap = None
        if len(held_out):
            rank1, mean_ap = validate(model, held_out, device)
        stats = EpochStats(epoch, float(np.mean(losses)), rank1, mean_ap, time.perf_counter() - started)
        history.append(stats)
        scores = f"  held-out rank-1 {rank1:.3f}  mAP {mean_ap:.3f}" if rank1 is not None else ""
        _log(options, f"epoch {epoch}/{options.epochs}  loss {stats.loss:.4f}{scores}  ({stats.seconds:.1f} s)")
        meta = {
            "trained_on": list(data.sequences),
            "epochs": epoch,
            "val": {"rank1": rank1, "mAP": mean_ap},
            "loss": stats.loss,
            "crop_size": [int(v) for v in options.crop_size],
            "identities": {"train": int(len(train_ids)), "held_out": int(len(np.unique(held_out.labels)))},
            "options": {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(options).items()},
        }
        _save(model, last, meta)
        if mean_ap is None or mean_ap > best_map:
            best_map = -math.inf if mean_ap is None else mean_ap
            _save(model, best, meta)
    held_ids = int(len(np.unique(held_out.labels)))
    return TrainResult(best, last, history, int(len(train_ids)), held_ids, model.eval())


def _save(model: ReIDNet, path: Path, meta: dict) -> None:
    try:
        save_checkpoint(model, path, **meta)
    except (OSError, RuntimeError) as exc:  # torch's zip writer reports an unopenable file as RuntimeError
        raise OutputError(f"cannot write checkpoint {path}: {exc}", "Give a writable --out DIR") from None


__all__ = [
    "CropSet", "EpochStats", "PKBatchSampler", "TrainOptions", "TrainResult", "augment",
    "batch_hard_triplet", "load_crops", "retrieval_metrics", "split_identities", "spread_sample", "train",
]  # fmt: skip
