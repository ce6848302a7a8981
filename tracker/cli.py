"""The ``tracker`` command line.

Every user mistake ends in one line ``error: <problem>. <fix>`` and the exit code
of its :class:`~tracker.errors.TrackerError` class; a bug ends in one line
``error: internal error: ...`` and exit code 1; ``--debug`` shows tracebacks. Outputs
are finalised in every case, and Ctrl-C or SIGTERM stop a run cleanly with exit code 130.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path

from .errors import ConfigError, TrackerError

EXIT_INTERRUPTED = 130  # the shell convention for a run stopped by SIGINT (SIGTERM is treated the same)
EXIT_INTERNAL = 1  # an unexpected exception: a bug
# Without --debug, OpenCV's and FFmpeg's own stderr messages are silenced so that a failure
# reads as our single error line; variables the user set win.
QUIET_NATIVE_LOGS = {"OPENCV_LOG_LEVEL": "SILENT", "OPENCV_FFMPEG_LOGLEVEL": "-8"}  # -8: FFmpeg's AV_LOG_QUIET

EXAMPLES = """examples:
  tracker track samples/pets09_s2l1_150.mp4 --out runs/demo
  tracker track 0 --show                                  # webcam 0, live window
  tracker track rtsp://camera/stream --out runs/cam --tracker bytetrack
  tracker track video.mp4 --detector yolo --weights yolo11n.pt --classes person,car
  tracker track MOT17-04-FRCNN/ --detector mot --set tracker.max_age=60
  tracker track video.mp4 --max-frames 100 --no-video     # a quick look at the first 100 frames
  tracker track video.mp4 --out runs/x --smooth           # then fill short gaps and RTS-smooth each track
  tracker track video.mp4 --blur person                   # pixelate people in the video (privacy)
  tracker plot runs/x                                     # trajectories, timeline, active tracks -> runs/x/plots/
  tracker eval ../shared/data/MOT15/TUD-Campus --tracker botsort --smooth
  tracker tune samples/pets09_s2l1_150 --tracker bytetrack --trials 50 --out runs/tune/best.yaml
  tracker train-reid MOT17-02-FRCNN/ MOT17-04-FRCNN/ --init random --out runs/reid

Ctrl-C (or SIGTERM) stops a run cleanly: the outputs keep every frame processed so far.
exit codes: 0 done, 1 internal error, 2 config, 3 source, 4 model, 5 output, 6 data, 130 interrupted
"""


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose usage errors are one ``error:`` line with ConfigError's exit code."""

    def error(self, message: str):
        self.exit(ConfigError.exit_code, f"error: {message}. Run '{self.prog} --help' for usage\n")


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is less than 1")
    return value


def _common_model_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", metavar="YAML", help="YAML merged over configs/default.yaml")
    p.add_argument("--tracker", choices=["sort", "deepsort", "bytetrack", "botsort"], help="tracker (default: botsort)")
    p.add_argument("--detector", choices=["yolox", "yolo", "mot", "torchvision"], help="detector (default: yolox, offline)")
    p.add_argument("--weights", metavar="PATH", help="detector weights file (yolo: e.g. yolo11n.pt)")
    p.add_argument("--classes", metavar="LIST", help="comma-separated class names or ids to keep, e.g. person,car")
    p.add_argument("--conf", type=float, metavar="X", help="detection confidence threshold (0-1)")
    p.add_argument("--appearance", choices=["osnet", "resnet", "none"], help="appearance model for ReID")
    p.add_argument("--device", metavar="DEV", help="auto | cpu | cuda | cuda:N for detector and appearance")
    p.add_argument(
        "--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
        help="override any config value, e.g. --set tracker.max_age=60 (repeatable)",
    )


def _overrides(args: argparse.Namespace) -> list[str]:
    out = []
    if args.detector:
        out.append(f"detector.name={args.detector}")
    if args.weights:
        out.append(f"detector.weights={args.weights}")
    if args.classes:
        items = [c.strip() for c in args.classes.split(",") if c.strip()]
        out.append("detector.classes=[" + ", ".join(f"'{c}'" if not c.isdigit() else c for c in items) + "]")
    if args.conf is not None:
        out.append(f"detector.conf_threshold={args.conf}")
    if args.appearance:
        out.append(f"appearance.name={args.appearance}")
    if args.device:
        out += [f"detector.device={args.device}", f"appearance.device={args.device}"]
    if getattr(args, "smooth", False):  # track and eval
        out.append("smoothing.enabled=true")
    if getattr(args, "blur", None) is not None:  # track
        out.append("output.blur_classes=" + json.dumps(_names(args.blur, "--blur", "--blur person,car")))
    return out + list(args.overrides)


def _names(text: str, option: str, example: str) -> list[str]:
    """The items of a comma-separated list option; none is a ConfigError."""
    items = [c.strip() for c in text.split(",") if c.strip()]
    if not items:
        raise ConfigError(f"{option} needs at least one class name, got {text!r}", f"Pass e.g. {example}")
    return items


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="tracker",
        description="Track objects in video: detect, embed, associate, and write annotated video + CSV + MOT files.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--debug", action="store_true", help="show full tracebacks and debug logs")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser(
        "track", help="track a video file, image folder, webcam or stream",
        description="Track objects and write annotated.mp4, tracks.csv, tracks.txt (MOTChallenge) and config.yaml.",
        epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("source", help="video file, MOTChallenge sequence folder, webcam index (0) or rtsp/http URL")
    p.add_argument("--out", default="runs/track", metavar="DIR", help="output folder (default: runs/track)")
    p.add_argument("--show", action="store_true", help="show a live window (q or Esc stops)")
    p.add_argument("--no-video", action="store_true", help="do not write annotated.mp4")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--max-frames", type=_positive_int, metavar="N", help="stop after N frames (default: all)")
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
    _common_model_args(p)

    e = sub.add_parser(
        "eval", help="score trackers on MOTChallenge sequences with TrackEval (HOTA, MOTA, IDF1)",
        description="Run a tracker over MOTChallenge-format sequences and score it with TrackEval.",
    )
    e.add_argument("sequences", nargs="+", help="sequence folders (img1/ or a video beside gt/gt.txt and seqinfo.ini)")
    e.add_argument("--video", metavar="PATH", help="read frames from this video instead of img1/ (one sequence)")
    e.add_argument("--out", default="runs/eval", metavar="DIR", help="where tracker outputs and the summary go")
    e.add_argument(
        "--smooth", action="store_true",
        help="also score the tracks after smoothing (gap filling + RTS): a raw and a smoothed row per sequence",
    )
    _common_model_args(e)

    # Each module adds its own command; none imports torch, matplotlib or optuna until its command runs.
    from .analyze import plots, tuning
    from .detect.appearance import training_cli

    plots.add_parser(sub)
    tuning.add_parser(sub)
    training_cli.add_parser(sub)
    return parser


def _cmd_track(args: argparse.Namespace) -> int:
    from .pipeline import run

    overrides = _overrides(args)
    if args.show:
        overrides.append("output.show=true")
    if args.no_video:
        overrides.append("output.video=false")
    from .config import load_config

    cfg = load_config(args.config, tracker=args.tracker, overrides=overrides)
    if args.blur is not None and not (cfg.output.video or cfg.output.show):
        raise ConfigError(
            "--blur has nothing to blur: the video is off (--no-video or output.video=false) and there is no window",
            "Drop --no-video or add --show",
        )
    summary = run(args.source, args.out, cfg, progress=not args.quiet, max_frames=args.max_frames)
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


def _cmd_eval(args: argparse.Namespace) -> int:
    from .config import load_config
    from .analyze.evaluation import METRIC_KEYS, evaluate_sequences, format_table

    cfg = load_config(args.config, tracker=args.tracker, overrides=_overrides(args))
    rows = evaluate_sequences(args.sequences, cfg, out_dir=Path(args.out), video=args.video)
    if cfg.smoothing.enabled:  # a raw and a smoothed row per sequence
        print(format_table(rows, ("sequence", "tracker", "output") + METRIC_KEYS))
    else:
        print(format_table(rows))
    return 0


def _cmd_plot(args: argparse.Namespace) -> int:
    from .analyze.plots import run

    return run(args)


def _cmd_tune(args: argparse.Namespace) -> int:
    from .analyze.tuning import run

    return run(args)


def _cmd_train_reid(args: argparse.Namespace) -> int:
    from .detect.appearance.training_cli import run

    return run(args)


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _quiet_native_logs() -> None:
    """Set QUIET_NATIVE_LOGS where the user did not. OpenCV reads its variable when it is imported,
    which building the parser has already done (``tracker plot`` draws with it), so its level is set
    directly as well; FFmpeg's is read when OpenCV first opens a file or stream."""
    for name, value in QUIET_NATIVE_LOGS.items():
        os.environ.setdefault(name, value)
    if os.environ["OPENCV_LOG_LEVEL"] == QUIET_NATIVE_LOGS["OPENCV_LOG_LEVEL"]:
        import cv2

        cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.debug else logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
    )
    if not args.debug:
        _quiet_native_logs()
    if args.command is None:
        parser.print_help()
        return ConfigError.exit_code
    commands = {
        "track": _cmd_track, "eval": _cmd_eval, "plot": _cmd_plot, "tune": _cmd_tune, "train-reid": _cmd_train_reid,
    }
    try:
        return commands[args.command](args)
    except TrackerError as exc:
        if args.debug:
            raise
        print(f"error: {_one_line(exc)}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        if args.debug:
            raise
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as exc:  # a bug: report it in one line; the outputs were already finalised
        if args.debug:
            raise
        detail = f"{type(exc).__name__}: {_one_line(exc)}" if str(exc).strip() else type(exc).__name__
        print(f"error: internal error: {detail} (run with --debug for the traceback)", file=sys.stderr)
        return EXIT_INTERNAL


if __name__ == "__main__":
    sys.exit(main())
