"""``tracker tune``: precomputed detections, the Optuna search and the YAML it writes."""

from __future__ import annotations

import argparse

import numpy as np
import pytest
import yaml

from conftest import SAMPLE_VIDEO
from conftest import TINY_FRAMES as FRAMES
from conftest import TINY_NAME as NAME
from tracker.analyze import tuning
from tracker.commands import tune as tune_command
from tracker.config import TRACKERS, load_config
from tracker.errors import ConfigError
from tracker.pipeline import track


def _parse(argv):
    parser = argparse.ArgumentParser(prog="tracker")
    sub = parser.add_subparsers(dest="command")
    tune_command.add_parser(sub)
    return parser.parse_args(argv)


def test_tune_command_writes_a_loadable_yaml(tiny_seq, tmp_path, capsys):
    out = tmp_path / "best" / "best.yaml"
    args = _parse([
        "tune", str(tiny_seq), "--video", str(SAMPLE_VIDEO), "--tracker", "bytetrack", "--detector", "mot",
        "--appearance", "none", "--trials", "2", "--seed", "3", "--out", str(out),
    ])
    assert tune_command.run(args) == 0
    err = capsys.readouterr().err
    assert "trial   1/2" in err and "trial   2/2" in err  # one progress line per trial

    cfg = load_config(out)
    assert cfg.tracker.name == "bytetrack"
    text = out.read_text()
    header = [line for line in text.splitlines() if line.startswith("#")]
    assert any(f"{NAME} ({FRAMES} frames)" in line for line in header)
    assert any("2 trials" in line and "seed 3" in line for line in header)
    assert any("detector mot" in line and "appearance unused" in line for line in header)
    assert any("HOTA" in line for line in header)
    assert yaml.safe_load(text)["tracker"] == cfg.tracker.model_dump(mode="json")


def test_first_trial_is_the_starting_config_and_best_is_no_worse(tiny_seq):
    cfg = load_config(tracker="bytetrack", overrides={"detector.name": "mot", "appearance.name": "none"})
    prepared = tuning.prepare([str(tiny_seq)], cfg, video=str(SAMPLE_VIDEO), log=lambda line: None)
    assert len(prepared) == 1 and len(prepared[0].detections) == FRAMES and prepared[0].fps == 7.0
    assert prepared[0].frame_indices == list(range(FRAMES))
    lines = []
    result = tuning.tune(cfg, prepared, trials=3, seed=0, log=lines.append)
    assert len(lines) == 3 and result.trials == 3
    start = tuning.evaluate(cfg.tracker, prepared)[NAME]["HOTA"]
    assert result.start_hota == pytest.approx(start)
    assert result.hota >= result.start_hota
    assert tuning.evaluate(result.config.tracker, prepared)[NAME]["HOTA"] == pytest.approx(result.hota)


def test_recorded_camera_motion_replays_the_live_run(tiny_seq):
    cfg = load_config(tracker="botsort", overrides={
        "detector.name": "mot", "detector.det_file": str(tiny_seq / "det" / "det.txt"), "appearance.name": "none",
        "tracker.with_reid": False, "tracker.cmc.method": "sparse", "source.fps": 7.0,
    })
    prepared = tuning.prepare([str(tiny_seq)], cfg, video=str(SAMPLE_VIDEO), log=lambda line: None)[0]
    assert prepared.warps is not None and len(prepared.warps) == FRAMES
    replayed = tuning.run_tracker(cfg.tracker, prepared)
    live = [r.tracks for _, r in zip(range(FRAMES), track(str(SAMPLE_VIDEO), cfg))]
    for a, b in zip(replayed, live):
        assert a.track_ids.tolist() == b.track_ids.tolist()
        np.testing.assert_allclose(a.boxes, b.boxes, atol=1e-4)


@pytest.mark.parametrize("name", TRACKERS.names)
def test_search_ranges_contain_the_shipped_defaults(name):
    cfg = load_config(tracker=name)
    for p in tuning.search_space(cfg.tracker):
        assert p.low <= tuning._get(cfg.tracker, p.key) <= p.high, p.key


def test_bad_trial_count_is_a_config_error(tiny_seq):
    with pytest.raises(ConfigError, match="--trials"):
        tune_command.run(_parse(["tune", str(tiny_seq), "--trials", "0"]))
