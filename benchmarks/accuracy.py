"""Accuracy benchmark: our trackers vs Ultralytics' trackers on identical detections.

Every tracker gets the same cached detections (YOLOX-Nano on PETS09-S2L1 and
TUD-Campus, public FRCNN det.txt on MOT17-mini) and, where it uses appearance,
the same OSNet-x0.25 embeddings. TrackEval scores each run. ms/frame is the
tracker's update time alone (detection excluded).

    python benchmarks/accuracy.py [--sequences PETS09-S2L1 TUD-Campus] [--set tracker.x=y]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from common import ROOT, cached_detections, machine, markdown_table, sequences  # noqa: F401

from tracker.analyze.evaluation import score_tracks
from tracker.config import load_config
from tracker.structures import Tracks
from tracker.tracking import build_tracker

OURS = ["sort", "deepsort", "bytetrack", "botsort"]
ULTRALYTICS = ["ul-bytetrack", "ul-botsort", "ul-botsort-reid"]
COLUMNS = ["sequence", "tracker", "HOTA", "MOTA", "IDF1", "IDSW", "ms/frame"]


def run_ours(name: str, cached, overrides: list[str]) -> tuple[list[Tracks], float]:
    cfg = load_config(tracker=name, overrides=overrides).tracker
    fps = cached.seq.fps or 30.0
    tr = build_tracker(cfg, fps=fps)
    out, spent = [], 0.0
    for d in cached.detections:
        t0 = time.perf_counter()
        out.append(tr.replay(d))
        spent += time.perf_counter() - t0
    return out, 1000 * spent / len(out)


def ultralytics_tracker(name: str, fps: float):
    from ultralytics.trackers.bot_sort import BOTSORT
    from ultralytics.trackers.byte_tracker import BYTETracker
    from ultralytics.utils import YAML, IterableSimpleNamespace
    from ultralytics.utils.checks import check_yaml

    kind = "bytetrack" if name == "ul-bytetrack" else "botsort"
    args = IterableSimpleNamespace(**YAML.load(check_yaml(f"{kind}.yaml")))
    if name == "ul-botsort-reid":
        args.with_reid, args.model = True, "auto"  # fed our OSNet embeddings as native features
    return (BYTETracker if kind == "bytetrack" else BOTSORT)(args=args)


def run_ultralytics(name: str, cached) -> tuple[list[Tracks], float]:
    from ultralytics.engine.results import Boxes

    tr = ultralytics_tracker(name, cached.seq.fps or 30.0)
    blank = np.zeros(cached.image_size + (3,), np.uint8)  # static cameras: GMC sees no motion
    out, spent = [], 0.0
    for d in cached.detections:
        boxes = Boxes(np.concatenate([d.boxes, d.scores[:, None], d.class_ids[:, None]], axis=1), cached.image_size)
        feats = d.embeddings if name == "ul-botsort-reid" else None
        t0 = time.perf_counter()
        res = tr.update(boxes, blank, feats=feats)
        spent += time.perf_counter() - t0
        res = np.asarray(res).reshape(-1, 8)
        out.append(
            Tracks(
                boxes=res[:, :4], scores=res[:, 5], class_ids=res[:, 6].astype(np.int32),
                track_ids=res[:, 4].astype(np.int64), det_index=res[:, 7].astype(np.int64),
            )
        )
    return out, 1000 * spent / len(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sequences", nargs="*", default=None)
    ap.add_argument("--trackers", nargs="*", default=OURS + ULTRALYTICS)
    ap.add_argument("--set", dest="overrides", action="append", default=[], help="override for our trackers")
    args = ap.parse_args()

    rows = []
    for seq, detector in sequences(args.sequences):
        cached = cached_detections(seq, detector)
        for name in args.trackers:
            if name in OURS:
                frames, ms = run_ours(name, cached, args.overrides)
            else:
                frames, ms = run_ultralytics(name, cached)
            row = {"sequence": seq.name, "tracker": name, **score_tracks(seq, frames), "ms/frame": ms}
            rows.append(row)
            print(f"{seq.name:16s} {name:16s} HOTA {row['HOTA']:5.1f} IDF1 {row['IDF1']:5.1f} "
                  f"MOTA {row['MOTA']:5.1f} IDSW {row['IDSW']:3d} {ms:6.2f} ms", flush=True)

    print()
    print(f"Machine: {machine()}")
    print(markdown_table(rows, COLUMNS))
    print()
    for seq_name in dict.fromkeys(r["sequence"] for r in rows):
        mine = [r for r in rows if r["sequence"] == seq_name and r["tracker"] in OURS]
        theirs = [r for r in rows if r["sequence"] == seq_name and r["tracker"] in ULTRALYTICS]
        if mine and theirs:
            best_m = max(mine, key=lambda r: r["HOTA"])
            best_t = max(theirs, key=lambda r: r["HOTA"])
            print(f"{seq_name}: best ours {best_m['tracker']} HOTA {best_m['HOTA']:.1f} IDF1 {best_m['IDF1']:.1f} vs "
                  f"best Ultralytics {best_t['tracker']} HOTA {best_t['HOTA']:.1f} IDF1 {best_t['IDF1']:.1f}: "
                  f"dHOTA {best_m['HOTA'] - best_t['HOTA']:+.1f}, "
                  f"dIDF1 {best_m['IDF1'] - max(r['IDF1'] for r in theirs):+.1f}")


if __name__ == "__main__":
    main()
