"""Batch workers pinned to cores of their own: which cores each gets, when they are pinned at all, and a real batch on
a local Ray instance the executor starts, where every thread of each worker's process runs on its cores only."""

from __future__ import annotations

import threading
import time

import pytest

from helpers import CLI_TIMEOUT_S, write_clip

from tracker.config import load_config
from tracker.scale.batch import run_batch
from tracker.scale.cores import CAN_PIN, core_sets, describe, usable_cores, worker_cores
from tracker.scale.executors import RayExecutor

CLIP_FRAMES = 40


def test_workers_get_their_threads_worth_of_cores_round_robin_wrapping_around():
    assert core_sets([0, 1, 2, 3], 2, 1) == [(0,), (1,)]
    assert core_sets([0, 1, 2, 3], 2, 2) == [(0, 1), (2, 3)]
    assert core_sets([2, 5, 7], 3, 2) == [(2, 5), (2, 7), (5, 7)]  # the cores this process may use, wrapping
    assert core_sets([4], 2, 1) == [(4,), (4,)]  # more workers than cores: they share
    assert describe(core_sets([0, 1, 2, 3], 2, 2)) == "0+1, 2+3"


@pytest.mark.skipif(not CAN_PIN, reason="this OS has no CPU affinity")
def test_only_auto_on_a_local_ray_pins():
    available = usable_cores()
    assert worker_cores("auto", True, 2, 1) == core_sets(available, 2, 1)
    assert worker_cores("auto", False, 2, 1) is None  # a cluster this process joined
    assert worker_cores(False, True, 2, 1) is None


@pytest.mark.cluster
@pytest.mark.skipif(not CAN_PIN, reason="this OS has no CPU affinity")
def test_a_batch_on_a_ray_it_starts_pins_each_worker_and_a_replacement_to_the_lost_one_s_cores(tmp_path):
    ray = pytest.importorskip("ray")
    assert not ray.is_initialized(), "Ray is already running in this process: the executor must start its own"
    available = usable_cores()
    sources = [str(write_clip(tmp_path / f"cam{i}.mp4", CLIP_FRAMES, first=30 * i)) for i in range(2)]
    cfg = load_config(overrides={"output.video": False})
    executor = RayExecutor(cfg, workers=2, threads=1)
    planned = [(available[0],), (available[1 % len(available)],)]
    assert executor.cores == planned
    if len(available) >= 2:
        assert not set(planned[0]) & set(planned[1])
    seen = kill_a_worker_while_it_tracks(ray, executor)
    notes = []
    result = run_batch(sources, tmp_path / "out", cfg, executor=executor, progress=False, notify=notes.append)
    assert f"on 2 Ray workers on this machine (1 CPU thread each, pinned to cores {describe(planned)})" in notes[0]
    assert [(row.status, row.frames) for row in result.rows] == [("done", CLIP_FRAMES)] * 2
    assert seen.get("done"), seen.get("error", "the watcher never saw a worker track")
    # every thread of each worker's process on its own cores, as asked of the worker itself
    assert seen["first"] == [list(cores) for cores in planned]
    assert seen["replacement"] == (seen["killed"], list(seen["killed"]))


@pytest.mark.cluster
def test_pin_cores_false_leaves_the_workers_of_a_ray_it_starts_unpinned(monkeypatch):
    ray = pytest.importorskip("ray")
    assert not ray.is_initialized(), "Ray is already running in this process: the executor must start its own"
    # another Ray named in the environment (or left by `ray start`) is not ours: without --ray-address the batch
    # starts its own on this machine instead of joining (or failing to join) it
    monkeypatch.setenv("RAY_ADDRESS", "127.0.0.1:1")
    executor = RayExecutor(load_config(overrides={"batch.pin_cores": False}), workers=2)
    try:
        assert executor.started_ray and "on this machine" in executor.description
        assert executor.cores is None and "pinned" not in executor.description
    finally:
        executor.close()


def kill_a_worker_while_it_tracks(ray, executor: RayExecutor) -> dict:
    """Once a worker is tracking, record every worker's cores and kill that one; then record the replacement's
    planned and actual cores (``seen``)."""
    seen: dict = {}

    def watch():
        deadline = time.monotonic() + CLI_TIMEOUT_S
        try:
            while len(executor.actors) < executor.workers and time.monotonic() < deadline:  # not started yet
                time.sleep(0.05)
            first = dict(executor.actors)
            seen["first"] = ray.get([actor.affinity.remote() for actor in first])
            victim = None
            while victim is None and time.monotonic() < deadline:
                for actor in first:
                    key, frames, _ = ray.get(actor.progress.remote())
                    if key is not None and 0 < frames < CLIP_FRAMES // 2:
                        victim = actor
                time.sleep(0.02)
            seen["killed"] = first[victim]
            ray.kill(victim)
            while time.monotonic() < deadline:
                fresh = [actor for actor in list(executor.actors) if actor not in first]
                if fresh:
                    seen["replacement"] = (executor.actors[fresh[0]], ray.get(fresh[0].affinity.remote()))
                    seen["done"] = True
                    return
                time.sleep(0.02)
        except Exception as exc:  # reported by the test's assertion, with what it was
            seen["error"] = f"{type(exc).__name__}: {exc}"

    threading.Thread(target=watch, daemon=True).start()
    return seen
