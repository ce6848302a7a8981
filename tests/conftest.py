"""Shared test fixtures: paths to the sample clip and the shared real data."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SAMPLE_VIDEO = ROOT / "samples" / "pets09_s2l1_150.mp4"
SAMPLE_SEQ = ROOT / "samples" / "pets09_s2l1_150"
SHARED = ROOT.parent / "shared" / "data"


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
