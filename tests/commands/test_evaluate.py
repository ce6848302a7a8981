"""``tracker eval SEQ --tracker a,b,c``: one table, the sequence detected (and embedded) once for all trackers,
and each row what evaluating that tracker alone gives."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import SAMPLE_VIDEO, TINY_NAME

from tracker.commands import main
from tracker.errors import ConfigError


@pytest.mark.parametrize(
    "trackers, appearance",
    [(["sort", "bytetrack", "botsort"], "none"), (["deepsort", "botsort"], "osnet")],
    ids=["motion-only", "shared-embeddings"],
)
def test_eval_compares_trackers_on_detections_computed_once(trackers, appearance, tiny_seq, tmp_path, capsys):
    def evaluate(out: Path, names: list[str]) -> list[str]:
        argv = ["eval", str(tiny_seq), "--video", str(SAMPLE_VIDEO), "--detector", "mot",
                "--appearance", appearance, "--out", str(out), "--tracker", ",".join(names)]  # fmt: skip
        assert main(argv) == 0
        return capsys.readouterr()

    together = evaluate(tmp_path / "all", trackers)
    table = together.out.splitlines()
    # smoothing is on by default: a raw and a smoothed row per tracker
    assert table[0].startswith("| sequence | tracker | output | HOTA |") and len(table) == 2 + 2 * len(trackers)
    assert together.err.count(f"prepared {TINY_NAME}:") == 1  # detected once, for every tracker
    for name, rows in zip(trackers, zip(table[2::2], table[3::2])):
        assert rows[0].startswith(f"| {TINY_NAME} | {name} | raw | ")
        assert rows[1].startswith(f"| {TINY_NAME} | {name} | smoothed | ")
        alone = evaluate(tmp_path / name, [name]).out.splitlines()
        assert list(rows) == alone[2:]  # the same numbers as the tracker's own run of the pipeline
        shared = (tmp_path / "all" / name / f"{TINY_NAME}.txt").read_text()
        assert shared == (tmp_path / name / f"{TINY_NAME}.txt").read_text()


def test_eval_tracker_list_mistakes(tiny_seq, tmp_path, capsys):
    for trackers, fragment in (("sort,sortt", "argument --tracker: invalid choice: 'sortt'"),
                               ("sort,sort", "--tracker lists a tracker twice")):  # fmt: skip
        try:
            code = main(["eval", str(tiny_seq), "--detector", "mot", "--tracker", trackers,
                         "--out", str(tmp_path / "eval")])  # fmt: skip
        except SystemExit as exit_:
            code = exit_.code
        err = capsys.readouterr().err
        assert code == ConfigError.exit_code and fragment in err, err
