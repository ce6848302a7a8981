"""Evaluation on MOTChallenge-format sequences, scored by TrackEval.

A sequence is a MOTChallenge folder (:func:`tracker.io.mot.find_sequence`) with
``gt/gt.txt`` and usually ``seqinfo.ini``; its frames come from ``img1/``, from a video
inside the folder, from a video named like the folder beside it
(``samples/pets09_s2l1_150`` + ``samples/pets09_s2l1_150.mp4``), or from a video given explicitly (``vtest.avi`` for PETS09-S2L1, where video frame
i is MOT frame i+1). No metric is computed here: TrackEval's HOTA, CLEAR and
Identity metrics do all of it.
"""

from __future__ import annotations

import contextlib
import io
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

import numpy as np

from ..config import Config, apply_overrides
from ..errors import DataError, SourceError
from ..io.files import prepare_out_dir
from ..io.mot import Sequence, find_sequence, read_gt, write_gt
from ..io.sinks import CAMERA_NAME, CameraMotionSink, MotSink, write_frames
from ..pipeline import Session
from ..structures import Tracks
from .smoothing import CameraPath, read_mot, smooth_tracks, write_mot

METRIC_KEYS = ("HOTA", "DetA", "AssA", "MOTA", "IDF1", "IDSW", "Frag")


def sequence_config(seq: Sequence, cfg: Config) -> Config:
    """``cfg`` for running on ``seq``: its det/det.txt for the ``mot`` detector, its seqinfo.ini frame rate."""
    overrides = {}
    if cfg.detector.name == "mot" and cfg.detector.det_file is None:
        if seq.det_file is None:
            raise SourceError(f"sequence {seq.name} has no det/det.txt", "Use another detector or set detector.det_file")
        overrides["detector.det_file"] = str(seq.det_file)
    if seq.fps is not None:
        overrides["source.fps"] = seq.fps
    return apply_overrides(cfg, overrides) if overrides else cfg


def run_sequence(seq: Sequence, cfg: Config, out_file: Path, detector=None, embedder=None,
                 camera_file: Path | None = None) -> dict:  # fmt: skip
    """Track one sequence into a MOTChallenge txt; returns timing figures. ``camera_file``: also write the camera
    motion the tracker compensated there (a camera_motion.csv), when it compensates any."""
    run_cfg = sequence_config(seq, cfg)
    session = Session(str(seq.frames), run_cfg, detector=detector, embedder=embedder)
    frames = 0
    tracking_s = 0.0
    started = time.perf_counter()
    try:
        with ExitStack() as stack:
            sinks = [stack.enter_context(MotSink(out_file))]
            if camera_file is not None and session.camera_motion is not None:
                sinks.append(stack.enter_context(CameraMotionSink(camera_file)))
            for result in session.results():
                if frames >= seq.length:
                    break
                tracking_s += session.last_tracker_seconds
                for sink in sinks:
                    sink.write(result)
                frames += 1
    finally:
        session.close()
    total = time.perf_counter() - started
    return {"frames": frames, "seconds": total, "tracker_ms": 1000 * tracking_s / max(frames, 1), "fps": session.fps}


def score(sequences: list[Sequence], results: dict[str, Path], tracker_name: str = "tracker") -> dict[str, dict]:
    """TrackEval HOTA / CLEAR / Identity for each sequence; ``results`` maps name -> MOT txt."""
    import trackeval

    out: dict[str, dict] = {}
    for seq in sequences:
        with tempfile.TemporaryDirectory() as tmp:
            tmp = Path(tmp)
            gt_dir = tmp / "gt" / seq.name / "gt"
            gt_dir.mkdir(parents=True)
            gt = read_gt(seq.gt_file)
            gt = gt[gt[:, 0] <= seq.length]
            write_gt(gt_dir / "gt.txt", gt)
            data_dir = tmp / "trackers" / tracker_name / "data"
            data_dir.mkdir(parents=True)
            (data_dir / f"{seq.name}.txt").write_bytes(Path(results[seq.name]).read_bytes())
            dataset_cfg = {
                "GT_FOLDER": str(tmp / "gt"),
                "TRACKERS_FOLDER": str(tmp / "trackers"),
                "TRACKERS_TO_EVAL": [tracker_name],
                "BENCHMARK": seq.benchmark,
                "SKIP_SPLIT_FOL": True,
                "SEQ_INFO": {seq.name: seq.length},
                "PRINT_CONFIG": False,
                "DO_PREPROC": seq.benchmark != "MOT15",
            }
            eval_cfg = {
                "USE_PARALLEL": False,
                "PRINT_RESULTS": False,
                "PRINT_CONFIG": False,
                "TIME_PROGRESS": False,
                "OUTPUT_SUMMARY": False,
                "OUTPUT_DETAILED": False,
                "PLOT_CURVES": False,
                "DISPLAY_LESS_PROGRESS": True,
            }
            evaluator = trackeval.Evaluator(eval_cfg)
            quiet = {"PRINT_CONFIG": False}
            metrics = [trackeval.metrics.HOTA(quiet), trackeval.metrics.CLEAR(quiet), trackeval.metrics.Identity(quiet)]
            with contextlib.redirect_stdout(io.StringIO()):
                res, msg = evaluator.evaluate([trackeval.datasets.MotChallenge2DBox(dataset_cfg)], metrics)
            status = msg["MotChallenge2DBox"][tracker_name]
            if status != "Success":
                raise DataError(f"TrackEval failed on {seq.name}: {status}")
            m = res["MotChallenge2DBox"][tracker_name][seq.name]["pedestrian"]
            out[seq.name] = {
                "HOTA": 100 * float(np.mean(m["HOTA"]["HOTA"])),
                "DetA": 100 * float(np.mean(m["HOTA"]["DetA"])),
                "AssA": 100 * float(np.mean(m["HOTA"]["AssA"])),
                "MOTA": 100 * float(m["CLEAR"]["MOTA"]),
                "IDF1": 100 * float(m["Identity"]["IDF1"]),
                "IDSW": int(m["CLEAR"]["IDSW"]),
                "Frag": int(m["CLEAR"]["Frag"]),
            }
    return out


def score_tracks(
    seq: Sequence, frames: list[Tracks], frame_indices: list[int] | None = None, tracker_name: str = "tracker"
) -> dict:
    """TrackEval metrics of in-memory results: ``frames[i]`` holds the tracks of 0-based frame
    ``frame_indices[i]`` (default: i)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"{seq.name}.txt"
        write_results(path, frames, frame_indices)
        return score([seq], {seq.name: path}, tracker_name)[seq.name]


def write_results(path: Path, frames: list[Tracks], frame_indices: list[int] | None = None) -> None:
    """A MOTChallenge results txt of in-memory tracks: ``frames[i]`` of 0-based frame ``frame_indices[i]``
    (default: i)."""
    indices = range(len(frames)) if frame_indices is None else frame_indices
    write_frames(MotSink(path), zip(indices, frames, strict=True))


def smooth_mot_file(src: Path, dst: Path, cfg: Config, fps: float, camera: CameraPath | None = None) -> None:
    """Write ``src``'s tracks (a MOTChallenge txt) to ``dst`` after ``cfg.smoothing``'s gap filling + RTS
    smoothing (along ``camera``, the run's camera motion), as ``tracker track`` applies them to tracks.txt."""
    write_mot(dst, smooth_tracks(read_mot(src), cfg.smoothing, fps, camera))


def evaluate_sequences(paths, cfg: Config, out_dir: Path, video=None) -> list[dict]:
    """Run ``cfg``'s tracker over each sequence, write its MOT txt under ``out_dir`` and score it.

    With ``cfg.smoothing.enabled`` (the default; ``--no-smooth`` turns it off) each sequence is also
    scored after smoothing (``<name>.smoothed.txt``, along ``<name>.camera_motion.csv`` when the tracker
    compensated camera motion): it then has two rows, whose ``output`` is ``raw`` and ``smoothed``.
    """
    if video is not None and len(paths) != 1:
        raise SourceError("--video names the frames of one sequence", "Pass a single sequence folder with --video")
    sequences = [find_sequence(p, video) for p in paths]  # first: a wrong folder leaves no empty out_dir behind
    out = prepare_out_dir(out_dir)
    rows = []
    for seq in sequences:
        result, camera_file = out / f"{seq.name}.txt", out / f"{seq.name}.{CAMERA_NAME}"
        timing = run_sequence(seq, cfg, result, camera_file=camera_file)
        outputs = {"raw": result}
        if cfg.smoothing.enabled:
            outputs["smoothed"] = out / f"{seq.name}.smoothed.txt"
            camera = CameraPath.read(camera_file) if camera_file.is_file() else None
            smooth_mot_file(result, outputs["smoothed"], cfg, timing["fps"], camera)
        for label, path in outputs.items():
            metrics = score([seq], {seq.name: path})[seq.name]
            row = {"sequence": seq.name, "tracker": cfg.tracker.name, **metrics, **timing}
            rows.append({**row, "output": label} if cfg.smoothing.enabled else row)
    return rows


def format_table(rows: list[dict], columns: tuple[str, ...] = ("sequence", "tracker") + METRIC_KEYS) -> str:
    """A Markdown table of evaluation rows (floats to one decimal)."""

    def cell(v):
        return f"{v:.1f}" if isinstance(v, float) else str(v)

    lines = ["| " + " | ".join(columns) + " |", "|" + "|".join("---" for _ in columns) + "|"]
    lines += ["| " + " | ".join(cell(r.get(c, "")) for c in columns) + " |" for r in rows]
    return "\n".join(lines)
