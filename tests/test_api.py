"""The package's Python API as the README shows it: ``create_tracker`` fed your own detections, class names."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

import numpy as np
import pytest

import tracker
from helpers import write_sample_det_file
from tracker import pipeline

ROOT = Path(__file__).resolve().parents[1]
SAMPLE_VIDEO = ROOT / "samples" / "pets09_s2l1_150.mp4"


def readme_example(title: str) -> str:
    """The first ```python block after the README heading ``title``."""
    text = (ROOT / "README.md").read_text()
    section = text[text.index(f"### {title}") :]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_bring_your_own_detections_example_runs_as_documented():
    namespace: dict = {}
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(readme_example("Bring your own detections"), "README.md", "exec"), namespace)
    lines = out.getvalue().splitlines()
    assert len(lines) == 10  # two tracks in each of the five frames (ByteTrack confirms on the first frame)
    assert lines[0] == "frame 0: track 1 person at [100.0, 50.0, 140.0, 150.0] (detection 0)"
    assert lines[-1].startswith("frame 4: track 2 car") and "(detection 1)" in lines[-1]
    tracks = namespace["tracks"]
    assert tracks.track_ids.tolist() == [1, 2]
    np.testing.assert_allclose(tracks.boxes[0], [116, 50, 156, 150], atol=1.0)


def test_create_tracker_takes_a_config_or_a_name_and_overrides():
    sort = tracker.create_tracker("sort", fps=10, overrides=["tracker.n_init=1"])
    assert type(sort).__name__ == "Sort" and sort.cfg.n_init == 1 and sort.fps == 10
    cfg = tracker.load_config(tracker="deepsort")
    assert type(tracker.create_tracker(config=cfg, fps=25)).__name__ == "DeepSort"
    with pytest.raises(ValueError, match="either a Config or a tracker name"):
        tracker.create_tracker("sort", config=cfg, fps=25)


def test_frame_results_carry_the_class_names(tmp_path):
    det = write_sample_det_file(tmp_path / "det.txt", 0.9)
    overrides = {"detector.name": "mot", "detector.det_file": str(det), "appearance.name": "none"}
    results = list(pipeline.track(SAMPLE_VIDEO, overrides=overrides, max_frames=3))
    assert all(r.class_names == ("person",) for r in results)
    assert results[-1].track_class_names == ["person"] * len(results[-1].tracks) and len(results[-1].tracks)
