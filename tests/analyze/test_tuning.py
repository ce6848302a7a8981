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
from tracker.analyze.evaluation import evaluate_sequences
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
    assert any("HOTA" in line and "of the tracks files" in line for line in header)
    assert yaml.safe_load(text)["tracker"] == cfg.tracker.model_dump(mode="json")


def test_no_smooth_tunes_on_the_live_tracks(tiny_seq, tmp_path, capsys):
    out = tmp_path / "best.yaml"
    args = _parse([
        "tune", str(tiny_seq), "--video", str(SAMPLE_VIDEO), "--tracker", "bytetrack", "--detector", "mot",
        "--appearance", "none", "--trials", "1", "--no-smooth", "--out", str(out),
    ])
    assert tune_command.run(args) == 0
    assert "scoring HOTA of the live tracks" in capsys.readouterr().err
    assert "of the live tracks (smoothing off)" in out.read_text()


def test_first_trial_is_the_starting_config_and_best_is_no_worse(tiny_seq):
    cfg = load_config(tracker="bytetrack", overrides={"detector.name": "mot", "appearance.name": "none"})
    prepared = tuning.prepare([str(tiny_seq)], cfg, video=str(SAMPLE_VIDEO), log=lambda line: None)
    assert len(prepared) == 1 and len(prepared[0].detections) == FRAMES and prepared[0].fps == 7.0
    assert prepared[0].frame_indices == list(range(FRAMES))
    lines = []
    result = tuning.tune(cfg, prepared, trials=3, seed=0, log=lines.append)
    assert len(lines) == 3 and result.trials == 3
    start = tuning.evaluate(cfg.tracker, prepared, cfg.smoothing)[NAME]["HOTA"]
    assert result.start_hota == pytest.approx(start)
    assert result.hota >= result.start_hota
    assert tuning.evaluate(result.config.tracker, prepared, cfg.smoothing)[NAME]["HOTA"] == pytest.approx(result.hota)


@pytest.mark.parametrize("method", ["sparse", "auto"])
def test_recorded_camera_motion_replays_the_live_run(tiny_seq, method):
    cfg = load_config(tracker="botsort", overrides={
        "detector.name": "mot", "detector.det_file": str(tiny_seq / "det" / "det.txt"), "appearance.name": "none",
        "tracker.with_reid": False, "tracker.cmc.method": method, "source.fps": 7.0,
    })
    prepared = tuning.prepare([str(tiny_seq)], cfg, video=str(SAMPLE_VIDEO), log=lambda line: None)[0]
    assert prepared.warps is not None and len(prepared.warps) == FRAMES
    replayed = tuning.run_tracker(cfg.tracker, prepared)
    live = [r.tracks for _, r in zip(range(FRAMES), track(str(SAMPLE_VIDEO), cfg))]
    for a, b in zip(replayed, live):
        assert a.track_ids.tolist() == b.track_ids.tolist()
        np.testing.assert_allclose(a.boxes, b.boxes, atol=1e-4)


def test_trials_score_what_the_tracks_files_hold(tiny_seq, tmp_path):
    # smoothing on (the default): a trial's HOTA is eval's smoothed row, i.e. what tracker track writes, camera
    # motion followed; off: the live tracks
    cfg = load_config(tracker="botsort", overrides={
        "detector.name": "mot", "appearance.name": "none", "tracker.with_reid": False, "tracker.cmc.method": "sparse",
    })
    prepared = tuning.prepare([str(tiny_seq)], cfg, video=str(SAMPLE_VIDEO), log=lambda line: None)
    raw, smoothed = evaluate_sequences([tiny_seq], cfg, tmp_path, video=SAMPLE_VIDEO)
    assert (raw["output"], smoothed["output"]) == ("raw", "smoothed") and smoothed["HOTA"] != raw["HOTA"]
    assert tuning.evaluate(cfg.tracker, prepared, cfg.smoothing)[NAME]["HOTA"] == pytest.approx(smoothed["HOTA"])
    assert tuning.evaluate(cfg.tracker, prepared)[NAME]["HOTA"] == pytest.approx(raw["HOTA"])
    off = load_config(tracker="botsort", overrides={"smoothing.enabled": False})
    assert tuning.evaluate(cfg.tracker, prepared, off.smoothing)[NAME]["HOTA"] == pytest.approx(raw["HOTA"])


@pytest.mark.parametrize("name", TRACKERS.names)
def test_search_ranges_contain_the_shipped_defaults(name):
    cfg = load_config(tracker=name)
    for p in tuning.search_space(cfg.tracker):
        assert p.low <= tuning._get(cfg.tracker, p.key) <= p.high, p.key


def test_bad_trial_count_is_a_config_error(tiny_seq):
    with pytest.raises(ConfigError, match="--trials"):
        tune_command.run(_parse(["tune", str(tiny_seq), "--trials", "0"]))


def test_mechanisms_are_searched_only_when_turned_on():
    mechanisms = ["new_track_max_iou", "iou_buffer", "iterative_step", "direction_weight", "score_boost",
                  "shape_weight", "reid_thresh", "reid_max_speed"]  # fmt: skip
    off = load_config(tracker="botsort", overrides={"tracker.reid_gallery": 0, "tracker.direction_weight": 0.0}).tracker
    assert not {p.key for p in tuning.search_space(off)} & set(mechanisms)
    assert not {p.key for p in tuning.search_space(load_config(tracker="bytetrack").tracker)} & set(mechanisms)
    on = load_config(tracker="botsort", overrides={
        "tracker.iou_buffer": 0.2, "tracker.new_track_max_iou": 0.7, "tracker.assignment": "iterative",
        "tracker.direction_weight": 0.2, "tracker.score_boost": 0.65, "tracker.shape_weight": 0.25,
        "tracker.reid_gallery": 10,
    }).tracker  # fmt: skip
    keys = [p.key for p in tuning.search_space(on)]
    assert [k for k in keys if k in mechanisms] == mechanisms  # in the file's order
    for p in tuning.search_space(on):
        assert p.low <= tuning._get(on, p.key) <= p.high, p.key


def test_cv_prints_each_held_out_fold_and_writes_the_estimate_into_the_yaml(tiny_seq, tmp_path, capsys):
    """tune --cv: one fold per sequence (tuned on the others, scored on it), their mean as the headline,
    then the usual search on all of them; the YAML header carries the leave-one-out estimate."""
    other = tmp_path / "tiny2"
    for sub in ("gt", "det"):
        (other / sub).mkdir(parents=True)
        (other / sub / f"{sub}.txt").write_bytes((tiny_seq / sub / f"{sub}.txt").read_bytes())
    (other / "seqinfo.ini").write_text(f"[Sequence]\nname=tiny2\nframeRate=7\nseqLength={FRAMES}\n")
    for folder in (tiny_seq, other):  # each sequence reads the sample video's frames from beside its folder
        folder.with_suffix(".mp4").symlink_to(SAMPLE_VIDEO)
    out = tmp_path / "best.yaml"
    args = _parse(["tune", str(tiny_seq), str(other), "--tracker", "bytetrack", "--detector", "mot",
                   "--appearance", "none", "--trials", "1", "--cv", "--out", str(out)])  # fmt: skip
    assert tune_command.run(args) == 0
    printed = capsys.readouterr().out
    rows = [line for line in printed.splitlines() if line.startswith("| ")]
    assert rows[0].startswith("| held out")
    assert [r.split(" | ")[0] for r in rows[1:]] == ["| tiny", "| tiny2", "| **mean**"]
    assert "leave-one-sequence-out" in printed
    header = [line for line in out.read_text().splitlines() if line.startswith("#")]
    assert any(line.startswith("# leave-one-sequence-out") and "tiny " in line and "tiny2 " in line for line in header)


def test_cross_validation_needs_two_sequences(tiny_seq):
    cfg = load_config(tracker="bytetrack", overrides={"detector.name": "mot", "appearance.name": "none"})
    prepared = tuning.prepare([str(tiny_seq)], cfg, video=str(SAMPLE_VIDEO), log=lambda line: None)
    with pytest.raises(ConfigError, match="two sequences"):
        tuning.cross_validate(cfg, prepared, trials=1)
