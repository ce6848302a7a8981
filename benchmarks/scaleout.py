"""Scale out: a batch on 1 and 2 Ray workers, one file in 2 parallel parts against one run, and N streams through
one batched detector against N separate processes; then what 100 cameras at 25 fps would take.

- batch: ``--clips`` clips of ``--frames`` frames cut from vtest.avi (PETS09-S2L1), tracked by ``run_batch``
  on the local Ray instance it starts, with workers of one thread each (default pipeline, every output):
  1 and 2 workers pinned to one core each (``batch.pin_cores`` auto, the issue's "one thread each"), and 1
  and 2 unpinned workers (``batch.pin_cores`` false: a lone worker's pipeline threads spread over every
  core). ``--repeat`` rounds of the four, interleaved so a slow spell of the machine hits every row alike;
  a row shows its fastest round and the range, a speedup the median of its rounds' ratios (2 workers against
  1 in the same round). Throughput is frames / seconds from the first frame tracked to the last output
  closed (Ray's start and the workers' model loading left out: they are paid once per batch, whatever its
  length); the wall time (Ray's start included) is shown too.
- chunks: vtest.avi tracked by one ``tracker.pipeline.run`` (its detector on every core) and by
  ``run_chunked`` in 2 parts on 2 workers of one thread, each pinned to a core (the same threads in all),
  both writing every output; time from the first frame to the finalised outputs, and HOTA of each
  (TrackEval, MOT15 gt).
- overlap: how long chunks must overlap for a stitched file to score as one run: YOLOX-Nano detections cached
  once per sequence (``common.cached_detections``; ``--cache DIR`` reuses a cache), the default tracker replayed
  over the whole sequence and over its K parts, stitched by ``tracker.scale.chunks.stitch``, scored by TrackEval.
- streams: ``--streams`` clips read as one ``tracker track --sources`` run (one detector call per step for all
  of them) and as as many ``tracker track`` processes at once; frames per second in total, wall time
  including each side's start (one model load against N). And the packaged YOLOX alone: a batch of N
  frames in one call against N calls.

    python benchmarks/scaleout.py                       # about 7 minutes on 2 cores (3 rounds of the batch rows)
    python benchmarks/scaleout.py --quick               # small sizes, one round, about 2 minutes
    python benchmarks/scaleout.py --write               # and the tables into RESULTS.md, "Scale out"
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

import common
from common import ROOT, SHARED, cached_detections, machine, markdown_table, write_section

os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")  # every Ray address 127.0.0.1

from tracker.config import load_config  # noqa: E402
from tracker.analyze.evaluation import score, score_tracks  # noqa: E402
from tracker.io.mot import find_sequence  # noqa: E402

HEADING = "## Scale out (benchmarks/scaleout.py)"
OVERLAP_HEADING = "## Scale out: chunk overlap and accuracy (benchmarks/scaleout.py)"
TARGET_SPEEDUP = 1.8  # 2 workers pinned to a core each against 1 pinned to one core, on 2 cores (2x ideal)
BATCH_SETUPS = ((1, True), (2, True), (1, False), (2, False))  # (workers, pinned to a core each), each round
# (2 workers pinned?, 1 worker pinned?, what the ratio says): the first is the target
SPEEDUPS = (
    (True, True, "2 workers pinned to a core each / 1 pinned to one core"),
    (True, False, "2 workers pinned to a core each / 1 unpinned (spread over every core)"),
    (False, False, "2 unpinned workers / 1 unpinned"),
)
CAMERAS, CAMERA_FPS = 100, 25.0  # the estimate at the end
# (sequence folder, video or None, parts): PETS09 at 7 fps, MOT16-11 at 30 fps (moving camera), KITTI-17 at 10 fps
OVERLAP_SEQUENCES = [
    (("MOT15", "PETS09-S2L1"), "vtest.avi", 4),
    (("MOT16", "MOT16-11"), None, 4),
    (("MOT16", "MOT16-11"), None, 8),
    (("MOT15", "KITTI-17"), None, 2),
]
OVERLAPS_S = (1.0, 2.0, 3.0, 4.0)


def cut_clips(video: Path, folder: Path, clips: int, frames: int) -> list[Path]:
    """``clips`` consecutive cuts of ``frames`` frames of ``video`` (wrapping around), as mp4 files."""
    import cv2

    cap = cv2.VideoCapture(str(video))
    fps = cap.get(cv2.CAP_PROP_FPS)
    images = []
    while (ok_image := cap.read())[0]:
        images.append(ok_image[1])
    cap.release()
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for k in range(clips):
        path = folder / f"clip{k}.mp4"
        height, width = images[0].shape[:2]
        writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (width, height))
        for i in range(frames):
            writer.write(images[(k * frames + i) % len(images)])
        writer.release()
        paths.append(path)
    return paths


def bench_batch(clips: list[Path], out: Path, repeat: int) -> tuple[list[dict], list[dict]]:
    """The batch rows (each setup's fastest round) and the speedups (medians of the rounds' ratios)."""
    from tracker.scale.batch import run_batch

    runs: dict[tuple[int, bool], list[dict]] = {setup: [] for setup in BATCH_SETUPS}
    for _ in range(repeat):
        for workers, pinned in BATCH_SETUPS:
            cfg = load_config(overrides={"batch.pin_cores": "auto" if pinned else False})
            notes: list[str] = []
            started = time.perf_counter()
            result = run_batch([str(c) for c in clips], out / f"w{workers}", cfg, force=True, workers=workers,
                               threads=1, progress=False, notify=notes.append)  # fmt: skip
            wall = time.perf_counter() - started
            assert not result.failed, result.failed
            # the executor's start line: Ray workers (not this process), pinned only where asked
            assert "Ray worker" in notes[0] and ("pinned to cores" in notes[0]) == pinned, notes[0]
            runs[workers, pinned].append({"frames": result.frames, "tracking s": result.seconds,
                                          "fps": result.frames / result.seconds, "wall s": wall})  # fmt: skip
            print({"workers": workers, "pinned": pinned, "fps": round(runs[workers, pinned][-1]["fps"], 1)},
                  flush=True)  # fmt: skip
    rows = []
    for (workers, pinned), setup_runs in runs.items():
        fps = sorted(r["fps"] for r in setup_runs)
        rows.append({"workers": workers, "cores": "1 each, pinned" if pinned else "every core, unpinned",
                     "threads each": 1, "clips": len(clips), **max(setup_runs, key=lambda r: r["fps"]),
                     "fps range": f"{fps[0]:.1f}-{fps[-1]:.1f}" if repeat > 1 else ""})  # fmt: skip
    speedups = []
    for two_pinned, one_pinned, name in SPEEDUPS:
        ratios = [two["fps"] / one["fps"] for two, one in zip(runs[2, two_pinned], runs[1, one_pinned])]
        speedups.append({"2 workers against 1": name, "speedup": float(np.median(ratios)),
                         "rounds": ", ".join(f"{r:.2f}" for r in ratios)})  # fmt: skip
    return rows, speedups


def bench_chunks(out: Path) -> list[dict]:
    from tracker.analyze.smoothing import smooth_finished_run
    from tracker.pipeline import run
    from tracker.scale.batch import run_chunked

    seq = find_sequence(SHARED / "MOT15" / "PETS09-S2L1", SHARED / "vtest.avi")
    cfg = load_config(overrides={"source.fps": seq.fps})
    single = run(seq.frames, out / "single", cfg, progress=False)
    started = time.perf_counter()  # then smoothed as `tracker track` does (the stitch job smooths the parts' run)
    smooth_finished_run(single.out_dir, cfg, single.source_fps, single.outputs)
    single.seconds += time.perf_counter() - started
    chunked = run_chunked(str(seq.frames), out / "chunks", cfg, 2, workers=2, threads=1, progress=False,
                          notify=lambda text: None)  # fmt: skip
    rows = []
    for name, summary, folder in (("one run, detector on 2 threads", single, "single"),
                                  ("--chunks 2, 2 workers x 1 thread, a core each", chunked, "chunks")):  # fmt: skip
        metrics = score([seq], {seq.name: out / folder / "tracks.txt"})[seq.name]
        rows.append({"run": name, "frames": summary.frames, "seconds": summary.seconds,
                     "fps": summary.frames / summary.seconds, "HOTA": metrics["HOTA"], "IDF1": metrics["IDF1"]})
    rows[1]["time ratio"] = f"{rows[1]['seconds'] / rows[0]['seconds']:.2f}"
    rows[1]["HOTA delta"] = _signed(rows[1]["HOTA"] - rows[0]["HOTA"])
    return rows


def _signed(delta: float) -> str:
    return f"{round(delta, 2) + 0.0:+.2f}"  # + 0.0: no "-0.00" for a difference that rounds to nothing


def bench_overlap() -> list[dict]:
    from tracker.scale.chunks import ChunkTracks, plan_chunks, stitch, stitched_results
    from tracker.structures import Detections, FrameResult
    from tracker.tracking import build_tracker

    cfg = load_config()
    rows = []
    for folder, video, count in OVERLAP_SEQUENCES:
        seq = find_sequence(SHARED.joinpath(*folder), SHARED / video if video else None)
        cached = cached_detections(seq, "yolox")
        fps, frames = seq.fps, len(cached.detections)

        def replay(start: int, stop: int) -> list[FrameResult]:
            tracker = build_tracker(cfg.tracker, fps)
            return [FrameResult(frame_index=i, time_s=i / fps, tracks=tracker.replay(cached.detections[i]),
                                detections=Detections.empty()) for i in range(start, stop)]  # fmt: skip

        one = score_tracks(seq, [r.tracks for r in replay(0, frames)])
        for overlap in OVERLAPS_S:
            if round(overlap * fps) >= frames // count:  # parts no longer than their overlap
                continue
            parts = []
            for chunk in plan_chunks(frames, fps, count, overlap):
                results = replay(chunk.start, chunk.stop)
                part = ChunkTracks.from_tracks(chunk, ["person"], [r.frame_index for r in results],
                                               [r.tracks for r in results])  # fmt: skip
                part.max_gap = build_tracker(cfg.tracker, fps).max_age_frames
                parts.append(part)
            results = list(stitched_results(stitch(parts, cfg.chunks.min_iou), fps))
            stitched = score_tracks(seq, [r.tracks for r in results], [r.frame_index for r in results])
            rows.append({"sequence": seq.name, "fps": fps, "parts": count, "overlap s": overlap,
                         "overlap frames": round(overlap * fps), "HOTA one run": one["HOTA"],
                         "HOTA delta": _signed(stitched["HOTA"] - one["HOTA"]),
                         "IDF1 delta": _signed(stitched["IDF1"] - one["IDF1"]),
                         "IDSW": f"{stitched['IDSW']} ({one['IDSW']})"})  # fmt: skip
            print(rows[-1], flush=True)
    return rows


def bench_streams(clips: list[Path], out: Path) -> list[dict]:
    listing = out / "streams.txt"
    listing.write_text("\n".join(map(str, clips)) + "\n")
    rows = []
    started = time.perf_counter()
    proc = _tracker("track", "--sources", str(listing), "--out", str(out / "one"), "--quiet")
    wall = time.perf_counter() - started
    frames = sum(_frames_written(out / "one" / c.stem) for c in clips)
    calls = _detector_calls(proc.stderr)
    rows.append({"setup": f"1 process, {len(clips)} streams, one batched detector", "frames": frames,
                 "wall s": wall, "fps in total": frames / wall, "frames per detector call": calls})  # fmt: skip
    started = time.perf_counter()
    procs = [_tracker("track", str(c), "--out", str(out / "separate" / c.stem), "--quiet", wait=False) for c in clips]
    for p in procs:
        p.wait()
    wall = time.perf_counter() - started
    frames = sum(_frames_written(out / "separate" / c.stem) for c in clips)
    rows.append({"setup": f"{len(clips)} tracker track processes at once", "frames": frames, "wall s": wall,
                 "fps in total": frames / wall, "frames per detector call": 1.0})  # fmt: skip
    return rows


def _tracker(*args: str, wait: bool = True):
    command = [sys.executable, "-m", "tracker", *args]
    if not wait:
        return subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    proc = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    return proc


def _frames_written(folder: Path) -> int:
    import json

    return json.loads((folder / "run.json").read_text())["frames_written"]


def _detector_calls(stderr: str) -> float:
    """Frames per detector call from the last line of ``tracker track --sources``."""
    line = stderr.strip().splitlines()[-1]  # "N frames of K streams in C detector calls (F frames per call)"
    return float(line.rsplit("(", 1)[1].split()[0])


def bench_detector_batch(batch: int, repeats: int) -> list[dict]:
    """The packaged YOLOX on ``batch`` frames, on one thread as in a batch worker: one call against one call per
    frame (median of ``repeats``)."""
    import cv2

    from tracker.detect.detectors import build_detector

    detector = build_detector(load_config(overrides={"detector.threads": 1}).detector)
    cap = cv2.VideoCapture(str(SHARED / "vtest.avi"))
    images = [cap.read()[1] for _ in range(batch)]
    cap.release()
    detector.detect(images, list(range(batch)))  # warm up
    timings = {"one call": [], "one call per frame": []}
    for _ in range(repeats):
        started = time.perf_counter()
        detector.detect(images, list(range(batch)))
        timings["one call"].append(time.perf_counter() - started)
        started = time.perf_counter()
        for i, image in enumerate(images):
            detector.detect([image], [i])
        timings["one call per frame"].append(time.perf_counter() - started)
    return [{"YOLOX-Nano (packaged), 1 thread": f"{batch} frames, {name}", "ms per frame": 1000 * np.median(t) / batch}
            for name, t in timings.items()]  # fmt: skip


def estimate(batch_rows: list[dict], detector_rows: list[dict]) -> str:
    """What 100 cameras at 25 fps take, from this machine's figures (CPU only: no GPU was measured)."""
    needed = CAMERAS * CAMERA_FPS
    per_worker = batch_rows[0]["fps"]  # one worker pinned to one core, every stage and output
    cpu_ms = 1000 / per_worker  # one core's time per frame (its decoding and writing threads included)
    detector_ms = min(r["ms per frame"] for r in detector_rows)
    lines = [
        f"Estimate for {CAMERAS} cameras at {CAMERA_FPS:g} fps ({needed:.0f} frames/s), from the figures above "
        "(this machine's cores; scale by yours):",
        "",
        f"- CPU only: a worker pinned to one core tracks {per_worker:.1f} fps with every output ({cpu_ms:.0f} ms of "
        f"a core per frame), so about {np.ceil(needed / per_worker):.0f} workers, i.e. as many cores: "
        f"{np.ceil(needed / per_worker / 32):.0f} nodes of 32 cores running `tracker track --sources` (one process "
        "per node and its share of the cameras) or `tracker batch` for recorded video.",
    ]
    gpus = (f"GPUs: {needed:.0f} YOLOX-Nano frames/s over one GPU's batched YOLOX-Nano throughput, which no session "
            "has measured yet (no GPU lent); `--gpus-per-worker` packs workers on a GPU.")  # fmt: skip
    if detector_ms < cpu_ms:
        rest_ms = cpu_ms - detector_ms
        lines.append(
            f"- With GPUs: the detector ({detector_ms:.1f} ms of those {cpu_ms:.0f} ms on one thread) moves to the "
            f"GPU, leaving about {rest_ms:.0f} ms of CPU per frame for decoding, ReID crops, tracking, drawing and "
            f"encoding: about {np.ceil(needed * rest_ms / 1000):.0f} cores for {needed:.0f} frames/s (about 3 ms a "
            f"frame less without the annotated video). {gpus}"
        )
    else:  # the two rows ran under different load: no split to read
        lines.append(
            f"- With GPUs: not estimable from this run: the detector alone ({detector_ms:.1f} ms a frame) took longer "
            f"than a whole worker's frame ({cpu_ms:.0f} ms), so the machine's load changed between the rows; re-run "
            f"on a quiet machine. The CPU left per frame is the worker's time less the detector's. {gpus}"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clips", type=int, default=8)
    parser.add_argument("--frames", type=int, default=100, help="frames per batch clip")
    parser.add_argument("--streams", type=int, default=4)
    parser.add_argument("--stream-frames", type=int, default=150)
    parser.add_argument("--repeat", type=int, help="rounds of the batch rows, interleaved (default: 3; --quick: 1)")
    parser.add_argument("--quick", action="store_true", help="--frames 40 --stream-frames 60, no chunks table")
    parser.add_argument("--write", action="store_true", help="write the tables into RESULTS.md")
    parser.add_argument("--cache", type=Path, help="detection cache folder (default: benchmarks/.cache)")
    parser.add_argument("--only-overlap", action="store_true", help="only the overlap table (no timings)")
    args = parser.parse_args()
    if args.quick:
        args.frames, args.stream_frames = 40, 60
    if args.repeat is not None and args.repeat < 1:
        parser.error("--repeat must be at least 1")
    repeat = args.repeat or (1 if args.quick else 3)
    if args.cache is not None:
        common.CACHE = args.cache
    overlap_rows = bench_overlap()
    print(markdown_table(overlap_rows, list(overlap_rows[0])), "\n", flush=True)
    if args.only_overlap:
        if args.write:
            write_section(OVERLAP_HEADING, _overlap_text(overlap_rows))
        return
    # every batch and chunked run starts (and stops) a local Ray of its own: only there are its workers pinned
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="scaleout-") as tmp:
        tmp = Path(tmp)
        clips = cut_clips(SHARED / "vtest.avi", tmp, args.clips, args.frames)
        batch_rows, speedups = bench_batch(clips, tmp / "batch", repeat)
        print(markdown_table(batch_rows, list(batch_rows[0])), "\n", flush=True)
        print(markdown_table(speedups, list(speedups[0])), "\n", flush=True)
        chunk_rows = [] if args.quick else bench_chunks(tmp / "chunks")
        if chunk_rows:
            print(markdown_table(chunk_rows, list(chunk_rows[0]) + ["time ratio", "HOTA delta"]), "\n", flush=True)
        stream_clips = cut_clips(SHARED / "vtest.avi", tmp / "streams", args.streams, args.stream_frames)
        stream_rows = bench_streams(stream_clips, tmp)
        print(markdown_table(stream_rows, list(stream_rows[0])), "\n", flush=True)
        detector_rows = bench_detector_batch(args.streams, repeats=5)
        print(markdown_table(detector_rows, list(detector_rows[0])), "\n", flush=True)
    text = estimate(batch_rows, detector_rows)
    print(text)
    load = os.getloadavg()[0]
    minutes = (time.perf_counter() - started) / 60
    verdict = _verdict(speedups)
    print(f"\n{verdict}; load average {load:.1f} at the end; {minutes:.1f} min")
    if args.write:
        body = [
            f"`python benchmarks/scaleout.py {' '.join(sys.argv[1:])}` ({minutes:.1f} min)",
            f"Machine: {machine()}; load average {load:.1f} at the end. Batch rows: fastest of {repeat} interleaved "
            "round(s); speedups: median of the rounds' ratios.",
            markdown_table(batch_rows, list(batch_rows[0])),
            markdown_table(speedups, list(speedups[0])),
            f"- {verdict}",
        ]
        if chunk_rows:
            body.append(markdown_table(chunk_rows, list(chunk_rows[0]) + ["time ratio", "HOTA delta"]))
        body += [markdown_table(rows, list(rows[0])) for rows in (stream_rows, detector_rows)]
        body.append(text)
        write_section(HEADING, "\n\n".join(body))
        write_section(OVERLAP_HEADING, _overlap_text(overlap_rows))


def _verdict(speedups: list[dict]) -> str:
    """The issue's target (2 workers pinned to a core each against 1 pinned to one), beside the ratio against one
    unpinned worker, which has both cores to itself."""
    pinned, against_unpinned = speedups[0]["speedup"], speedups[1]["speedup"]
    met = "MET" if pinned >= TARGET_SPEEDUP else "NOT MET"
    return (f"batch, 2 workers pinned to a core each: {pinned:.2f}x one worker pinned to one core (target >= "
            f"{TARGET_SPEEDUP}x: {met}), {against_unpinned:.2f}x one unpinned worker")  # fmt: skip


def _overlap_text(rows: list[dict]) -> str:
    return "\n\n".join([
        "`python benchmarks/scaleout.py --only-overlap`: accuracy only, the same on any machine. HOTA of one run "
        "over the whole sequence and its change when the sequence is tracked in parts and stitched (YOLOX-Nano "
        "detections cached once, default BoT-SORT replayed); IDSW of the stitched run (of one run).",
        markdown_table(rows, list(rows[0])),
    ])


if __name__ == "__main__":
    main()
