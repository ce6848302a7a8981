"""Post-processing benchmark: what the default run's files gain over the tracker's live output, step by step.

Runs the default tracker (BoT-SORT) over the cached detections of each dev sequence (YOLOX-Nano + OSNet,
with the camera motion it estimates from the real frames), then scores with TrackEval its live tracks, the
tracks with gaps filled by linear interpolation only, the full post-processing (gap filling + RTS smoother)
in image coordinates, and the full post-processing along the camera's motion: what ``configs/default.yaml``'s
``smoothing:`` ships (``--set smoothing.x=y`` to try others). ms/frame: the post-processing's time per frame.
The shipped values were chosen leave-one-sequence-out (``research.py post``), where every fold picked the
same gap and nearly the same noise: these rows are close to held-out numbers, but the held-out ones are in
benchmarks/RESEARCH.md.

    python benchmarks/smoothing.py [--sequences PETS09-S2L1 MOT16-11] [--set smoothing.max_gap_s=1]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from common import DEV_SEQUENCES, cached_detections, machine, markdown_table, sequences

from accuracy import track
from tracker.analyze.evaluation import score_tracks
from tracker.analyze.smoothing import (
    CameraPath, gap_frames, interpolate_gaps, rows_from_tracks, smooth_frames, tracks_by_frame,
)
from tracker.config import load_config

COLUMNS = ["sequence", "output", "HOTA", "DetA", "AssA", "IDF1", "MOTA", "IDSW", "ms/frame"]
LIVE = "botsort-online"  # the default tracker without post-processing (benchmarks/peers.py)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sequences", nargs="*", default=list(DEV_SEQUENCES))
    ap.add_argument("--set", dest="overrides", action="append", default=[], help="override, e.g. smoothing.max_gap_s=1")
    args = ap.parse_args()
    cfg = load_config(overrides=args.overrides).smoothing
    print(f"smoothing: {cfg}")

    rows = []
    for seq, detector in sequences(args.sequences):
        cached = cached_detections(seq, detector)
        live, indices, _, adapter = track(LIVE, cached)
        camera = CameraPath(indices, adapter.warps) if adapter.camera_motion is not None else None
        image_only = cfg.model_copy(update={"compensate_camera": False})

        def filled():
            rows = rows_from_tracks(live, indices)
            pairs = tracks_by_frame(interpolate_gaps(rows, gap_frames(cfg, adapter.fps), cfg.max_gap_ratio))
            return [t for _, t in pairs], [f for f, _ in pairs]

        variants = {
            "live (the tracker's output)": lambda: (live, indices),
            f"gaps filled (up to {cfg.max_gap_s:g} s)": filled,
            "smoothed in image coordinates": lambda: smooth_frames(live, indices, image_only, adapter.fps, camera),
            "smoothed along the camera (shipped)": lambda: smooth_frames(live, indices, cfg, adapter.fps, camera),
        }
        for label, make in variants.items():
            started = time.perf_counter()
            tracks, frames = make()
            ms = 1000 * (time.perf_counter() - started) / max(len(indices), 1)
            row = {"sequence": seq.name, "output": label, **score_tracks(seq, tracks, frames), "ms/frame": ms}
            rows.append(row)
            print(f"{seq.name:16s} {label:38s} HOTA {row['HOTA']:5.2f} IDF1 {row['IDF1']:5.2f} "
                  f"MOTA {row['MOTA']:5.2f} IDSW {row['IDSW']:3d} {ms:6.2f} ms", flush=True)
    means = [{"sequence": "mean", "output": label,
              **{c: float(np.mean([r[c] for r in rows if r["output"] == label])) for c in COLUMNS[2:]}}
             for label in dict.fromkeys(r["output"] for r in rows)]  # fmt: skip
    print()
    print(f"Machine: {machine()}")
    print(markdown_table(rows + means, COLUMNS))


if __name__ == "__main__":
    main()
