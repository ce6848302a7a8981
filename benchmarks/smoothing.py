"""Smoothing benchmark: HOTA / IDF1 of our default tracker before and after ``--smooth``.

Runs the default tracker (BoT-SORT) over the cached detections of each sequence
(YOLOX-Nano + OSNet on PETS09-S2L1 and TUD-Campus, public FRCNN det.txt on
MOT17-mini), then scores with TrackEval the raw tracks, the tracks with gaps
filled by linear interpolation only, and the full smoothing (gap filling + RTS
smoother) with ``configs/default.yaml``'s ``smoothing:`` values (or ``--set``).

    python benchmarks/smoothing.py [--sequences PETS09-S2L1 TUD-Campus] [--set smoothing.max_gap=10]
"""

from __future__ import annotations

import argparse

from common import FALLBACK_FPS, cached_detections, machine, markdown_table, sequences

from accuracy import track
from tracker.analyze.evaluation import score_tracks
from tracker.analyze.smoothing import interpolate_gaps, rows_from_tracks, smooth_tracks, tracks_by_frame
from tracker.config import load_config

COLUMNS = ["sequence", "output", "HOTA", "DetA", "AssA", "IDF1", "MOTA", "IDSW"]
TRACKER = "botsort"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sequences", nargs="*", default=["PETS09-S2L1", "TUD-Campus"])
    ap.add_argument("--set", dest="overrides", action="append", default=[], help="override, e.g. smoothing.max_gap=10")
    args = ap.parse_args()
    cfg = load_config(overrides=args.overrides).smoothing
    print(f"smoothing: {cfg}")

    rows = []
    for seq, detector in sequences(args.sequences):
        cached = cached_detections(seq, detector)
        frames, _, _ = track(TRACKER, cached)
        raw = rows_from_tracks(frames)
        fps = seq.fps or FALLBACK_FPS  # as accuracy.track
        variants = {
            "raw": raw,
            f"interpolated (max_gap {cfg.max_gap})": interpolate_gaps(raw, cfg.max_gap),
            "smoothed (interpolated + RTS)": smooth_tracks(raw, cfg, fps),
        }
        for label, variant in variants.items():
            indices, tracks = zip(*tracks_by_frame(variant))
            row = {"sequence": seq.name, "output": label, **score_tracks(seq, list(tracks), list(indices))}
            rows.append(row)
            print(f"{seq.name:16s} {label:32s} HOTA {row['HOTA']:5.2f} IDF1 {row['IDF1']:5.2f} "
                  f"MOTA {row['MOTA']:5.2f} IDSW {row['IDSW']:3d}", flush=True)
    print()
    print(f"Machine: {machine()}")
    print(markdown_table(rows, COLUMNS))


if __name__ == "__main__":
    main()
