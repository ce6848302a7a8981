"""``tracker train-reid``: fine-tune the ResNet ReID embedder on MOTChallenge ground truth.

Building this parser (``tracker --help``) imports no torch: the defaults come from
:class:`~tracker.detect.appearance.training_options.TrainOptions`, and the training code
(:mod:`tracker.detect.appearance.training`) is imported when the command runs.
"""

from __future__ import annotations

import argparse
from dataclasses import fields

from ..detect.appearance.training_options import TrainOptions
from ..errors import ConfigError
from ..io.mot import find_sequence

_DEFAULTS = {f.name: f.default for f in fields(TrainOptions) if f.name != "init"}


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Register ``train-reid`` on an ``argparse`` subparsers object; returns its parser."""
    d = _DEFAULTS
    p = subparsers.add_parser(
        "train-reid", help="fine-tune the ResNet appearance embedder on MOTChallenge ground truth",
        description="Train a ResNet re-identification embedder on annotated sequences (gt/gt.txt + img1/ or a "
        "video) and write best.pt / last.pt, which tracker track / eval / tune load with --appearance-weights PATH.",
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
    p.set_defaults(func=run)
    return p


def options_from_args(args: argparse.Namespace) -> TrainOptions:
    names = {f.name for f in fields(TrainOptions)} - {"progress", "crop_size"}
    values = {name: getattr(args, name) for name in names}
    return TrainOptions(**values, crop_size=(args.crop_size[0], args.crop_size[1]), progress=not args.quiet)


def run(args: argparse.Namespace) -> int:
    """``tracker train-reid``: train, then print the settings that load the best checkpoint."""
    from ..detect.appearance.training import train  # torch: imported only when the command runs

    if args.video is not None and len(args.sequences) != 1:
        raise ConfigError("--video applies to one sequence", "Give one sequence folder with --video")
    options = options_from_args(args)
    sequences = [find_sequence(path, args.video) for path in args.sequences]
    result = train(sequences, options, args.out)
    print(f"best checkpoint: {result.best}")
    # the checkpoint records its architecture, embedding size and crop size: the one option sets them all
    print(f"use it with: --appearance-weights {result.best}")
    return 0
