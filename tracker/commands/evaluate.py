"""``tracker eval SEQ...``: run a tracker over MOTChallenge sequences and score it with TrackEval."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..analyze.compare import evaluate_trackers
from ..analyze.evaluation import METRIC_KEYS, evaluate_sequences, format_table
from ..config import load_config, overrides_for_tracker
from .common import add_model_options, log_line, model_overrides


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Add ``eval`` to the ``tracker`` command's subparsers."""
    e = subparsers.add_parser(
        "eval", help="score trackers on MOTChallenge sequences with TrackEval (HOTA, MOTA, IDF1)",
        description="Run a tracker over MOTChallenge-format sequences and score it with TrackEval.",
    )
    e.add_argument("sequences", nargs="+", help="sequence folders (img1/ or a video beside gt/gt.txt and seqinfo.ini)")
    e.add_argument("--video", metavar="PATH", help="read frames from this video instead of img1/ (one sequence)")
    e.add_argument("--out", default="runs/eval", metavar="DIR", help="where tracker outputs and the summary go")
    e.add_argument(
        "--smooth", action=argparse.BooleanOptionalAction, default=None,
        help="also score the tracks after smoothing (gap filling + RTS), as track writes them: a raw and a "
        "smoothed row per sequence (the default; --no-smooth: the raw row only)",
    )
    add_model_options(e, several_trackers=True)
    e.set_defaults(func=run)
    return e


def run(args: argparse.Namespace) -> int:
    names = args.tracker or [None]
    overrides = model_overrides(args)
    cfgs = [load_config(args.config, tracker=n, overrides=overrides_for_tracker(overrides, n, names)) for n in names]
    cfg = cfgs[0]
    if len(cfgs) > 1:  # detections computed once, shared by the trackers; one table
        rows = evaluate_trackers(args.sequences, cfgs, out_dir=Path(args.out), video=args.video, log_line=log_line)
    else:
        rows = evaluate_sequences(args.sequences, cfg, out_dir=Path(args.out), video=args.video)
    if cfg.smoothing.enabled:  # a raw and a smoothed row per sequence
        print(format_table(rows, ("sequence", "tracker", "output") + METRIC_KEYS))
    else:
        print(format_table(rows))
    return 0
