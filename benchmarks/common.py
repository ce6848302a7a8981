"""Shared pieces of the benchmarks: the real sequences, a detection cache, table printing.

Detections (and their appearance embeddings) are computed once per sequence and
detector setting and cached under ``benchmarks/.cache/``, so every tracker in a
benchmark run sees exactly the same inputs.
"""

from __future__ import annotations

import hashlib
import json
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tracker.config import Config, load_config  # noqa: E402
from tracker.io.mot import Sequence, find_sequence  # noqa: E402
from tracker.structures import Detections  # noqa: E402

SHARED = ROOT.parent / "shared" / "data"
CACHE = Path(__file__).resolve().parent / ".cache"
BENCH_CONF = 0.1  # detector threshold for benchmarks: low enough for ByteTrack's second stage


def sequences(names: list[str] | None = None) -> list[tuple[Sequence, str]]:
    """(sequence, detector) pairs: YOLOX on PETS09-S2L1 and TUD-Campus, public FRCNN dets on MOT17-mini."""
    table = {
        "PETS09-S2L1": (lambda: find_sequence(SHARED / "MOT15" / "PETS09-S2L1", SHARED / "vtest.avi"), "yolox"),
        "TUD-Campus": (lambda: find_sequence(SHARED / "MOT15" / "TUD-Campus"), "yolox"),
        "MOT17-02-FRCNN": (lambda: find_sequence(SHARED / "MOT17-mini" / "train" / "MOT17-02-FRCNN"), "mot"),
        "MOT17-04-FRCNN": (lambda: find_sequence(SHARED / "MOT17-mini" / "train" / "MOT17-04-FRCNN"), "mot"),
    }
    if not SHARED.is_dir():
        raise SystemExit(f"shared data not found at {SHARED}")
    return [(make(), det) for name, (make, det) in table.items() if names is None or name in names]


def detection_config(detector: str, seq: Sequence) -> Config:
    # OSNet at its own 256x128 input, named explicitly: the cache key hashes the config it was built with
    overrides = {"detector.name": detector, "detector.conf_threshold": BENCH_CONF, "appearance.name": "osnet",
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
    from tracker.io.sources import open_source

    cfg = detection_config(detector, seq)
    path = CACHE / f"{seq.name}-{_key(seq, cfg)}.npz"
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
    with open_source(str(seq.frames), cfg.source) as src:
        size = (src.info.height, src.info.width)
        for frame in src:
            if frame.index >= seq.length:
                break
            d = det.detect([frame.image], [frame.index])[0]
            d.embeddings = emb.embed(frame.image, d.boxes)
            out.append(d)
    detect_ms = 1000 * (time.perf_counter() - started) / max(len(out), 1)
    CACHE.mkdir(exist_ok=True)
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
