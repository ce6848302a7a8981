"""Association speed: our trackers vs the peers' (Ultralytics, BoxMOT, Roboflow `trackers`) on identical scenes.

Scenes of N objects (N = 10, 50, 100, 300, 1000) walk with noisy constant velocity;
a few die and are born every frame. Every tracker gets the same detections (and the same
embeddings where it uses appearance); the time is the tracker's update alone, through the
adapters of benchmarks/peers.py. Camera motion compensation is timed apart (no frames here).

    python benchmarks/association.py [--frames 60] [--sizes 10 50 100 300 1000]
"""

from __future__ import annotations

import argparse
import time
from functools import partial

import numpy as np

import peers
from common import machine, markdown_table

from tracker.config import load_config
from tracker.structures import Detections
from tracker.tracking import build_tracker
from tracker.tracking.camera_motion import CameraMotion

FPS = 30.0
SCENE = (1920, 1080)
EMBEDDING_DIM = 128
# per dimension: a detection's embedding has cosine ~0.9 to its object's (1 / sqrt(1 + 128 * 0.04**2)), about what
# OSNet gives one person from frame to frame; a new object's is unrelated to every other's
EMBEDDING_NOISE = 0.04
TURNOVER = 0.02  # share of objects replaced each frame


def _unit(rows: np.ndarray) -> np.ndarray:
    return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)


def scene(n: int, frames: int, seed: int = 0) -> list[Detections]:
    """``n`` objects walking with constant velocity, TURNOVER of them replaced by new ones each frame; each
    object looks like itself: its detections' embeddings are its own plus EMBEDDING_NOISE."""
    rng = np.random.default_rng(seed)
    pos = rng.uniform([0, 0], SCENE, (n, 2))
    vel = rng.normal(0, 2.0, (n, 2))
    size = rng.uniform([15, 40], [40, 120], (n, 2))
    looks = _unit(rng.normal(size=(n, EMBEDDING_DIM)))
    out = []
    for _ in range(frames):
        pos += vel
        reborn = rng.random(n) < TURNOVER
        pos[reborn] = rng.uniform([0, 0], SCENE, (int(reborn.sum()), 2))
        looks[reborn] = _unit(rng.normal(size=(int(reborn.sum()), EMBEDDING_DIM)))
        boxes = np.concatenate([pos, pos + size], axis=1) + rng.normal(0, 1.0, (n, 4))
        scores = rng.uniform(0.3, 1.0, n).astype(np.float32)
        emb = _unit(looks + rng.normal(0, EMBEDDING_NOISE, (n, EMBEDDING_DIM)))
        out.append(Detections(boxes=boxes, scores=scores, class_ids=np.zeros(n), embeddings=emb))
    return out


def time_ours(name: str, frames: list[Detections], on_demand: bool = False) -> float:
    """ms per frame of ``update``. Appearance trackers get every embedding, as Ultralytics' BOTSORT does;
    ``on_demand``: BoT-SORT picks the ones it wants (as in the pipeline), its selection included."""
    tr = build_tracker(load_config(tracker=name).tracker, fps=FPS)
    spent = 0.0
    for d in frames:
        if not tr.uses_appearance:
            d = Detections(boxes=d.boxes, scores=d.scores, class_ids=d.class_ids)
        t0 = time.perf_counter()
        tr.replay(d) if on_demand else tr.update(d)
        spent += time.perf_counter() - t0
    return 1000 * spent / len(frames)


OURS = ("sort", "deepsort", "bytetrack", "botsort")
# Peer rows: ByteTrack, BoT-SORT with appearance, SORT and OC-SORT of each library, camera motion off (timed apart).
PEERS = {
    "ul-bytetrack": peers.PEERS["ul-bytetrack"],
    "ul-botsort-reid": peers.PEERS["ul-botsort-reid"],  # without a frame its GMC step is skipped
    "boxmot-bytetrack": peers.PEERS["boxmot-bytetrack"],
    "boxmot-botsort-reid": peers.Peer("boxmot", "BotSort", {"use_cmc": False}),
    "boxmot-ocsort": peers.PEERS["boxmot-ocsort"],
    "rf-sort": peers.PEERS["rf-sort"],
    "rf-bytetrack": peers.PEERS["rf-bytetrack"],
    "rf-ocsort": peers.PEERS["rf-ocsort"],
    "rf-botsort": peers.PEERS["rf-botsort"],  # without a frame its CMC step is skipped
}
# ours -> the peers doing the same job, for the speed-up columns
FAMILIES = {
    "sort": ["rf-sort"],
    "bytetrack": ["ul-bytetrack", "boxmot-bytetrack", "rf-bytetrack"],
    "botsort": ["ul-botsort-reid", "boxmot-botsort-reid", "rf-botsort"],
}


def time_peer(name: str, frames: list[Detections]) -> float:
    """ms per frame of a peer's update (input conversion excluded)."""
    tr = peers.build(PEERS[name], FPS, (SCENE[1], SCENE[0]))
    spent = 0.0
    for d in frames:
        inputs = tr.inputs(d, None)
        t0 = time.perf_counter()
        tr.update(inputs)
        spent += time.perf_counter() - t0
    return 1000 * spent / len(frames)


def time_gmc(frames: int = 20) -> list[dict]:
    import cv2
    from ultralytics.trackers.utils.gmc import GMC

    rng = np.random.default_rng(0)
    base = cv2.resize((rng.random((135, 240)) * 255).astype(np.uint8), SCENE, interpolation=cv2.INTER_CUBIC)
    images = [
        cv2.cvtColor(np.roll(base, (i, 2 * i), axis=(0, 1)), cv2.COLOR_GRAY2BGR) for i in range(frames)
    ]
    rows = []
    for ours, theirs in (("sparse", "sparseOptFlow"), ("orb", "orb"), ("ecc", "ecc")):
        cmc = CameraMotion(load_config(overrides={"tracker.cmc.method": ours}).tracker.cmc)
        t0 = time.perf_counter()
        for img in images:
            cmc.estimate(img)
        mine = 1000 * (time.perf_counter() - t0) / frames
        gmc = GMC(method=theirs)
        t0 = time.perf_counter()
        for img in images:
            gmc.apply(img)
        other = 1000 * (time.perf_counter() - t0) / frames
        rows.append({"method": ours, "ours ms": mine, "ultralytics ms": other, "speed-up": other / mine})
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frames", type=int, default=60)
    ap.add_argument("--sizes", type=int, nargs="*", default=[10, 50, 100, 300, 1000])
    ap.add_argument("--repeat", type=int, default=3, help="runs per tracker and size; the fastest is kept")
    ap.add_argument("--cmc-frames", type=int, default=20,
                    help="frames for the camera-motion table (0: skip it; Ultralytics' ECC takes ~10 s a frame)")
    args = ap.parse_args()
    rows = []
    for n in args.sizes:
        frames = scene(n, args.frames)
        row = {"objects": n}
        # best of --repeat: the run least disturbed by other load on a shared machine, same for every column;
        # each round times every tracker once, so a slow spell of the machine hits them all alike
        runs = {name: partial(time_ours, name, frames) for name in OURS}
        runs["botsort on demand"] = partial(time_ours, "botsort", frames, on_demand=True)
        runs.update({name: partial(time_peer, name, frames) for name in PEERS})
        for _ in range(args.repeat):
            for name, run in runs.items():
                row[name] = min(row.get(name, np.inf), run())
        for ours, theirs in FAMILIES.items():
            fastest = min(theirs, key=row.get)
            row[f"{ours} vs fastest peer"] = f"{row[fastest] / row[ours]:.1f}x ({fastest})"
        row["fastest"] = min(runs, key=row.get)
        rows.append(row)
        print(row, flush=True)
    print()
    print(f"Machine: {machine()}; {args.frames} frames per scene, best of {args.repeat}; ms per frame, "
          "tracker update only")
    times = ["objects", *OURS, "botsort on demand", *PEERS]
    print(markdown_table(rows, times))
    print()
    print(markdown_table(rows, ["objects", *(f"{o} vs fastest peer" for o in FAMILIES), "fastest"]))
    r100 = next((r for r in rows if r["objects"] == 100), None)
    r1000 = next((r for r in rows if r["objects"] == 1000), None)
    if r100:
        best = min(r100["ul-bytetrack"] / r100["bytetrack"], r100["ul-botsort-reid"] / r100["botsort"])
        print(f"\ntarget: >= 5x faster than Ultralytics at 100 objects: {best:.1f}x -> {'MET' if best >= 5 else 'NOT MET'}")
    if r1000:
        worst = max(r1000["bytetrack"], r1000["botsort"])
        print(f"target: < 5 ms/frame at 1000 objects (bytetrack, botsort): {worst:.2f} ms -> "
              f"{'MET' if worst < 5 else 'NOT MET'}")
    slower = [f"{r['objects']} ({r['fastest']})" for r in rows if r["fastest"] in PEERS]
    print(f"target: ours the fastest at every size: {'MET' if not slower else 'NOT MET at ' + ', '.join(slower)}")
    if args.cmc_frames:
        print("\nCamera motion compensation, 1920x1080 frames:")
        print(markdown_table(time_gmc(args.cmc_frames), ["method", "ours ms", "ultralytics ms", "speed-up"]))


if __name__ == "__main__":
    main()
