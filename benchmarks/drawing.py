"""Annotation and video encoding cost per frame.

1. Annotator.draw (boxes, label layout, trails, info line) on a 1280x720 frame with N people
   standing close together (N = 10, 50), and the label layout alone; CPU ms per frame (one
   thread: CPU time is steadier than the wall clock on a shared machine).
2. Writing the sample clip (150 frames of 768x576): H.264 through PyAV (output.preset /
   output.crf) against OpenCV's mp4v, ms per frame of the writer alone, wall clock and CPU time
   (all threads), file size.
3. The whole pipeline on the sample with its ground truth as detections (no models: the
   writer's share is as large as it gets), frames per second with each codec.

    python benchmarks/drawing.py [--repeats 200]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

from common import machine, markdown_table

from tracker.config import load_config
from tracker.io.drawing import Annotator, _font_scale
from tracker.io.video import H264Writer, OpenCvWriter
from tracker.pipeline import run
from tracker.structures import Tracks

FRAME = (1280, 720)
PERSON = (40, 110)  # width, height of a person's box
SAMPLE = Path(__file__).resolve().parents[1] / "samples" / "pets09_s2l1_150.mp4"
X264_SETTINGS = [("ultrafast", 26), ("ultrafast", 23), ("superfast", 26), ("veryfast", 26)]


def crowd(n: int, seed: int = 0) -> Tracks:
    """``n`` people in the middle third of the frame, so that their labels compete for room."""
    rng = np.random.default_rng(seed)
    xy = rng.uniform([FRAME[0] / 3, FRAME[1] / 3], [2 * FRAME[0] / 3, 2 * FRAME[1] / 3], (n, 2))
    boxes = np.concatenate([xy, xy + PERSON], axis=1)
    return Tracks(boxes=boxes, scores=rng.uniform(0.3, 1.0, n), class_ids=np.zeros(n, np.int32),
                  track_ids=np.arange(1, n + 1), det_index=np.arange(n))  # fmt: skip


def time_draw(n: int, repeats: int) -> dict:
    tracks, image = crowd(n), np.full((FRAME[1], FRAME[0], 3), 90, np.uint8)
    annotator = Annotator(trail_length=0, line_thickness=2)
    annotator.draw(image, tracks, ["person"])  # warm-up: caches
    start = time.process_time()
    for i in range(repeats):
        annotator.draw(image, tracks, ["person"], frame_index=i)
    draw = (time.process_time() - start) / repeats
    valid = tracks.valid_mask()
    boxes = np.rint(tracks.boxes).astype(np.int64)
    reserved = np.zeros((0, 4))
    start = time.process_time()
    for _ in range(repeats):
        layout = Annotator.layout(tracks, valid, boxes, ["person"], image, _font_scale(image), 1, reserved)
    return {"tracks": n, "draw ms": 1000 * draw, "layout ms": 1000 * (time.process_time() - start) / repeats,
            "hidden labels": int((layout.choice < 0).sum())}  # fmt: skip


def sample_frames() -> list[np.ndarray]:
    cap = cv2.VideoCapture(str(SAMPLE))
    frames = []
    while (image := cap.read()[1]) is not None:
        frames.append(image)
    cap.release()
    return frames


def time_writer(name: str, make, frames: list[np.ndarray], fps: float) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "v.mp4"
        writer = make(path)
        wall, cpu = time.perf_counter(), time.process_time()
        for i, image in enumerate(frames):
            writer.write(image, i / fps)
        writer.close()
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        size = os.path.getsize(path)
    n = len(frames)
    return {"writer": name, "wall ms/frame": 1000 * wall / n, "cpu ms/frame": 1000 * cpu / n, "MB": size / 1e6}


def time_pipeline(codec: str, repeats: int = 3) -> dict:
    """Best of ``repeats`` runs over the sample, the ground truth as det.txt, no appearance model."""
    gt = np.loadtxt(SAMPLE.with_suffix("") / "gt" / "gt.txt", delimiter=",", usecols=range(6), ndmin=2)
    with tempfile.TemporaryDirectory() as tmp:
        det = Path(tmp) / "det.txt"
        det.write_text("".join(f"{int(f)},-1,{x},{y},{w},{h},0.9\n" for f, _, x, y, w, h in gt))
        cfg = load_config(overrides=[
            "detector.name=mot", f"detector.det_file={det}", "appearance.name=none", f"output.codec={codec}",
        ])  # fmt: skip
        fps = max(run(SAMPLE, Path(tmp) / "run", cfg, progress=False).fps for _ in range(repeats))
    return {"codec": codec, "pipeline fps": fps}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=200)
    args = parser.parse_args()
    print(f"machine: {machine()}; load average {os.getloadavg()[0]:.1f}\n")
    rows = [time_draw(n, args.repeats) for n in (10, 50)]
    print(markdown_table(rows, ["tracks", "draw ms", "layout ms", "hidden labels"]), "\n")
    frames, fps, size = sample_frames(), 7.0, (768, 576)
    keyframes = load_config().output.keyframe_interval_s
    rows = [time_writer("OpenCV mp4v", lambda p: OpenCvWriter(p, fps, size, "mp4v"), frames, fps)]
    for preset, crf in X264_SETTINGS:
        rows.append(time_writer(
            f"PyAV libx264 {preset} crf {crf}",
            lambda p: H264Writer(p, fps, size, live=False, crf=crf, preset=preset, keyframe_interval_s=keyframes),
            frames, fps,
        ))  # fmt: skip
    print(markdown_table(rows, ["writer", "wall ms/frame", "cpu ms/frame", "MB"]), "\n")
    rows = [time_pipeline(codec) for codec in ("mp4v", "h264")]
    print(markdown_table(rows, ["codec", "pipeline fps"]))


if __name__ == "__main__":
    main()
