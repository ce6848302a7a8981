"""``tracker tune``: search a tracker's thresholds for the best HOTA on MOTChallenge sequences.

Detections (and appearance embeddings, when the tracker uses them) are computed once
per sequence; each Optuna trial then only runs the tracker over them and scores the
result with TrackEval. The objective is the mean HOTA over the sequences, of the tracks as
``tracker track``'s files hold them (gap-filled and smoothed; with smoothing off, the live tracks). The first
trial is always the starting config, so the best config is never worse than it on
the tuning data. The best ``tracker:`` section is written as a YAML that
``tracker track --config best.yaml`` loads. What is searched, and over which range, is
written beside each default in ``configs/<tracker>.yaml`` (:func:`search_space`); camera
motion, when the tracker compensates it, is recorded with the detections and replayed.

With ``--cv`` the search is first judged leave-one-sequence-out (:func:`cross_validate`): for
each sequence, the thresholds are tuned on the others and scored on it. The mean of these
held-out scores estimates what the tuned config does on video it was not tuned on; the score
on the tuning sequences themselves does not.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import date

import numpy as np
import yaml

from ..config import Config, SmoothingConfig, apply_overrides, search_ranges
from ..errors import ConfigError, TrackerError
from ..io.mot import Sequence, find_sequence
from ..pipeline import Session
from ..structures import Detections, Tracks
from ..tracking import build_tracker
from .evaluation import score_tracks, sequence_config
from .smoothing import CameraPath, smooth_frames

DECIMALS = 4  # sampled floats are rounded to this many decimals, so the YAML is readable and reproduces its trial


@dataclass(frozen=True)
class Param:
    """One searched value: ``key`` is its dotted path inside the ``tracker:`` section."""

    key: str
    low: float
    high: float
    integer: bool = False
    log: bool = False


def search_space(tracker_cfg) -> tuple[Param, ...]:
    """The parameters searched for this tracker config: the ranges written beside the defaults in
    ``configs/<tracker>.yaml``, in the file's order (which fixes what a seed draws); a range whose
    ``when`` condition does not hold (:func:`_holds`) is left out, and a whole-number default makes an
    integer parameter."""
    params = []
    for key, spec in search_ranges(tracker_cfg.name).items():
        if "when" in spec and not _holds(tracker_cfg, spec["when"]):
            continue
        low, high = spec["range"]
        integer = isinstance(spec["default"], int) and not isinstance(spec["default"], bool)
        params.append(Param(key, low, high, integer=integer, log=bool(spec.get("log", False))))
    return tuple(params)


def _holds(tracker_cfg, condition: str) -> bool:
    """Whether a range's ``when`` holds for ``tracker_cfg``: ``KEY`` (its value is on: true, non-zero),
    ``KEY=VALUE`` or ``KEY!=VALUE`` (VALUE read as YAML). A mechanism that is off has nothing to tune."""
    for op in ("!=", "="):
        if op in condition:
            key, value = condition.split(op, 1)
            equal = _get(tracker_cfg, key.strip()) == yaml.safe_load(value)
            return equal if op == "=" else not equal
    return bool(_get(tracker_cfg, condition))


def _get(tracker_cfg, key: str):
    value = tracker_cfg
    for part in key.split("."):
        value = getattr(value, part)
    return value


# ----- precomputed inputs -------------------------------------------------------------------
@dataclass
class Prepared:
    """One sequence's inputs to the tracker, computed once."""

    seq: Sequence
    fps: float
    num_classes: int
    detections: list[Detections]
    frame_indices: list[int]  # 0-based source frame of each entry of detections
    warps: list[np.ndarray] | None  # camera motion per frame; None without CMC
    embedded: bool  # whether the detections carry appearance embeddings

    @property
    def camera(self) -> CameraPath | None:
        """The replayed camera motion as a path to smooth along; None without CMC."""
        return CameraPath(self.frame_indices, self.warps) if self.warps is not None else None

    @property
    def time_steps(self) -> np.ndarray:
        """Seconds before each frame, as the live pipeline steps the tracker (1 / fps before the first)."""
        return np.diff(np.asarray(self.frame_indices, np.float64), prepend=self.frame_indices[0] - 1) / self.fps


def prepare(paths: list[str], cfg: Config, video: str | None = None, log=print) -> list[Prepared]:
    """Detect (and embed, when ``cfg.tracker`` uses appearance) every frame of each sequence once."""
    if video is not None and len(paths) != 1:
        raise ConfigError("--video names the frames of one sequence", "Pass a single sequence folder with --video")
    sequences = [find_sequence(p, video) for p in paths]
    detector = embedder = None
    out = []
    for seq in sequences:
        run_cfg = sequence_config(seq, cfg)
        started = time.perf_counter()
        session = Session(str(seq.frames), run_cfg, detector=detector, embedder=embedder)
        detections, indices, warps = [], [], []
        try:
            for result in session.results(embed_all=True):  # replay hands them over as the run would
                if len(detections) >= seq.length:
                    break
                detections.append(result.detections)
                indices.append(result.frame_index)
                warps.append(session.last_warp)
        finally:
            session.close()
        if run_cfg.detector.name != "mot":  # a det.txt belongs to its sequence; models are reused
            detector = session.detector
        embedder = session.embedder or embedder
        out.append(
            Prepared(
                seq=seq,
                fps=session.fps,
                num_classes=len(session.detector.class_names),
                detections=detections,
                frame_indices=indices,
                warps=warps if session.camera_motion is not None else None,
                embedded=any(d.embeddings is not None for d in detections),  # by the embedder, or a det cache
            )
        )
        log(f"prepared {seq.name}: {len(detections)} frames, {sum(map(len, detections))} detections "
            f"in {time.perf_counter() - started:.1f}s")
    return out


def run_tracker(tracker_cfg, prepared: Prepared) -> list[Tracks]:
    """The tracker's output for every prepared frame."""
    tracker = build_tracker(tracker_cfg, prepared.fps, prepared.num_classes)
    warps = prepared.warps or [None] * len(prepared.detections)
    steps = prepared.time_steps.tolist()
    return [tracker.replay(d, dt, warp) for d, dt, warp in zip(prepared.detections, steps, warps)]


def evaluate(tracker_cfg, prepared: list[Prepared], smoothing: SmoothingConfig | None = None) -> dict[str, dict]:
    """TrackEval metrics of ``tracker_cfg`` on each prepared sequence: of the live tracks, or with ``smoothing``
    enabled of what ``tracker track`` writes to its tracks files (gaps filled, RTS-smoothed along the replayed
    camera motion)."""
    scores = {}
    for p in prepared:
        frames, indices = run_tracker(tracker_cfg, p), p.frame_indices
        if smoothing is not None and smoothing.enabled:
            frames, indices = smooth_frames(frames, indices, smoothing, p.fps, p.camera)
        scores[p.seq.name] = score_tracks(p.seq, frames, indices)
    return scores


# ----- the search -----------------------------------------------------------------------------
@dataclass
class TuneResult:
    config: Config  # the best config
    hota: float  # its mean HOTA
    scores: dict[str, dict]  # its metrics per sequence
    start_hota: float  # mean HOTA of the starting config (trial 0)
    trials: int  # trials completed
    best_trial: int


def _suggest(trial, params: tuple[Param, ...]) -> dict:
    values = {}
    for p in params:
        if p.integer:
            values[p.key] = trial.suggest_int(p.key, int(p.low), int(p.high), log=p.log)
        else:
            values[p.key] = round(trial.suggest_float(p.key, p.low, p.high, log=p.log), DECIMALS)
    return values


def tune(cfg: Config, prepared: list[Prepared], trials: int, seed: int = 0, timeout: float | None = None,
         log=print, params: tuple[Param, ...] | None = None) -> TuneResult:
    """Search ``cfg.tracker``'s thresholds (``params``, default :func:`search_space`) for the best mean HOTA;
    prints one line per trial via ``log``."""
    try:
        import optuna
    except ImportError:
        raise TrackerError("`tracker tune` needs optuna, which is not installed",
                           "Install it with: pip install 'tracker[tune]'") from None

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    params = search_space(cfg.tracker) if params is None else params
    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=seed))
    study.enqueue_trial({p.key: _get(cfg.tracker, p.key) for p in params}, skip_if_exists=False)
    names = [p.seq.name for p in prepared]

    def objective(trial) -> float:
        started = time.perf_counter()
        values = _suggest(trial, params)
        tracker_cfg = apply_overrides(cfg, {f"tracker.{k}": v for k, v in values.items()}).tracker
        scores = evaluate(tracker_cfg, prepared, cfg.smoothing)
        hota = float(np.mean([scores[n]["HOTA"] for n in names]))
        trial.set_user_attr("values", values)
        trial.set_user_attr("scores", scores)
        best = max(hota, study.best_value) if trial.number > 0 else hota
        per_seq = "  ".join(f"{n} {scores[n]['HOTA']:.2f}" for n in names)
        log(f"trial {trial.number + 1:>3}/{trials}  HOTA {hota:6.2f}  best {best:6.2f}  "
            f"[{per_seq}]  {time.perf_counter() - started:.1f}s")
        return hota

    study.optimize(objective, n_trials=trials, timeout=timeout)
    best = study.best_trial
    first = study.trials[0]
    values = best.user_attrs["values"]
    return TuneResult(
        config=apply_overrides(cfg, {f"tracker.{k}": v for k, v in values.items()}),
        hota=float(best.value),
        scores=best.user_attrs["scores"],
        start_hota=float(first.value),
        trials=len(study.trials),
        best_trial=best.number + 1,
    )


@dataclass
class Fold:
    """One leave-one-out fold: the config tuned without ``held_out`` and its scores on it."""

    held_out: str
    config: Config  # tuned on the other sequences
    tune_hota: float  # its mean HOTA on the sequences it was tuned on
    scores: dict  # its metrics on the held-out sequence


CV_METRICS = ("HOTA", "IDF1", "IDSW", "MOTA", "AssA", "DetA")


def cross_validate(cfg: Config, prepared: list[Prepared], trials: int, seed: int = 0, timeout: float | None = None,
                   log=print, params: tuple[Param, ...] | None = None) -> list[Fold]:
    """Leave-one-sequence-out: for each sequence, :func:`tune` on the others and score the result on it."""
    if len(prepared) < 2:
        raise ConfigError("leave-one-out needs at least two sequences", "Pass two or more sequence folders")
    folds = []
    for i, held in enumerate(prepared):
        name = held.seq.name
        log(f"fold {i + 1}/{len(prepared)}: tuning without {name}")
        result = tune(cfg, prepared[:i] + prepared[i + 1 :], trials, seed=seed, timeout=timeout, log=log, params=params)
        scores = evaluate(result.config.tracker, [held], cfg.smoothing)[name]
        log(f"fold {i + 1}/{len(prepared)}: held-out {name} HOTA {scores['HOTA']:.2f} "
            f"(tuning sequences {result.hota:.2f})")
        folds.append(Fold(name, result.config, result.hota, scores))
    return folds


def scored(cfg: Config) -> str:
    """What the HOTA of a tuning run scores, in words."""
    if cfg.smoothing.enabled:
        return "of the tracks files (gaps filled and smoothed, as tracker track writes them)"
    return "of the live tracks (smoothing off)"


def cv_mean(folds: list[Fold], metric: str = "HOTA") -> float:
    """Mean of ``metric`` over the held-out sequences: the leave-one-out estimate."""
    return float(np.mean([f.scores[metric] for f in folds]))


def format_folds(folds: list[Fold]) -> str:
    """A Markdown table: one row per held-out sequence, then their mean (the headline)."""
    head = ["held out", "HOTA on tuning seqs"] + [f"held-out {m}" for m in CV_METRICS]
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    for f in folds:
        cells = [f.held_out, f"{f.tune_hota:.2f}"] + [_cell(f.scores[m]) for m in CV_METRICS]
        lines.append("| " + " | ".join(cells) + " |")
    mean = ["**mean**", f"{np.mean([f.tune_hota for f in folds]):.2f}"]
    mean += [f"**{_cell(cv_mean(folds, m))}**" if m == "HOTA" else _cell(cv_mean(folds, m)) for m in CV_METRICS]
    lines.append("| " + " | ".join(mean) + " |")
    return "\n".join(lines)


def _cell(value) -> str:
    return str(value) if isinstance(value, (int, np.integer)) else f"{value:.2f}"


def best_yaml(result: TuneResult, prepared: list[Prepared], seed: int, folds: list[Fold] | None = None) -> str:
    """The YAML written by ``tracker tune``: a commented header and the full ``tracker:`` section."""
    cfg = result.config
    data = ", ".join(f"{p.seq.name} ({len(p.detections)} frames)" for p in prepared)
    per_seq = ", ".join(f"{name} {m['HOTA']:.2f}" for name, m in result.scores.items())
    idf1 = float(np.mean([m["IDF1"] for m in result.scores.values()]))
    lines = [
        f"# Tuned by `tracker tune` on {date.today().isoformat()}: tracker {cfg.tracker.name} on {data}",
        f"# detector {cfg.detector.name} (conf_threshold {cfg.detector.conf_threshold}), "
        f"appearance {cfg.appearance.name if any(p.embedded for p in prepared) else 'unused'}",
        f"# {result.trials} trials (Optuna TPE, seed {seed}); objective: mean HOTA over the sequences, "
        f"{scored(cfg)}",
        f"# best: trial {result.best_trial}, HOTA {result.hota:.2f} ({per_seq}), IDF1 {idf1:.2f}; "
        f"starting config (trial 1): HOTA {result.start_hota:.2f}",
        "# Use it with: tracker track VIDEO --config THIS_FILE",
    ]
    if folds:
        held = ", ".join(f"{f.held_out} {f.scores['HOTA']:.2f}" for f in folds)
        lines.insert(-1, f"# leave-one-sequence-out (tuned on the others, scored on each): HOTA {cv_mean(folds):.2f} "
                         f"({held}), IDF1 {cv_mean(folds, 'IDF1'):.2f}: what to expect on unseen video")
    section = cfg.tracker.model_dump(mode="json")
    section = {"name": section.pop("name"), **section}
    body = yaml.safe_dump({"tracker": section}, sort_keys=False)
    return "\n".join(lines) + "\n" + body
