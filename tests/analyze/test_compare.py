"""Comparing trackers on shared inputs: what the shared preparation must hold, and each tracker (one with
camera motion compensation among them) scoring as it does in its own run."""

from __future__ import annotations

import pytest

from conftest import SAMPLE_VIDEO, TINY_NAME

from tracker.analyze.compare import evaluate_trackers, preparation_config
from tracker.analyze.evaluation import evaluate_sequences
from tracker.config import load_config
from tracker.errors import ConfigError

MOT = {"detector.name": "mot", "appearance.name": "none"}


def test_shared_camera_motion_replays_each_tracker_as_its_own_run(tiny_seq, tmp_path):
    sort = load_config(tracker="sort", overrides=MOT)
    botsort = load_config(tracker="botsort", overrides={**MOT, "tracker.cmc.method": "sparse"})
    assert preparation_config([sort, botsort]) is botsort
    rows = evaluate_trackers([tiny_seq], [sort, botsort], tmp_path / "both", video=SAMPLE_VIDEO, log_line=print)
    assert [(r["tracker"], r["output"]) for r in rows] == [(t, o) for t in ("sort", "botsort") for o in ("raw", "smoothed")]
    for cfg in (sort, botsort):
        alone = evaluate_sequences([tiny_seq], cfg, tmp_path / cfg.tracker.name, video=SAMPLE_VIDEO)
        shared = [r for r in rows if r["tracker"] == cfg.tracker.name]
        # raw and smoothed alike: smoothing along the replayed camera motion is smoothing along the run's
        # camera_motion.csv (botsort compensates the sample's sparse flow; sort has none)
        for row, own in zip(shared, alone, strict=True):
            assert row["output"] == own["output"]
            assert row["HOTA"] == pytest.approx(own["HOTA"], abs=1e-9) and row["IDSW"] == own["IDSW"], cfg.tracker.name
        shared = (tmp_path / "both" / cfg.tracker.name / f"{TINY_NAME}.txt").read_text()
        assert shared == (tmp_path / cfg.tracker.name / f"{TINY_NAME}.txt").read_text()
    assert (tmp_path / "botsort" / f"{TINY_NAME}.camera_motion.csv").is_file()
    assert not (tmp_path / "sort" / f"{TINY_NAME}.camera_motion.csv").exists()


def test_needs_that_no_single_config_covers_are_refused():
    deepsort = load_config(tracker="deepsort")
    motion_only = load_config(tracker="botsort", overrides={"tracker.with_reid": False, "tracker.cmc.method": "sparse"})
    with pytest.raises(ConfigError, match="appearance embeddings and camera motion from different configurations"):
        preparation_config([deepsort, motion_only])
