"""``tracker track SOURCE``: track a video file, image folder, webcam or stream into an output folder."""

from __future__ import annotations

import argparse
import sys

from .. import pipeline
from ..config import load_config
from ..errors import ConfigError
from ..run_folder import DEFAULT_RUNS, next_run_folder
from .common import EXAMPLES, EXIT_INTERRUPTED, add_model_options, model_overrides, positive_int


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Add ``track`` to the ``tracker`` command's subparsers."""
    p = subparsers.add_parser(
        "track", help="track a video file, image folder, webcam or stream",
        description="Track objects and write annotated.mp4, tracks.csv, tracks.txt (MOTChallenge) and config.yaml.",
        epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("source", help="video file, MOTChallenge sequence folder, webcam index (0) or rtsp/http URL")
    p.add_argument(
        "--out", metavar="DIR",
        help="output folder; an earlier run's files in it are replaced, other files kept "
        "(default: a new folder runs/track, runs/track2, ...)",
    )
    p.add_argument("--show", action="store_true", help="show a live window (q or Esc stops)")
    p.add_argument("--no-video", action="store_true", help="do not write annotated.mp4")
    p.add_argument(
        "--codec", metavar="NAME",
        help="video codec: h264 (default: MP4 that browsers and phones play) or an OpenCV fourcc such as "
        "mp4v or MJPG (annotated.avi); same as --set output.codec=NAME",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--max-frames", type=positive_int, metavar="N", help="stop after N frames (default: all)")
    p.add_argument(
        "--smooth", action="store_true",
        help="after the run, fill short gaps and RTS-smooth every track in tracks.csv / tracks.txt, keeping "
        "the originals as tracks.raw.* (same as --set smoothing.enabled=true)",
    )
    p.add_argument(
        "--blur", metavar="LIST",
        help="blur these classes' boxes in the video and window for privacy, e.g. person or person,car "
        "(same as --set output.blur_classes=[person,car])",
    )
    add_model_options(p)
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    overrides = model_overrides(args)
    if args.show:
        overrides.append("output.show=true")
    if args.no_video:
        overrides.append("output.video=false")
    if args.codec is not None:
        overrides.append(f"output.codec={args.codec}")
    cfg = load_config(args.config, tracker=args.tracker, overrides=overrides)
    if args.blur is not None and not (cfg.output.video or cfg.output.show):
        raise ConfigError(
            "--blur has nothing to blur: the video is off (--no-video or output.video=false) and there is no window",
            "Drop --no-video or add --show",
        )
    out = next_run_folder(DEFAULT_RUNS / "track") if args.out is None else args.out
    summary = pipeline.run(args.source, out, cfg, progress=not args.quiet, max_frames=args.max_frames)
    print(format_summary(summary), file=sys.stderr)
    return EXIT_INTERRUPTED if summary.interrupted else 0


def _count(n: int, singular: str, plural: str | None = None) -> str:
    return f"{n} {singular if n == 1 else plural or singular + 's'}"


def format_summary(summary) -> str:
    """The lines printed after a run: counts, what was skipped or dropped, and the output files."""
    state = "interrupted after" if summary.interrupted else "tracked"
    counts = f"{_count(summary.frames, 'frame')}, {_count(summary.tracks, 'track')}"
    lines = [f"{state} {counts}, {summary.fps:.1f} fps -> {summary.out_dir}"]
    stats = summary.source_stats
    lines.append(
        f"  skipped {_count(stats.get('failed_reads', 0), 'undecodable frame')}, "
        f"dropped {_count(summary.invalid_detections, 'invalid detection')} (NaN, infinite or empty boxes)"
    )
    if summary.is_live:
        lines.append(
            f"  live source: {_count(stats.get('dropped_frames', 0), 'stale frame')} skipped to keep up, "
            f"{_count(stats.get('outages', 0), 'outage')}, {_count(stats.get('reconnects', 0), 'reconnect')}"
        )
    smoothing = summary.smoothing
    if smoothing is not None:
        lines.append(
            f"  smoothed {_count(smoothing['tracks'], 'track')} ({smoothing['fps']:g} fps): "
            f"filled {_count(smoothing['filled'], 'gap box', 'gap boxes')}, "
            f"RTS-smoothed {_count(smoothing['rows_out'], 'box', 'boxes')}; "
            f"originals in {', '.join(p.name for p in smoothing['raw'])}"
        )
    lines += [f"  {path}" for path in summary.outputs]
    return "\n".join(lines)
