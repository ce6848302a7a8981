"""Fingerprints of every tracker's output, to show that a change meant to be behaviour-free (a speed-up, a
refactor) leaves every track exactly as it was.

Each tracker configuration below runs over the cached dev sequences (replayed with their camera warps, as
``tracker tune`` replays them) and over synthetic scenes (``update`` and ``replay``, with thinned and empty
frames); a SHA-1 of every frame's reported and lost tracks (ids, boxes, scores, classes, det_index,
embeddings, dtypes and shapes) is kept per configuration and input.

    python benchmarks/fingerprint.py --write before.json      # on the commit before the change
    python benchmarks/fingerprint.py --check before.json      # after it: exit 1 if any output changed

Uses the detection caches of ``benchmarks/common.py`` (``$TRACKER_BENCH_CACHE``) for the dev sequences.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

import numpy as np

import research
from association import scene
from common import ROOT

from tracker.config import load_config
from tracker.tracking import build_tracker

# (tracker or preset, overrides): the defaults, the paper presets, and the named options in several mixes
VARIANTS = [
    ("sort", {}), ("bytetrack", {}), ("botsort", {}), ("deepsort", {}),
    ("sort", {"tracker.per_class": True, "tracker.iou_buffer": 0.2, "tracker.output_lost": True}),
    ("bytetrack", {"tracker.assignment": "iterative", "tracker.kalman.nsa": True, "tracker.new_track_max_iou": 0.5}),
    ("bytetrack", {"tracker.observation_reupdate": True, "tracker.direction_weight": 0.2, "tracker.score_boost": 0.5,
                   "tracker.shape_weight": 0.2, "tracker.box_similarity": "hmiou"}),
    ("botsort", {"tracker.embed_on_demand": False, "tracker.score_scale": "absolute", "tracker.per_class": True}),
    ("botsort", {"tracker.reid_gallery": 0, "tracker.observation_reupdate": True, "tracker.n_init": 1}),
    ("botsort_paper", {}), ("bytetrack_paper", {}),
    ("botsort", {"tracker.with_reid": False}),
    ("bytetrack", {"tracker.new_track_max_iou": 0.5, "tracker.iou_buffer": 0.3, "tracker.per_class": True,
                   "tracker.kalman.noise_unit": "frame"}),
    ("deepsort", {"tracker.per_class": True}),
]
SCENE_SIZES = (0, 1, 3, 10, 100)  # objects in each synthetic scene
SCENE_FRAMES = 40
THIN_EVERY, EMPTY_EVERY = 7, 11  # every 7th synthetic frame keeps half its detections, every 11th none


def tracker_config(name: str, overrides: dict):
    preset = ROOT / "configs" / f"{name}.yaml"
    if name.endswith("_paper"):
        return load_config(preset, overrides=overrides).tracker
    return load_config(tracker=name, overrides=overrides).tracker


def digest(h, frames) -> None:
    for tracks in frames:
        for a in (tracks.boxes, tracks.scores, tracks.class_ids, tracks.track_ids, tracks.det_index):
            h.update(np.ascontiguousarray(a).tobytes() + f"{a.dtype}{a.shape}".encode())
        h.update(b"E" + (b"-" if tracks.embeddings is None else np.ascontiguousarray(tracks.embeddings).tobytes()))


def fingerprints(sequences: list[str]) -> dict[str, str]:
    prepared = research.prepare(load_config(), sequences, "yolox")
    scenes = {n: scene(n, SCENE_FRAMES, seed=n) for n in SCENE_SIZES}
    out = {}
    for name, overrides in VARIANTS:
        cfg = tracker_config(name, overrides)
        label = f"{name} {json.dumps(overrides, sort_keys=True)}"
        for p in prepared:
            h = hashlib.sha1()
            tracker = build_tracker(cfg, p.fps, p.num_classes)
            warps = p.warps or [None] * len(p.detections)
            for dets, dt, warp in zip(p.detections, p.time_steps.tolist(), warps):
                digest(h, [tracker.replay(dets, dt, warp), tracker.lost_tracks()])
            out[f"{label} | {p.seq.name}"] = h.hexdigest()
        for n, frames in scenes.items():
            for mode in ("update", "replay"):
                h = hashlib.sha1()
                tracker = build_tracker(cfg, 30.0, 1)
                for i, dets in enumerate(frames):
                    if i % THIN_EVERY == THIN_EVERY - 1:
                        dets = dets[np.arange(len(dets)) % 2 == 0]
                    if i % EMPTY_EVERY == EMPTY_EVERY - 1:
                        dets = dets[:0]
                    digest(h, [getattr(tracker, mode)(dets), tracker.lost_tracks()])
                out[f"{label} | synthetic {n} objects, {mode}"] = h.hexdigest()
        print(f"{label}: done", file=sys.stderr, flush=True)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    what = ap.add_mutually_exclusive_group(required=True)
    what.add_argument("--write", metavar="JSON", help="save the fingerprints here")
    what.add_argument("--check", metavar="JSON", help="compare with fingerprints saved by --write")
    ap.add_argument("--sequences", nargs="*", default=list(research.DEV))
    args = ap.parse_args()
    now = fingerprints(args.sequences)
    if args.write:
        Path(args.write).write_text(json.dumps(now, indent=1))
        print(f"{len(now)} fingerprints -> {args.write}")
        return 0
    saved = json.loads(Path(args.check).read_text())
    changed = sorted(k for k in saved.keys() | now.keys() if saved.get(k) != now.get(k))
    for key in changed:
        print(f"changed: {key}")
    print(f"{len(now) - len(changed)} of {len(saved.keys() | now.keys())} outputs identical")
    return 1 if changed else 0


if __name__ == "__main__":
    sys.exit(main())
