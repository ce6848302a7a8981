"""``tracker track SOURCE``: track a video file, image folder, webcam or stream into an output folder."""

from __future__ import annotations

import argparse
import json
import sys

from .. import pipeline
from ..config import load_config
from ..errors import ConfigError
from ..analyze.counting import format_report
from ..io.serve import parse_address
from .common import (
    EXAMPLES, EXIT_INTERRUPTED, add_model_options, counting_line, counting_overrides, counting_zone, model_overrides,
    positive_int,
)


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Add ``track`` to the ``tracker`` command's subparsers."""
    p = subparsers.add_parser(
        "track", help="track a video file, image folder, webcam or stream",
        description="Track objects and write annotated.mp4, tracks.csv, tracks.txt (MOTChallenge) and config.yaml.",
        epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("source", help="video file, MOTChallenge sequence folder, webcam index (0) or rtsp/http URL")
    p.add_argument("--out", default="runs/track", metavar="DIR", help="output folder (default: runs/track)")
    p.add_argument("--show", action="store_true", help="show a live window (q or Esc stops)")
    p.add_argument("--no-video", action="store_true", help="do not write annotated.mp4")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--max-frames", type=positive_int, metavar="N", help="stop after N frames (default: all)")
    p.add_argument(
        "--vid-stride", type=positive_int, metavar="N",
        help="process every Nth frame only; times and tracker steps still cover the skipped frames "
        "(same as --set source.vid_stride=N)",
    )
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
    p.add_argument(
        "--serve", type=serve_address, metavar="[HOST:]PORT",
        help="serve the annotated video and live counts to a browser at http://HOST:PORT/ (HOST defaults to "
        "127.0.0.1: this machine only; any other address, e.g. 0.0.0.0:8080, needs a token: --serve-token or "
        "a generated one, printed with the URL)",
    )
    p.add_argument("--serve-token", metavar="TOKEN", help="token the --serve page and stream require (8+ characters)")
    p.add_argument(
        "--save-crops", action="store_true",
        help="save JPEG crops of the tracked objects into OUT/crops/<track_id>/<frame>.jpg, at most "
        "output.crops_per_track per track, output.crops_interval_s apart (same as --set output.save_crops=true)",
    )
    p.add_argument(
        "--line", type=counting_line, action="append", default=[], metavar="[NAME=]X1,Y1,X2,Y2",
        help="count crossings of this line (pixels; 'in' = from its left to its right going from the first "
        "point to the second), e.g. --line door=100,400,600,400; repeatable; replaces counting.lines",
    )
    p.add_argument(
        "--zone", type=counting_zone, action="append", default=[], metavar="[NAME=]X1,Y1,X2,Y2,X3,Y3,...",
        help="count tracks inside this polygon (pixels), e.g. --zone queue=0,0,200,0,200,150; repeatable; "
        "replaces counting.zones",
    )
    add_model_options(p)
    p.set_defaults(func=run)
    return p


def serve_address(text: str) -> tuple[str, int]:
    """``--serve [HOST:]PORT`` -> (host, port)."""
    try:
        return parse_address(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def run(args: argparse.Namespace) -> int:
    overrides = model_overrides(args) + counting_overrides(args.line, args.zone)
    if args.show:
        overrides.append("output.show=true")
    if args.no_video:
        overrides.append("output.video=false")
    if args.serve is not None:
        host, port = args.serve
        overrides += [f"serve.host={json.dumps(host)}", f"serve.port={port}"]
    if args.serve_token is not None:
        overrides.append(f"serve.token={json.dumps(args.serve_token)}")
    if args.save_crops:
        overrides.append("output.save_crops=true")
    if args.vid_stride is not None:
        overrides.append(f"source.vid_stride={args.vid_stride}")
    cfg = load_config(args.config, tracker=args.tracker, overrides=overrides)
    if args.blur is not None and not (cfg.output.video or cfg.output.show or cfg.serve.port is not None):
        raise ConfigError(
            "--blur has nothing to blur: the video is off (--no-video or output.video=false) and there is no window",
            "Drop --no-video or add --show",
        )
    if cfg.serve.token is not None and cfg.serve.port is None:
        raise ConfigError("--serve-token without --serve", "Add --serve PORT, or drop --serve-token")
    summary = pipeline.run(args.source, args.out, cfg, progress=not args.quiet, max_frames=args.max_frames)
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
    if summary.counts:
        lines += [f"  {line}" for line in format_report(summary.counts)]
    lines += [f"  {path}" for path in summary.outputs]
    return "\n".join(lines)
