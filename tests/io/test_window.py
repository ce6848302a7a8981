"""The live window under a virtual display (Xvfb): the video's size capped to the screen, resizable, no Qt noise."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import CLI_TIMEOUT_S, write_sample_det_file

ROOT = Path(__file__).resolve().parents[2]
SAMPLE_VIDEO = ROOT / "samples" / "pets09_s2l1_150.mp4"
SCREEN = (1024, 768)
XVFB_START_S = 20

pytestmark = pytest.mark.skipif(
    shutil.which("Xvfb") is None, reason="needs Xvfb (Debian: apt-get install xvfb; .ci/run installs it)"
)


@pytest.fixture(scope="module")
def display():
    """A virtual X display of SCREEN's size; its name (":N")."""
    read, write = os.pipe()
    proc = subprocess.Popen(
        ["Xvfb", "-displayfd", str(write), "-screen", "0", f"{SCREEN[0]}x{SCREEN[1]}x24", "-nolisten", "tcp"],
        pass_fds=(write,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    os.close(write)
    with os.fdopen(read) as pipe:
        number = pipe.readline().strip()  # Xvfb writes its display number once it accepts clients
    if not number:
        proc.kill()
        pytest.fail("Xvfb did not start")
    try:
        yield f":{number}"
    finally:
        proc.terminate()
        proc.wait(timeout=XVFB_START_S)


WINDOW_SCRIPT = """
import json, sys
import cv2, numpy as np
from tracker.io.sinks import WindowSink
sizes = {}
for title, (w, h) in json.loads(sys.argv[1]).items():
    window = WindowSink(title, size=(w, h))
    for _ in range(3):
        window.write_image(np.full((h, w, 3), 90, np.uint8))
    opened = cv2.getWindowImageRect(title)[2:]
    cv2.resizeWindow(title, w // 4, h // 4)
    for _ in range(3):
        window.write_image(np.full((h, w, 3), 90, np.uint8))
    sizes[title] = [opened, cv2.getWindowImageRect(title)[2:]]
    window.close()
print(json.dumps(sizes))
"""


def in_display(display: str, argv: list[str]) -> subprocess.CompletedProcess:
    env = {**os.environ, "DISPLAY": display, "PYTHONPATH": str(ROOT)}
    return subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=CLI_TIMEOUT_S)


def test_window_opens_at_the_video_size_capped_to_the_screen_and_resizes(display):
    frames = {"sample": (768, 576), "large": (1600, 1200)}
    done = in_display(display, [sys.executable, "-c", WINDOW_SCRIPT, json.dumps(frames)])
    assert done.returncode == 0, done.stderr
    sizes = json.loads(done.stdout.splitlines()[-1])
    assert sizes["sample"][0] == [768, 576]  # fits: the video's own size
    w, h = sizes["large"][0]  # 90 % of the screen, the video's shape kept
    assert w <= 0.9 * SCREEN[0] + 1 and h <= 0.9 * SCREEN[1] + 1 and abs(w / h - 4 / 3) < 0.01
    assert max(w, h) >= 0.9 * min(SCREEN)  # as large as fits
    assert sizes["sample"][1] == [192, 144]  # the user can resize it
    assert "Qt" not in done.stderr and "QFont" not in done.stderr, done.stderr


def test_show_runs_quietly(display, tmp_path):
    det = write_sample_det_file(tmp_path / "det.txt", 0.9)
    argv = [sys.executable, "-m", "tracker", "track", str(SAMPLE_VIDEO), "--show", "--max-frames", "5", "--quiet",
            "--out", str(tmp_path / "run"), "--detector", "mot", "--set", f"detector.det_file={det}",
            "--appearance", "none", "--no-video"]  # fmt: skip
    done = in_display(display, argv)
    assert done.returncode == 0, done.stderr
    noise = [line for line in done.stderr.splitlines() if "Qt" in line or "QFont" in line or "fonts" in line]
    assert noise == [], done.stderr
