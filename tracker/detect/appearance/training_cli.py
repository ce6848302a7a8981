"""The ``tracker train-reid`` command line and its options, importable without torch.

``tracker --help`` builds every subcommand's parser, so this module holds what that
needs (:class:`TrainOptions` for the defaults, :func:`add_parser`) and imports the
training code itself (:mod:`tracker.training`, which needs torch) only when the command
runs. :mod:`tracker.training` re-exports everything here.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, fields

from ...errors import ConfigError

MIN_CROPS_PER_ID = 2  # an identity needs a positive pair: fewer usable crops and it is dropped
MIN_IDS_PER_SIDE = 2  # training needs negatives in a batch and validation needs distractors


@dataclass
class TrainOptions:
    """Hyper-parameters of ``tracker train-reid`` (CLI arguments, not tracking config); defaults documented inline."""

    init: str  # "random" (He init) or a torchvision / torchreid / tracker-reid-v1 checkpoint to start from
    arch: str = "resnet18"  # resnet18 | resnet34 | resnet50 | tracker_resnet34 (appearance.arch)
    embedding_dim: int = 128  # linear projection after pooling; 0 keeps the backbone width (appearance.embedding_dim)
    crop_size: tuple[int, int] = (256, 128)  # (height, width) of crops; appearance.crop_size must match
    epochs: int = 30
    batch_p: int = 8  # identities per batch (fewer when fewer are available for training)
    batch_k: int = 4  # crops per identity per batch
    lr: float = 3.5e-4  # AdamW peak learning rate (linear warm-up, then cosine decay to 0)
    weight_decay: float = 5e-4  # AdamW decoupled weight decay
    margin: float = 0.3  # batch-hard triplet margin on Euclidean distances of unit vectors (0..2)
    label_smoothing: float = 0.1  # cross-entropy label smoothing of the identity classifier
    val_fraction: float = 0.25  # share of identities held out for validation; 0 turns validation off
    max_crops_per_id: int = 32  # crops kept per identity, spread evenly over its lifetime
    min_visibility: float = 0.3  # MOT16/17 gt: skip boxes less visible than this (MOT15 gt has no visibility)
    min_height: float = 32.0  # skip boxes shorter than this many pixels
    device: str = "auto"  # auto | cpu | cuda | cuda:N
    seed: int = 0  # identity split, initial weights, batch sampling and augmentation
    workers: int = 0  # DataLoader worker processes assembling batches (0: in the main process)
    progress: bool = True  # tqdm progress bar and per-epoch lines on stderr

    def check(self) -> None:
        """ConfigError naming the first out-of-range option."""
        rules = [
            ("epochs", self.epochs >= 1, ">= 1"),
            ("batch_p", self.batch_p >= MIN_IDS_PER_SIDE, f">= {MIN_IDS_PER_SIDE}"),
            ("batch_k", self.batch_k >= MIN_CROPS_PER_ID, f">= {MIN_CROPS_PER_ID}"),
            ("lr", self.lr > 0, "> 0"),
            ("weight_decay", self.weight_decay >= 0, ">= 0"),
            ("margin", self.margin >= 0, ">= 0"),
            ("label_smoothing", 0 <= self.label_smoothing < 1, "in [0, 1)"),
            ("val_fraction", 0 <= self.val_fraction < 1, "in [0, 1)"),
            ("max_crops_per_id", self.max_crops_per_id >= MIN_CROPS_PER_ID, f">= {MIN_CROPS_PER_ID}"),
            ("min_visibility", 0 <= self.min_visibility <= 1, "in [0, 1]"),
            ("min_height", self.min_height >= 0, ">= 0"),
            ("embedding_dim", self.embedding_dim >= 0, ">= 0"),
            ("crop_size", len(self.crop_size) == 2 and min(self.crop_size) >= 1, "two positive integers H W"),
            ("workers", self.workers >= 0, ">= 0"),
        ]
        for name, ok, want in rules:
            if not ok:
                flag = "--" + name.replace("_", "-")
                raise ConfigError(f"{flag} {getattr(self, name)!r} is out of range", f"Give {flag} {want}")


# --- command line ---------------------------------------------------------------------------------------

_DEFAULTS = {f.name: f.default for f in fields(TrainOptions) if f.name != "init"}


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Register ``train-reid`` on an ``argparse`` subparsers object; returns its parser."""
    d = _DEFAULTS
    p = subparsers.add_parser(
        "train-reid", help="fine-tune the ResNet appearance embedder on MOTChallenge ground truth",
        description="Train a ResNet re-identification embedder on annotated sequences (gt/gt.txt + img1/ or a "
        "video) and write best.pt / last.pt for --set appearance.name=resnet --set appearance.weights=PATH.",
    )  # fmt: skip
    p.add_argument("sequences", nargs="+", help="MOTChallenge sequence folders (gt/gt.txt + img1/ or a video)")
    p.add_argument("--video", metavar="PATH", help="read frames from this video instead (one sequence)")
    p.add_argument("--out", default="runs/reid", metavar="DIR", help="folder for best.pt, last.pt")
    p.add_argument("--init", required=True, metavar="PATH|random",
                   help="start from a torchvision / torchreid / tracker-reid-v1 checkpoint, or 'random'")  # fmt: skip
    p.add_argument("--arch", default=d["arch"], choices=["resnet18", "resnet34", "resnet50", "tracker_resnet34"])
    p.add_argument("--embedding-dim", type=int, default=d["embedding_dim"], metavar="N",
                   help=f"projection size, 0 keeps the backbone width (default {d['embedding_dim']})")  # fmt: skip
    p.add_argument("--epochs", type=int, default=d["epochs"], metavar="N")
    p.add_argument("--batch-p", type=int, default=d["batch_p"], metavar="P", help="identities per batch")
    p.add_argument("--batch-k", type=int, default=d["batch_k"], metavar="K", help="crops per identity per batch")
    p.add_argument("--lr", type=float, default=d["lr"], metavar="X", help="AdamW peak learning rate")
    p.add_argument("--weight-decay", type=float, default=d["weight_decay"], metavar="X")
    p.add_argument("--margin", type=float, default=d["margin"], metavar="X", help="triplet margin")
    p.add_argument("--label-smoothing", type=float, default=d["label_smoothing"], metavar="X")
    p.add_argument("--crop-size", type=int, nargs=2, default=list(d["crop_size"]), metavar=("H", "W"))
    p.add_argument("--device", default=d["device"], metavar="DEV", help="auto | cpu | cuda | cuda:N")
    p.add_argument("--seed", type=int, default=d["seed"])
    p.add_argument("--val-fraction", type=float, default=d["val_fraction"], metavar="X",
                   help="share of identities held out for validation (0: none)")  # fmt: skip
    p.add_argument("--max-crops-per-id", type=int, default=d["max_crops_per_id"], metavar="N")
    p.add_argument("--min-visibility", type=float, default=d["min_visibility"], metavar="X")
    p.add_argument("--min-height", type=float, default=d["min_height"], metavar="PX")
    p.add_argument("--workers", type=int, default=d["workers"], metavar="N", help="DataLoader worker processes")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    return p


def options_from_args(args: argparse.Namespace) -> TrainOptions:
    names = {f.name for f in fields(TrainOptions)} - {"progress", "crop_size"}
    values = {name: getattr(args, name) for name in names}
    return TrainOptions(**values, crop_size=(args.crop_size[0], args.crop_size[1]), progress=not args.quiet)


def run(args: argparse.Namespace) -> int:
    """``tracker train-reid``: train, then print the settings that load the best checkpoint."""
    from ...analyze.evaluation import find_sequence
    from .training import train  # torch: imported only when the command runs

    if args.video is not None and len(args.sequences) != 1:
        raise ConfigError("--video applies to one sequence", "Give one sequence folder with --video")
    options = options_from_args(args)
    sequences = [find_sequence(path, args.video) for path in args.sequences]
    result = train(sequences, options, args.out)
    h, w = options.crop_size
    print(f"best checkpoint: {result.best}")
    print(
        f"use it with: --set appearance.name=resnet --set appearance.weights={result.best} "
        f"--set appearance.arch={options.arch} --set appearance.embedding_dim={options.embedding_dim} "
        f"--set 'appearance.crop_size=[{h}, {w}]'"
    )
    return 0
