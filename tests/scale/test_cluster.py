"""A batch on a two-node Ray cluster (simulated on this machine by ray.cluster_utils.Cluster) that loses a node
while both nodes track: the lost source goes back to the queue, and every source ends complete."""

from __future__ import annotations

import json
import logging
import threading
import time
from pathlib import Path

import pytest

from helpers import CLI_TIMEOUT_S, write_clip

from tracker.config import load_config
from tracker.scale.batch import run_batch

ray = pytest.importorskip("ray")
cluster_utils = pytest.importorskip("ray.cluster_utils")
pytestmark = pytest.mark.cluster

CLIP_FRAMES = 60
SOURCES = 5


@pytest.fixture(scope="module")
def two_nodes():
    """A head node and a worker node of one CPU each, this process as the driver."""
    cluster = cluster_utils.Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False})
    worker_node = cluster.add_node(num_cpus=1)
    ray.init(address=cluster.address, include_dashboard=False, log_to_driver=False, logging_level=logging.ERROR)
    yield cluster, worker_node
    ray.shutdown()
    cluster.shutdown()


def remove_node_once_both_track(cluster, node, out: Path) -> threading.Thread:
    """Kill ``node`` (its raylet and workers) once two sources have tracks on disk: both nodes are busy."""

    def watch():
        deadline = time.monotonic() + CLI_TIMEOUT_S
        while time.monotonic() < deadline:
            if sum(len(p.read_text().splitlines()) > 3 for p in out.glob("*/tracks.csv")) >= 2:
                cluster.remove_node(node)
                return
            time.sleep(0.05)

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    return thread


def test_a_batch_survives_losing_a_node(two_nodes, tmp_path, caplog):
    cluster, worker_node = two_nodes
    sources = [str(write_clip(tmp_path / f"cam{i}.mp4", CLIP_FRAMES, first=10 * i)) for i in range(SOURCES)]
    out = tmp_path / "batch"
    cfg = load_config(overrides={"output.video": False})
    killer = remove_node_once_both_track(cluster, worker_node, out)
    with caplog.at_level(logging.WARNING, logger="tracker.scale.executors"):
        result = run_batch(sources, out, cfg, workers=2, progress=False)
    killer.join(timeout=1)
    assert not killer.is_alive(), "the node was never removed: both workers never tracked at once"
    assert any("a worker was lost" in r.message for r in caplog.records)  # a source was running on the node
    assert [row.status for row in result.rows] == ["done"] * SOURCES
    for row in result.rows:  # each complete, the one that was lost included
        folder = out / row.output
        assert row.frames == CLIP_FRAMES
        assert json.loads((folder / "run.json").read_text())["frames_written"] == CLIP_FRAMES
        frames = {int(line.split(",")[0]) for line in (folder / "tracks.csv").read_text().splitlines()[1:]}
        assert max(frames) == CLIP_FRAMES - 1
