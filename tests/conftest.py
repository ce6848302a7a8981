"""Shared test fixtures: paths to the sample clip and the shared real data."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
SAMPLE_VIDEO = ROOT / "samples" / "pets09_s2l1_150.mp4"
SAMPLE_SEQ = ROOT / "samples" / "pets09_s2l1_150"
SHARED = ROOT.parent / "shared" / "data"
TINY_FRAMES = 20  # frames of the tiny_seq fixture
TINY_NAME = "tiny"
# Ray (tracker batch tests): every address it binds or contacts is 127.0.0.1, never another interface
os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")


@pytest.fixture
def shared_data() -> Path:
    if not SHARED.is_dir():
        pytest.skip(f"shared data not found at {SHARED}")
    return SHARED


@pytest.fixture(autouse=True)
def _restore_environment():
    """Each test starts from the suite's environment: ``tracker.commands.main`` run in-process sets variables
    (OpenCV's log level) that would otherwise reach every later test's subprocesses and hide what a
    fresh process prints."""
    saved = dict(os.environ)
    yield
    os.environ.clear()
    os.environ.update(saved)


@pytest.fixture
def tiny_seq(tmp_path):
    """The sample's first 20 frames as a sequence: its gt, and a det.txt of the gt with box noise and random scores."""
    rng = np.random.default_rng(0)
    gt = np.loadtxt(SAMPLE_SEQ / "gt" / "gt.txt", delimiter=",", ndmin=2)
    gt = gt[gt[:, 0] <= TINY_FRAMES]
    root = tmp_path / TINY_NAME
    (root / "gt").mkdir(parents=True)
    (root / "det").mkdir()
    np.savetxt(root / "gt" / "gt.txt", gt, delimiter=",", fmt="%.6g")
    det = gt[:, :7].copy()
    det[:, 1] = -1
    det[:, 2:6] += rng.normal(0.0, 2.0, (len(det), 4))
    det[:, 6] = rng.uniform(0.35, 1.0, len(det))
    np.savetxt(root / "det" / "det.txt", det, delimiter=",", fmt="%.6g")
    (root / "seqinfo.ini").write_text(f"[Sequence]\nname={TINY_NAME}\nframeRate=7\nseqLength={TINY_FRAMES}\n")
    return root
