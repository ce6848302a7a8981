"""``tracker detect SOURCE --out DIR``: detect (and embed) once, cache as det.txt + det.npy + det.json."""

from __future__ import annotations

import argparse
import sys

from ..detect.caching import cache_detections
from ..config import load_config
from ..io.det_cache import DET_NAME
from .common import EXIT_INTERRUPTED, add_model_options, model_overrides, positive_int

DEFAULT_OUT = "runs/detect"


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Add ``detect`` to the ``tracker`` command's subparsers."""
    p = subparsers.add_parser(
        "detect", help="run the detector and ReID embedder once and cache the detections (det.txt + det.npy)",
        description="Detect objects in every frame, embed them for re-identification, and write a MOTChallenge "
        "det.txt, the embeddings as det.npy (row i belongs to row i of det.txt) and det.json (class names). "
        "track, eval and tune reuse them with --detector mot --set detector.det_file=DIR/det.txt, "
        "running no model.",
    )  # fmt: skip
    p.add_argument("source", help="video file, MOTChallenge sequence folder, webcam index or stream URL")
    p.add_argument("--out", default=DEFAULT_OUT, metavar="DIR", help=f"cache folder (default: {DEFAULT_OUT})")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--max-frames", type=positive_int, metavar="N", help="stop after N frames (default: all)")
    p.add_argument("--vid-stride", type=positive_int, metavar="N", help="detect every Nth frame only")
    add_model_options(p)
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    overrides = model_overrides(args)
    if args.vid_stride is not None:
        overrides.append(f"source.vid_stride={args.vid_stride}")
    cfg = load_config(args.config, tracker=args.tracker, overrides=overrides)
    summary = cache_detections(args.source, args.out, cfg, progress=not args.quiet, max_frames=args.max_frames)
    state = "interrupted after" if summary.interrupted else "detected"
    embedded = f", embedded ({summary.embedding_dim}-dim)" if summary.embedding_dim else ", not embedded"
    lines = [f"{state} {summary.frames} frames: {summary.detections} detections{embedded} -> {summary.out_dir}"]
    lines += [f"  {path}" for path in summary.outputs]
    lines.append(f"reuse with: --detector mot --set detector.det_file={summary.out_dir / DET_NAME}")
    print("\n".join(lines), file=sys.stderr)
    return EXIT_INTERRUPTED if summary.interrupted else 0
