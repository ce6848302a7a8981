"""Soak test: memory stays flat over a long run.

Feeds ``--frames`` synthetic frames (default 100,000) of about ``--objects`` moving boxes,
with births, deaths, missed detections, low-score clutter and appearance embeddings,
straight into a tracker's ``update`` (BoT-SORT with ReID by default), and writes
tracks.csv and tracks.txt through the real sinks into a temporary folder (``--no-sinks``
skips them). Prints the resident memory (RSS) at the start, at checkpoints and at the
end, the tracker's own state sizes, and a verdict line: FLAT when RSS grew by less than
``--tolerance-mib`` between the first checkpoint (after warm-up) and the end.

    python benchmarks/soak.py                     # 100k frames, a few minutes on 2 cores
    python benchmarks/soak.py --frames 20000      # a quicker look
    python benchmarks/soak.py --write             # also append the table to benchmarks/RESULTS.md
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import numpy as np
import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tracker.config import load_config  # noqa: E402
from tracker.io.sinks import CsvSink, MotSink  # noqa: E402
from tracker.structures import Detections, FrameResult  # noqa: E402
from tracker.tracking import build_tracker  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"
SECTION = "## Soak (benchmarks/soak.py)"
MIB = 2**20

# The synthetic world: a 1920x1080 scene at 25 fps; people-sized boxes walk, bounce off the
# borders and leave after a random lifetime, when a new object with a new look takes the slot.
WIDTH, HEIGHT = 1920.0, 1080.0
FPS = 25.0
BOX_W = (20.0, 120.0)  # box width range, pixels
ASPECT = (1.8, 3.0)  # box height / width range
SPEED = 4.0  # std of the per-frame velocity, pixels
LIFETIME = (50, 1500)  # frames an object stays, uniform
MISS_RATE = 0.05  # chance that an object is not detected in a frame
BOX_NOISE = 2.0  # std of the detection box jitter, pixels
CLUTTER_PER_FRAME = 2  # low-score false detections per frame
CLUTTER_SCORE = (0.1, 0.45)
SCORE = (0.5, 1.0)  # scores of real detections
EMBEDDING_DIM = 512  # OSNet's width
EMBEDDING_NOISE = 0.3  # std of per-frame appearance noise before normalising
CLASS_NAMES = ["person"]
WARMUP_FRACTION = 0.1  # the verdict compares the end with the first checkpoint after this share of frames


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


class World:
    """``n`` object slots; each frame moves them and replaces those whose lifetime ran out."""

    def __init__(self, n: int, rng: np.random.Generator):
        self.rng = rng
        self.n = n
        self.pos = np.zeros((n, 2))
        self.vel = np.zeros((n, 2))
        self.size = np.zeros((n, 2))
        self.life = np.zeros(n, np.int64)
        self.look = np.zeros((n, EMBEDDING_DIM))
        self.births = 0
        self._spawn(np.ones(n, bool))

    def _spawn(self, mask: np.ndarray) -> None:
        k = int(mask.sum())
        if not k:
            return
        rng = self.rng
        w = rng.uniform(*BOX_W, k)
        self.size[mask] = np.stack([w, w * rng.uniform(*ASPECT, k)], axis=1)
        self.pos[mask] = rng.uniform([0, 0], [WIDTH, HEIGHT], (k, 2)) - self.size[mask] / 2
        self.vel[mask] = rng.normal(0, SPEED, (k, 2))
        self.life[mask] = rng.integers(*LIFETIME, k)
        self.look[mask] = _unit(rng.normal(size=(k, EMBEDDING_DIM)))
        self.births += k

    def step(self) -> Detections:
        rng = self.rng
        self.pos += self.vel
        low, high = self.pos < 0, self.pos + self.size > [WIDTH, HEIGHT]
        self.vel[low | high] *= -1  # bounce
        self.life -= 1
        self._spawn(self.life <= 0)

        seen = rng.random(self.n) >= MISS_RATE
        boxes = np.concatenate([self.pos, self.pos + self.size], axis=1)[seen]
        boxes += rng.normal(0, BOX_NOISE, boxes.shape)
        looks = _unit(self.look[seen] + rng.normal(0, EMBEDDING_NOISE / np.sqrt(EMBEDDING_DIM), (len(boxes), EMBEDDING_DIM)))
        corner = rng.uniform([0, 0], [WIDTH, HEIGHT], (CLUTTER_PER_FRAME, 2))
        clutter = np.concatenate([corner, corner + rng.uniform(*BOX_W, (CLUTTER_PER_FRAME, 1)) * [1, 2]], axis=1)
        scores = np.concatenate([rng.uniform(*SCORE, len(boxes)), rng.uniform(*CLUTTER_SCORE, CLUTTER_PER_FRAME)])
        return Detections(
            boxes=np.concatenate([boxes, clutter]),
            scores=scores,
            class_ids=np.zeros(len(scores), np.int32),
            embeddings=np.concatenate([looks, _unit(rng.normal(size=(CLUTTER_PER_FRAME, EMBEDDING_DIM)))]),
        )


def rss_mib() -> float:
    gc.collect()
    return psutil.Process().memory_info().rss / MIB


def feature_bytes(tracker) -> int:
    """Bytes held by the tracker's per-track arrays and appearance features."""
    return tracker.table.nbytes


def soak(frames: int, objects: int, tracker_name: str, checkpoints: int, sinks: bool, seed: int) -> list[dict]:
    cfg = load_config(tracker=tracker_name)
    tracker = build_tracker(cfg.tracker, FPS, len(CLASS_NAMES))
    world = World(objects, np.random.default_rng(seed))
    marks = sorted({max(1, round(frames * i / checkpoints)) for i in range(1, checkpoints + 1)})
    rows = [dict(frame=0, seconds=0.0, fps=0.0, rss=rss_mib(), live=0, issued=0, state_kib=0.0)]
    print(_header(), flush=True)
    print(_row(rows[0]), flush=True)
    with tempfile.TemporaryDirectory(prefix="soak-") as tmp:
        outputs = [CsvSink(Path(tmp) / "tracks.csv", CLASS_NAMES), MotSink(Path(tmp) / "tracks.txt")] if sinks else []
        started = last_time = time.perf_counter()
        last_frame = max_id = 0
        try:
            for index in range(frames):
                dets = world.step()
                tracks = tracker.update(dets)
                if len(tracks):
                    max_id = max(max_id, int(tracks.track_ids.max()))
                if outputs:
                    result = FrameResult(frame_index=index, time_s=index / FPS, tracks=tracks, detections=dets)
                    for sink in outputs:
                        sink.write(result)
                if index + 1 == marks[0]:
                    marks.pop(0)
                    now = time.perf_counter()
                    row = dict(
                        frame=index + 1, seconds=now - started, fps=(index + 1 - last_frame) / (now - last_time),
                        rss=rss_mib(), live=len(tracker), issued=max_id,
                        state_kib=feature_bytes(tracker) / 1024,
                    )  # fmt: skip
                    last_time, last_frame = time.perf_counter(), index + 1
                    rows.append(row)
                    print(_row(row), flush=True)
        finally:
            for sink in outputs:
                sink.close()
        if outputs:
            rows[-1]["csv_mib"] = (Path(tmp) / "tracks.csv").stat().st_size / MIB
    rows[-1]["births"] = world.births
    rows[-1]["invalid"] = tracker.invalid_detections
    return rows


def _header() -> str:
    return (
        "| frame | elapsed s | frames/s | RSS MiB | ΔRSS since warm-up MiB | live tracks | highest id | track state KiB |\n"
        "|---:|---:|---:|---:|---:|---:|---:|---:|"
    )


_BASELINE: dict[str, float] = {}


def _row(r: dict) -> str:
    delta = "" if "rss" not in _BASELINE else f"{r['rss'] - _BASELINE['rss']:+.1f}"
    return (
        f"| {r['frame']:,} | {r['seconds']:.0f} | {r['fps']:.0f} | {r['rss']:.1f} | {delta} | {r['live']} | "
        f"{r['issued']:,} | {r['state_kib']:.0f} |"
    )


def verdict(rows: list[dict], frames: int, tolerance_mib: float) -> tuple[str, float]:
    warm = next(r for r in rows if r["frame"] >= frames * WARMUP_FRACTION)
    growth = rows[-1]["rss"] - warm["rss"]
    state = "FLAT" if growth < tolerance_mib else "GROWING"
    line = (
        f"verdict: {state}: RSS {warm['rss']:.1f} MiB at frame {warm['frame']:,} -> {rows[-1]['rss']:.1f} MiB at "
        f"frame {rows[-1]['frame']:,} ({growth:+.1f} MiB, tolerance {tolerance_mib:g} MiB)"
    )
    return line, growth


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=100_000, help="frames to track (default 100000)")
    parser.add_argument("--objects", type=int, default=20, help="objects in the scene at any time (default 20)")
    parser.add_argument("--tracker", default="botsort", help="tracker name (default botsort, with ReID)")
    parser.add_argument("--checkpoints", type=int, default=10, help="RSS readings during the run (default 10)")
    parser.add_argument("--no-sinks", action="store_true", help="do not write tracks.csv / tracks.txt")
    parser.add_argument("--tolerance-mib", type=float, default=10.0, help="RSS growth still called flat (default 10)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--write", action="store_true", help=f"append the table to {RESULTS.name}")
    args = parser.parse_args()
    if args.frames < args.checkpoints or args.objects < 1:
        parser.error("need --frames >= --checkpoints and --objects >= 1")

    machine = f"{cpu_name()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    print(
        f"soak: {args.frames:,} frames, ~{args.objects} objects, {args.tracker} with {EMBEDDING_DIM}-d embeddings, "
        f"sinks {'off' if args.no_sinks else 'on'}; {machine}",
        flush=True,
    )
    rows = soak(args.frames, args.objects, args.tracker, args.checkpoints, not args.no_sinks, args.seed)
    warm = next(r for r in rows if r["frame"] >= args.frames * WARMUP_FRACTION)
    _BASELINE["rss"] = warm["rss"]
    line, growth = verdict(rows, args.frames, args.tolerance_mib)
    last = rows[-1]
    extra = (
        f"{last['births']:,} objects born, highest track id reported {last['issued']:,}, "
        f"{last['invalid']} invalid detections; "
        f"{last['frame'] / last['seconds']:.0f} frames/s overall"
        + (f"; tracks.csv reached {last['csv_mib']:.0f} MiB" if "csv_mib" in last else "")
    )
    table = "\n".join([_header(), *map(_row, rows)])
    print()
    print(table)
    print(extra)
    print(line)
    if args.write:
        title = "" if RESULTS.is_file() else "# Benchmark results\n"
        section = (
            f"{title}\n{SECTION}\n\n"
            f"`python benchmarks/soak.py --frames {args.frames}` on {date.today().isoformat()}: {args.frames:,} synthetic "
            f"frames of ~{args.objects} moving boxes (births, deaths, {MISS_RATE:.0%} misses, {CLUTTER_PER_FRAME} "
            f"low-score clutter boxes per frame, {EMBEDDING_DIM}-d embeddings) fed to `{args.tracker}` "
            f"`tracker.update`, {'with' if not args.no_sinks else 'without'} tracks.csv + tracks.txt written by the "
            f"real sinks. {machine}.\n\n{table}\n\n{extra}.\n\n**{line}**\n"
        )
        with RESULTS.open("a", encoding="utf-8") as handle:
            handle.write(section)
        print(f"appended to {RESULTS}", file=sys.stderr)
    return 0 if growth < args.tolerance_mib else 1


if __name__ == "__main__":
    sys.exit(main())
