"""A batch's sources: files, quoted globs and .txt lists, once each, with unique output folder names; and the
batch.csv ledger that a re-run resumes from."""

from __future__ import annotations

import pytest

from tracker.errors import ConfigError
from tracker.scale.ledger import DONE, FAILED, INTERRUPTED, Ledger, Row
from tracker.scale.sourcelist import expand_sources, unique_names


def touch(path):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x")
    return path


def test_globs_are_expanded_sorted_and_every_source_named_once(tmp_path):
    for name in ("b.mp4", "a.mp4", "notes.md"):
        touch(tmp_path / "videos" / name)
    sources = expand_sources([str(tmp_path / "videos" / "*.mp4"), str(tmp_path / "videos" / "a.mp4")])
    assert [s.spec for s in sources] == [str(tmp_path / "videos" / "a.mp4"), str(tmp_path / "videos" / "b.mp4")]
    assert [s.name for s in sources] == ["a", "b"] and not any(s.problem for s in sources)


def test_a_list_file_names_paths_relative_to_itself_cameras_and_urls(tmp_path):
    touch(tmp_path / "day1" / "cam.mp4")
    touch(tmp_path / "day2" / "cam.mp4")
    listing = tmp_path / "sources.txt"
    listing.write_text("# recorded sessions\nday1/cam.mp4\n\n  day2/cam.mp4  \nrtsp://10.0.0.5/live\n0\n")
    sources = expand_sources([str(listing)])
    assert [s.spec for s in sources] == [
        str(tmp_path / "day1" / "cam.mp4"), str(tmp_path / "day2" / "cam.mp4"), "rtsp://10.0.0.5/live", "0",
    ]  # fmt: skip
    assert [s.name for s in sources] == ["cam", "cam-2", "live", "camera0"]  # one output folder each


def test_a_pattern_that_matches_nothing_is_a_source_with_a_problem(tmp_path):
    sources = expand_sources([str(tmp_path / "*.avi")])
    assert len(sources) == 1 and sources[0].problem == f"no file matches {tmp_path / '*.avi'}"


def test_an_empty_list_is_an_error(tmp_path):
    (tmp_path / "empty.txt").write_text("# nothing yet\n")
    with pytest.raises(ConfigError, match="names no source"):
        expand_sources([str(tmp_path / "empty.txt")])


def test_unique_names_never_reuse_a_name_already_taken():
    assert unique_names(["cam", "cam-2", "cam", "cam"]) == ["cam", "cam-2", "cam-3", "cam-4"]


def test_the_ledger_round_trips_and_only_finished_runs_count_as_done(tmp_path):
    ledger = Ledger(tmp_path)
    ledger.record(Row("/v/a.mp4", "a", DONE, 30, 4, 14.5, 2.07))
    ledger.record(Row("/v/b.mp4", "b", FAILED, error='cannot open video "b", it is, broken'))
    ledger.record(Row("/v/c.mp4", "c", INTERRUPTED, 12))
    touch(tmp_path / "a" / "run.json")
    again = Ledger(tmp_path)
    assert list(again.rows) == ["/v/a.mp4", "/v/b.mp4", "/v/c.mp4"]
    assert again.rows["/v/a.mp4"] == Row("/v/a.mp4", "a", DONE, 30, 4, 14.5, 2.07)
    assert again.rows["/v/b.mp4"].error == 'cannot open video "b", it is, broken'  # quoted by csv
    assert [again.finished(s) for s in again.rows] == [True, False, False]
    (tmp_path / "a" / "run.json").unlink()
    assert not Ledger(tmp_path).finished("/v/a.mp4")  # its outputs are gone: track it again
    header = (tmp_path / "batch.csv").read_text().splitlines()[0]
    assert header == "source,output,status,frames,tracks,fps,seconds,error"
