"""What the commands share: the model and config options, the overrides they make, exit codes, argument types."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ..config import DETECTORS, EMBEDDERS, TRACKERS
from ..detect.appearance import ONNX_SUFFIX
from ..errors import ConfigError

EXIT_INTERRUPTED = 130  # the shell convention for a run stopped by SIGINT (SIGTERM is treated the same)
# The source failed mid-run (a truncated or corrupt file, a stream that did not come back): the outputs are
# complete and valid up to the last frame written. Distinct from 3, a source that could not be read at all.
EXIT_ENDED_EARLY = 7
# 8 is ClusterError's (tracker.errors): a Ray cluster that cannot be reached or cannot run the workers asked for.
EXIT_SOME_FAILED = 9  # `tracker batch` / `track --sources` ran, but at least one source failed (batch.csv says which)

EXAMPLES = """examples:
  tracker track samples/pets09_s2l1_150.mp4 --out runs/demo
  tracker track 0 --show                                  # webcam 0, live window
  tracker track rtsp://camera/stream --out runs/cam --tracker bytetrack
  tracker track video.mp4 --detector yolo --weights yolo11n.pt --classes person,car
  tracker track video.mp4 --weights best.pt --classes all # Ultralytics .pt: the detector is picked from the file
  tracker track video.mp4 --config runs/x/config.yaml --tracker sort   # a saved run's settings, another tracker
  tracker track video.mp4 --appearance-weights runs/reid/best.pt      # a train-reid checkpoint
  tracker track MOT17-04-FRCNN/ --detector mot --set tracker.max_age=60
  tracker track video.mp4 --max-frames 100 --no-video     # a quick look at the first 100 frames
  tracker track video.mp4 --out runs/x --no-smooth        # keep the live tracks (default: gaps filled, smoothed)
  tracker track video.mp4 --blur person                   # pixelate people in the video (privacy)
  tracker track video.mp4 --line door=100,400,600,400 --save-crops  # count crossings, crops per track
  tracker track 0 --serve 8080                            # watch it live at http://127.0.0.1:8080/
  tracker plot runs/x                                     # trajectories, timeline, active tracks -> runs/x/plots/
  tracker detect video.mp4 --out runs/det                 # detect + embed once, for --detector mot
  tracker eval ../shared/data/MOT15/TUD-Campus --tracker botsort --no-smooth   # the live tracks' row only
  tracker eval ../shared/data/MOT15/TUD-Campus --tracker sort,bytetrack,botsort   # one table
  tracker tune samples/pets09_s2l1_150 --tracker bytetrack --trials 50 --out runs/tune/best.yaml
  tracker train-reid MOT17-02-FRCNN/ MOT17-04-FRCNN/ --init random --out runs/reid
  tracker batch 'videos/*.mp4' --out runs/batch           # every video on local Ray workers; a re-run resumes
  tracker batch long.mp4 --chunks 4 --out runs/long       # one long file in 4 parallel parts, stitched
  tracker track --sources cams.txt --out runs/cams        # many live streams, one batched detector call a step

Ctrl-C (or SIGTERM) stops a run cleanly: the outputs keep every frame processed so far.
exit codes: 0 done (also when stopped with q / Esc in the --show window), 1 internal error, 2 config,
  3 source, 4 model, 5 output, 6 data, 7 source ended early (outputs complete up to the frame it names),
  8 cluster (Ray cluster unreachable or without room), 9 some sources of a batch or --sources failed,
  130 interrupted (Ctrl-C / SIGTERM)
"""


ULTRALYTICS_SUFFIX = ".pt"  # Ultralytics' PyTorch weights (YOLOv5u, v8, 11, ...)
TORCHVISION_SUFFIX = ".pth"  # a torchvision detector's state dict
ULTRALYTICS_AUTHOR = "Ultralytics"  # the `author` Ultralytics' exporter writes into an ONNX file's metadata
ALL_CLASSES = "all"  # --classes all: no class filter


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is less than 1")
    return value


def _named_points(text: str, option: str, example: str, min_points: int, max_points: int | None) -> dict:
    """``[NAME=]x1,y1,x2,y2,...`` -> {"name": NAME or None, "points": [[x1, y1], ...]}."""
    name, _, numbers = text.rpartition("=")
    try:
        values = [float(v) for v in numbers.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{option} {text!r}: coordinates must be numbers, e.g. {example}") from None
    points = [values[i : i + 2] for i in range(0, len(values), 2)]
    if len(values) % 2 or len(points) < min_points or (max_points is not None and len(points) > max_points):
        want = f"{min_points} x,y points" if max_points == min_points else f"at least {min_points} x,y points"
        raise argparse.ArgumentTypeError(f"{option} {text!r} needs {want}, e.g. {example}")
    return {"name": name.strip() or None, "points": points}


def counting_line(text: str) -> dict:
    """``--line [NAME=]x1,y1,x2,y2``: a counting line from (x1, y1) to (x2, y2), in pixels."""
    return _named_points(text, "--line", "door=100,400,600,400", 2, 2)


def counting_zone(text: str) -> dict:
    """``--zone [NAME=]x1,y1,x2,y2,x3,y3,...``: a counting zone, a polygon of at least 3 points."""
    return _named_points(text, "--zone", "queue=0,0,200,0,200,150", 3, None)


def counting_overrides(lines: list[dict], zones: list[dict]) -> list[str]:
    """``counting.*`` overrides that turn counting on with these lines and zones (unnamed ones become
    line1, line2, ... and zone1, ...); none when both lists are empty."""
    if not lines and not zones:
        return []
    out = ["counting.enabled=true"]
    for key, kind, items, field in (("lines", "line", lines, "points"), ("zones", "zone", zones, "polygon")):
        if items:
            named = [{"name": item["name"] or f"{kind}{i}", field: item["points"]} for i, item in enumerate(items, 1)]
            out.append(f"counting.{key}=" + json.dumps(named))
    return out


def list_items(text: str) -> list[str]:
    """The non-empty, stripped items of a comma-separated option value."""
    return [c.strip() for c in text.split(",") if c.strip()]


def log_line(line: str) -> None:
    """A progress line on stderr, at once (commands that report as they go)."""
    print(line, file=sys.stderr, flush=True)


def tracker_list(text: str) -> list[str]:
    """``--tracker sort,bytetrack``: one or more tracker names."""
    names = list_items(text)
    unknown = [n for n in names if n not in TRACKERS.names]
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            f"invalid choice: {', '.join(map(repr, unknown)) or repr(text)} (choose from {', '.join(TRACKERS.names)})"
        )
    return names


def add_model_options(p: argparse.ArgumentParser, several_trackers: bool = False) -> None:
    """The model and config options; ``several_trackers``: ``--tracker`` takes a comma-separated list."""
    p.add_argument("--config", metavar="YAML", help="YAML merged over configs/default.yaml")
    if several_trackers:
        p.add_argument("--tracker", type=tracker_list, metavar="LIST",
                       help="tracker, or several to compare on the same detections: e.g. sort,bytetrack,botsort "
                       "(default: botsort)")  # fmt: skip
    else:
        p.add_argument("--tracker", choices=TRACKERS.names, help="tracker (default: botsort)")
    p.add_argument("--detector", choices=DETECTORS.names, help="detector (default: yolox, offline)")
    p.add_argument(
        "--weights", metavar="PATH",
        help="detector weights file; without --detector the file picks it: .pt -> yolo (Ultralytics), .onnx -> "
        "yolo when Ultralytics exported it, else yolox, .pth -> torchvision",
    )
    p.add_argument(
        "--classes", metavar="LIST",
        help="comma-separated class names or ids to keep, e.g. person,car; 'all' or '' keeps every class "
        "(default: person, or every class when the model has no person class)",
    )
    p.add_argument("--conf", type=float, metavar="X", help="detection confidence threshold (0-1)")
    p.add_argument("--imgsz", type=positive_int, metavar="N",
                   help="detector input size in pixels, e.g. 640 (same as --set detector.input_size=N)")  # fmt: skip
    p.add_argument("--appearance", choices=EMBEDDERS.names, help="appearance model for ReID")
    p.add_argument(
        "--appearance-weights", metavar="PATH",
        help="ReID weights, the model taken from the file: a train-reid checkpoint (best.pt: resnet, with the "
        "architecture, embedding size and crop size it was trained with), a torchvision / torchreid .pth "
        "(resnet; give --set appearance.arch if not resnet18) or a ReID .onnx (osnet)",
    )
    p.add_argument("--device", metavar="DEV", help="auto | cpu | cuda | cuda:N for detector and appearance")
    p.add_argument(
        "--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
        help="override any config value, e.g. --set tracker.max_age=60 (repeatable)",
    )


def model_overrides(args: argparse.Namespace) -> list[str]:
    out = []
    detector = args.detector or (detector_for_weights(args.weights) if args.weights else None)
    if detector:
        out.append(f"detector.name={detector}")
    if args.weights:
        out.append(f"detector.weights={args.weights}")
    if args.classes is not None:
        classes = list_items(args.classes)
        if not classes or [c.lower() for c in classes] == [ALL_CLASSES]:
            out.append("detector.classes=null")
        else:
            out.append("detector.classes=[" + ", ".join(f"'{c}'" if not c.isdigit() else c for c in classes) + "]")
    if args.conf is not None:
        out.append(f"detector.conf_threshold={args.conf}")
    if getattr(args, "appearance_weights", None):
        out += appearance_weight_overrides(args.appearance_weights)
    if args.imgsz is not None:
        out.append(f"detector.input_size={args.imgsz}")
    if args.appearance:
        out.append(f"appearance.name={args.appearance}")
    if args.device:
        out += [f"detector.device={args.device}", f"appearance.device={args.device}"]
    if getattr(args, "smooth", None) is not None:  # track, batch, eval and tune: --smooth / --no-smooth
        out.append(f"smoothing.enabled={str(args.smooth).lower()}")
    if getattr(args, "blur", None) is not None:  # track
        out.append("output.blur_classes=" + json.dumps(names(args.blur, "--blur", "--blur person,car")))
    return out + list(args.overrides)


def detector_for_weights(path: str) -> str | None:
    """The detector that reads a ``--weights`` file given without ``--detector``; None keeps the configured one."""
    suffix = Path(path).suffix.lower()
    if suffix == ULTRALYTICS_SUFFIX:
        return "yolo"
    if suffix == TORCHVISION_SUFFIX:
        return "torchvision"
    if suffix == ONNX_SUFFIX:
        from ..detect.onnx_session import model_metadata

        return "yolo" if model_metadata(path).get("author") == ULTRALYTICS_AUTHOR else "yolox"
    return None


def appearance_weight_overrides(path: str) -> list[str]:
    """``--appearance-weights PATH``: the appearance model that reads the file, the file, and for a train-reid
    checkpoint the settings it records (a resnet needs the architecture it was trained with)."""
    out = [f"appearance.weights={json.dumps(path)}"]
    if Path(path).suffix.lower() == ONNX_SUFFIX:
        return ["appearance.name=osnet", *out]
    from ..detect.appearance.resnet import checkpoint_settings  # torch: imported for a .pt / .pth file only

    settings = checkpoint_settings(path)
    return ["appearance.name=resnet", *out, *(f"appearance.{k}={json.dumps(v)}" for k, v in settings.items())]


def names(text: str, option: str, example: str) -> list[str]:
    """The items of a comma-separated list option; none is a ConfigError."""
    listed = list_items(text)
    if not listed:
        raise ConfigError(f"{option} needs at least one class name, got {text!r}", f"Pass e.g. {example}")
    return listed


def _number(above_zero: bool):
    """An argparse type: a float above 0 (``above_zero``) or at least 0."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if not (value > 0 if above_zero else value >= 0):
            raise argparse.ArgumentTypeError(f"{value:g} is {'not above' if above_zero else 'below'} 0")
        return value

    return parse


def add_scale_options(p: argparse.ArgumentParser) -> None:
    """``--chunks`` / ``--chunk-overlap`` and where the work runs (``--ray-address`` ...): track and batch."""
    p.add_argument(
        "--chunks", type=positive_int, default=1, metavar="K",
        help="split each video file into K overlapping parts tracked in parallel, then stitched so every "
        "identity keeps one ID (default: 1, no split)",
    )
    p.add_argument(
        "--chunk-overlap", type=_number(above_zero=False), metavar="S",
        help="seconds each part shares with the next, where tracks are matched (default: chunks.overlap_s, 3)",
    )
    p.add_argument(
        "--ray-address", metavar="ADDR",
        help="join a Ray cluster: auto (this node's cluster), ray://HOST:PORT (Ray Client) or HOST:PORT; "
        "default: a local Ray instance using every core",
    )
    p.add_argument("--workers", type=positive_int, metavar="N", help="parallel workers (default: as many as fit)")
    p.add_argument(
        "--threads-per-worker", type=positive_int, default=1, metavar="T",
        help="CPU threads of each worker's detector and embedder, and on a local Ray the cores its whole process "
        "is pinned to (batch.pin_cores) (default: 1)",
    )
    p.add_argument(
        "--gpus-per-worker", type=_number(above_zero=True), metavar="F",
        help="GPUs each worker asks for; 0.25 packs four workers on a GPU (default: 1 on a cluster with GPUs)",
    )


def chunk_overrides(args: argparse.Namespace) -> list[str]:
    """Config overrides from --chunk-overlap."""
    return [] if args.chunk_overlap is None else [f"chunks.overlap_s={args.chunk_overlap}"]


def execution(args: argparse.Namespace) -> dict:
    """Where a batch or a chunked track runs (tracker.scale.batch.execute's options)."""
    return dict(address=args.ray_address, workers=args.workers, threads=args.threads_per_worker,
                gpus=args.gpus_per_worker, progress=not args.quiet)  # fmt: skip


def run_config(args: argparse.Namespace, overrides: list[str] = ()):
    """The config of ``track`` or ``batch``: the model options, --no-video, --chunk-overlap and ``overrides``,
    then a check that --blur has something to blur."""
    from ..config import load_config

    overrides = model_overrides(args) + chunk_overrides(args) + list(overrides)
    if args.no_video:
        overrides.append("output.video=false")
    cfg = load_config(args.config, tracker=args.tracker, overrides=overrides)
    if args.blur is not None and not (cfg.output.video or cfg.output.show or cfg.serve.port is not None):
        raise ConfigError(
            "--blur has nothing to blur: the video is off (--no-video or output.video=false) and there is no window",
            "Drop --no-video or add --show",
        )
    return cfg
