"""``tracker eval SEQ --tracker sort,bytetrack,botsort``: several trackers on the same detections, one table.

Each sequence is detected (and embedded, and its camera motion measured, when a tracker needs
it) once, by :func:`~.tuning.prepare`; every tracker then runs over those inputs alone
(:func:`~.tuning.run_tracker`, which hands them over as the live pipeline would) and is scored
by TrackEval. Sharing the inputs is what makes the rows comparable: any difference between two
rows comes from the trackers, not from a detector run that differed.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

from ..config import Config
from ..errors import ConfigError, SourceError
from ..io.files import prepare_out_dir
from ..pipeline import wants_camera_motion
from ..tracking import Tracker
from .evaluation import score, smooth_mot_file, write_results
from .tuning import prepare, run_tracker


def _needs(cfg: Config) -> tuple[bool, bool]:
    """(appearance embeddings, camera motion): what ``cfg``'s tracker needs from the shared preparation."""
    appearance = Tracker.policies[type(cfg.tracker)].appearance_wanted(cfg.tracker) and cfg.appearance.name != "none"
    return appearance, wants_camera_motion(cfg)


def preparation_config(cfgs: list[Config]) -> Config:
    """The config whose run gives every tracker of ``cfgs`` what it needs: its tracker needs the most."""
    needs = [_needs(cfg) for cfg in cfgs]
    wanted = tuple(any(column) for column in zip(*needs))
    for cfg, need in zip(cfgs, needs):
        if need == wanted:
            return cfg
    raise ConfigError(
        "these trackers need appearance embeddings and camera motion from different configurations",
        "Evaluate them in separate `tracker eval` runs",
    )


def evaluate_trackers(paths, cfgs: list[Config], out_dir: Path, video=None, log_line=print) -> list[dict]:
    """Rows of (sequence, tracker, TrackEval metrics, tracker_ms) for every tracker config on every sequence;
    each tracker's MOT txt goes to ``out_dir/<tracker>/<sequence>.txt`` (``.smoothed.txt`` with smoothing)."""
    names = [cfg.tracker.name for cfg in cfgs]
    if len(set(names)) != len(names):
        raise ConfigError(f"--tracker lists a tracker twice: {','.join(names)}", "Name each tracker once")
    if video is not None and len(paths) != 1:
        raise SourceError("--video names the frames of one sequence", "Pass a single sequence folder with --video")
    shared = preparation_config(cfgs)
    prepared = prepare(list(paths), shared, video=video, log=log_line)  # checks every sequence first
    out = prepare_out_dir(out_dir)
    motion = [_needs(cfg)[1] for cfg in cfgs]
    rows = []
    for p in prepared:
        for cfg, uses_motion in zip(cfgs, motion):
            inputs = p if uses_motion else dataclasses.replace(p, warps=None)
            started = time.perf_counter()
            frames = run_tracker(cfg.tracker, inputs)
            tracker_ms = 1000 * (time.perf_counter() - started) / max(len(frames), 1)
            result = out / cfg.tracker.name / f"{p.seq.name}.txt"
            result.parent.mkdir(exist_ok=True)
            write_results(result, frames, p.frame_indices)
            outputs = {"raw": result}
            if cfg.smoothing.enabled:
                outputs["smoothed"] = result.with_suffix(".smoothed.txt")
                smooth_mot_file(result, outputs["smoothed"], cfg, p.fps, inputs.camera)
            for label, path in outputs.items():
                metrics = score([p.seq], {p.seq.name: path}, cfg.tracker.name)[p.seq.name]
                row = {"sequence": p.seq.name, "tracker": cfg.tracker.name, **metrics, "tracker_ms": tracker_ms}
                rows.append({**row, "output": label} if cfg.smoothing.enabled else row)
    return rows
