"""``tracker plot RUN``: PNG charts of a finished run (drawn by :mod:`tracker.analyze.plots`)."""

from __future__ import annotations

import argparse
import sys

from ..analyze.plots import make_plots


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Add the ``plot`` command to the CLI's subparsers; dispatch it to :func:`run`."""
    p = subparsers.add_parser(
        "plot", help="draw PNG charts of a finished run (trajectories, timeline, active tracks, counts)",
        description="Draw trajectories over the source's first frame, a track timeline, active tracks per frame "
        "and (with counting) line crossings and zone occupancy, as PNG files.",
    )
    p.add_argument("run", help="the --out folder of a `tracker track` run")
    p.add_argument("--out", metavar="DIR", help="where the PNGs go (default: RUN/plots)")
    p.add_argument("--source", metavar="PATH", help="video or image folder for the background (default: from run.json)")
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    """The ``plot`` command: draw the charts and list them on stderr."""
    paths = make_plots(args.run, args.out, args.source)
    print(f"plotted {len(paths)} charts:", file=sys.stderr)
    for path in paths:
        print(f"  {path}", file=sys.stderr)
    return 0
