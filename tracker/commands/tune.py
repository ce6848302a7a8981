"""``tracker tune``: search a tracker's thresholds for the best HOTA on MOTChallenge sequences (Optuna).

The search itself is :mod:`tracker.analyze.tuning`; optuna is imported when it starts.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ..analyze.tuning import best_yaml, cross_validate, cv_mean, format_folds, prepare, scored, tune
from ..config import load_config
from ..errors import ConfigError
from ..io.files import write_atomically
from .common import add_model_options, log_line, model_overrides

DEFAULT_TRIALS = 50
DEFAULT_OUT = "runs/tune/best.yaml"


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Add ``tune`` to the ``tracker`` command's subparsers."""
    p = subparsers.add_parser(
        "tune", help="search a tracker's thresholds for the best HOTA on MOTChallenge sequences (Optuna)",
        description="Detect once per sequence, then run Optuna trials of the tracker alone, scored by TrackEval "
                    "HOTA, and write the best tracker: section as a YAML for --config.",
    )
    p.add_argument("sequences", nargs="+", help="sequence folders with gt/gt.txt (img1/ or a video beside them)")
    p.add_argument("--video", metavar="PATH", help="read frames from this video instead of img1/ (one sequence)")
    p.add_argument("--trials", type=int, default=DEFAULT_TRIALS, metavar="N",
                   help=f"number of trials (default {DEFAULT_TRIALS}); the first is the starting config")
    p.add_argument("--out", default=DEFAULT_OUT, metavar="YAML",
                   help=f"where the best config goes (default {DEFAULT_OUT})")
    p.add_argument("--seed", type=int, default=0, help="sampler seed (default 0): same seed, same trials")
    p.add_argument("--timeout", type=float, default=None, metavar="SECONDS",
                   help="stop starting new trials after this long (per search)")
    p.add_argument("--cv", action="store_true",
                   help="first tune leave-one-sequence-out (on all sequences but one, scored on that one) and print "
                        "the folds: their mean is what to expect on unseen video; then tune on all of them")
    p.add_argument("--smooth", action=argparse.BooleanOptionalAction, default=None,
                   help="score the tracks after gap filling and smoothing, as track writes its tracks files (the "
                        "default; --no-smooth: score the live tracks)")
    add_model_options(p)
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    """Run ``tracker tune``; returns the exit code."""
    if args.trials < 1:
        raise ConfigError(f"--trials must be at least 1, got {args.trials}", "Pass e.g. --trials 50")
    if args.timeout is not None and args.timeout <= 0:
        raise ConfigError(f"--timeout must be positive, got {args.timeout}", "Pass seconds, e.g. --timeout 600")
    cfg = load_config(args.config, tracker=args.tracker, overrides=model_overrides(args))
    out = Path(args.out)

    prepared = prepare(args.sequences, cfg, video=args.video, log=log_line)
    log_line(f"scoring HOTA {scored(cfg)}")
    folds = None
    if args.cv:
        folds = cross_validate(cfg, prepared, args.trials, seed=args.seed, timeout=args.timeout, log=log_line)
        print(f"leave-one-sequence-out ({args.trials} trials per fold): held-out HOTA {cv_mean(folds):.2f}")
        print(format_folds(folds))
    result = tune(cfg, prepared, args.trials, seed=args.seed, timeout=args.timeout, log=log_line)
    write_atomically(out, best_yaml(result, prepared, args.seed, folds))
    print(f"best HOTA {result.hota:.2f} (trial {result.best_trial} of {result.trials}; "
          f"starting config {result.start_hota:.2f}) -> {out}")
    return 0
