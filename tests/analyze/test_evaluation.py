"""Evaluation: sequence discovery, TrackEval scoring, and a HOTA floor on the sample clip."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from tracker.analyze.evaluation import evaluate_sequences, format_table, score
from tracker.config import load_config
from tracker.errors import SourceError
from tracker.io.mot import find_sequence, read_gt

from conftest import SAMPLE_SEQ, SAMPLE_VIDEO

# The default pipeline (YOLOX-Nano + OSNet + BoT-SORT) scores HOTA 51.8 / IDF1 67.8 on the 150-frame
# sample; a drop below the floor is a regression. (The defaults before issue #13 scored 56.2 / 78.0 here:
# their thresholds were tuned on PETS09-S2L1, which the sample is the start of. Held out, on the whole
# sequence, today's default scores 54.5 / 73.5; tuning those thresholds without it gave 50.2 / 66.6
# there: benchmarks/RESEARCH.md.)
HOTA_FLOOR = 50.0
IDF1_FLOOR = 62.0


def test_find_sequence_uses_video_beside_folder():
    seq = find_sequence(SAMPLE_SEQ)
    assert seq.frames == SAMPLE_VIDEO
    assert seq.length == 150 and seq.fps == 7.0 and seq.benchmark == "MOT15"


def test_find_sequence_errors(tmp_path):
    with pytest.raises(SourceError, match="no ground truth"):
        find_sequence(tmp_path)
    (tmp_path / "gt").mkdir()
    shutil.copy(SAMPLE_SEQ / "gt" / "gt.txt", tmp_path / "gt" / "gt.txt")
    with pytest.raises(SourceError, match="no frames"):
        find_sequence(tmp_path)


def test_evaluate_checks_every_sequence_before_creating_the_out_dir(tmp_path):
    out = tmp_path / "eval"
    with pytest.raises(SourceError, match="no ground truth"):
        evaluate_sequences([SAMPLE_SEQ, tmp_path / "not_a_sequence"], load_config(), out_dir=out)
    assert not out.exists()


def _write(path, rows):
    np.savetxt(path, rows, delimiter=",", fmt="%.6g")
    return path


def test_ground_truth_as_tracks_scores_perfectly(tmp_path):
    seq = find_sequence(SAMPLE_SEQ)
    gt = read_gt(seq.gt_file)
    mine = gt[gt[:, 6] != 0, :6]  # rows marked 0 are ignore regions, not people to track
    rows = np.concatenate([mine, np.ones((len(mine), 1)), -np.ones((len(mine), 3))], axis=1)
    result = score([seq], {seq.name: _write(tmp_path / "t.txt", rows)})[seq.name]
    assert result["HOTA"] == pytest.approx(100.0)
    assert result["IDF1"] == pytest.approx(100.0)
    assert result["IDSW"] == 0


def test_swapped_identities_are_penalised(tmp_path):
    seq = find_sequence(SAMPLE_SEQ)
    gt = read_gt(seq.gt_file)
    rows = np.concatenate([gt[:, :6], np.ones((len(gt), 1)), -np.ones((len(gt), 3))], axis=1)
    ids = np.unique(rows[:, 1])
    late = rows[:, 0] > 75
    a, b = ids[0], ids[1]
    swap = late & np.isin(rows[:, 1], [a, b])
    rows[swap, 1] = np.where(rows[swap, 1] == a, b, a)
    result = score([seq], {seq.name: _write(tmp_path / "t.txt", rows)})[seq.name]
    assert result["IDSW"] >= 2
    assert 50 < result["IDF1"] < 100


@pytest.mark.slow
def test_default_pipeline_stays_above_hota_floor(tmp_path):
    rows = evaluate_sequences([SAMPLE_SEQ], load_config(), out_dir=tmp_path)
    assert rows[0]["HOTA"] >= HOTA_FLOOR, format_table(rows)
    assert rows[0]["IDF1"] >= IDF1_FLOOR, format_table(rows)
    assert (tmp_path / "pets09_s2l1_150.txt").is_file()
