"""``tracker batch SOURCES... --out DIR``: many sources (and long files in parallel parts) on Ray workers."""

from __future__ import annotations

import argparse
import sys

from .common import (
    EXAMPLES, EXIT_INTERRUPTED, EXIT_SOME_FAILED, add_model_options, add_scale_options, execution, run_config,
)

DEFAULT_OUT = "runs/batch"


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Add ``batch`` to the ``tracker`` command's subparsers."""
    p = subparsers.add_parser(
        "batch", help="track many videos (and long videos in parallel parts) on Ray workers",
        description="Track every source into OUT/<name>/ with the usual outputs and a row per source in "
        "OUT/batch.csv (source, status, frames, tracks, fps, seconds, error). A failed source is reported and "
        "the others go on; a re-run skips the sources already done. Runs on a local Ray instance by default, "
        "or on a cluster (--ray-address), where OUT must be a shared filesystem; without Ray installed, "
        "one source after another in this process.",
        epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    p.add_argument("sources", nargs="+", help="video files, image folders, globs ('videos/*.mp4'), .txt source lists")
    p.add_argument("--out", default=DEFAULT_OUT, metavar="DIR", help=f"output folder (default: {DEFAULT_OUT})")
    p.add_argument("--force", action="store_true", help="redo the sources an earlier run finished")
    p.add_argument("--no-video", action="store_true", help="do not write annotated.mp4")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--smooth", action=argparse.BooleanOptionalAction, default=None,
                   help="smooth each source's tracks after its run, as track does (the default; --no-smooth: off)")
    p.add_argument("--blur", metavar="LIST", help="blur these classes in the videos, as track --blur")
    add_scale_options(p)
    add_model_options(p)
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    from ..scale.batch import format_batch, run_batch

    cfg = run_config(args)
    result = run_batch(args.sources, args.out, cfg, chunks=args.chunks, force=args.force, **execution(args))
    print(format_batch(result, args.out), file=sys.stderr)
    if result.interrupted:
        return EXIT_INTERRUPTED
    return EXIT_SOME_FAILED if result.failed else 0
