"""``tracker batch`` on a real local Ray (two CPUs): every source into its folder and batch.csv, a failed source
reported while the others go on, resume and --force, Ctrl-C on the driver, and the same batch without Ray.
Bad input: an unreadable source, a cluster address nobody answers, --chunks on a live stream."""

from __future__ import annotations

import csv
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from helpers import (
    CLI_TIMEOUT_S, MjpegServer, decoded_frames, free_port, read_frames, run_cli, write_clip, write_sample_det_file,
)

from tracker.commands import main
from tracker.commands.common import EXIT_INTERRUPTED, EXIT_SOME_FAILED
from tracker.config import load_config
from tracker.errors import ClusterError, ConfigError
from tracker.scale.cores import usable_cores
from tracker.scale.executors import RayExecutor

ROOT = Path(__file__).resolve().parents[2]
CLIP_FRAMES = 20


@pytest.fixture(scope="module")
def local_ray():
    """A real Ray on this machine for the module: two CPUs, no dashboard (tracker batch joins it)."""
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level=logging.ERROR)
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> Path:
    """Two short clips of the sample and a file that is not a video."""
    folder = tmp_path_factory.mktemp("clips")
    write_clip(folder / "gate.mp4", CLIP_FRAMES)
    write_clip(folder / "lawn.mp4", CLIP_FRAMES, first=60)
    (folder / "broken.mp4").write_text("not a video\n" * 20)
    return folder


def read_batch(out: Path) -> dict[str, dict]:
    with (out / "batch.csv").open(newline="") as f:
        return {Path(row["source"]).name: row for row in csv.DictReader(f)}


@pytest.mark.cluster
def test_a_batch_tracks_every_source_reports_the_broken_one_and_resumes(local_ray, clips, tmp_path, capsys):
    out = tmp_path / "batch"
    code = main(["batch", str(clips / "*.mp4"), "--out", str(out), "--quiet", "--workers", "2"])
    assert code == EXIT_SOME_FAILED
    err = capsys.readouterr().err
    assert f"failed: {clips / 'broken.mp4'}: cannot open video" in err
    assert "batch: 2 done, 1 failed" in err
    rows = read_batch(out)
    assert list(rows) == ["broken.mp4", "gate.mp4", "lawn.mp4"]  # in the order of the sources
    assert rows["broken.mp4"]["status"] == "failed" and "not a format OpenCV can read" in rows["broken.mp4"]["error"]
    for name in ("gate", "lawn"):
        row = rows[f"{name}.mp4"]
        assert (row["status"], row["frames"], row["output"], row["error"]) == ("done", str(CLIP_FRAMES), name, "")
        assert int(row["tracks"]) > 0 and float(row["fps"]) > 0 and float(row["seconds"]) > 0
        folder = out / name
        for output in ("tracks.csv", "tracks.txt", "summary.csv", "run.json", "config.yaml"):
            assert (folder / output).is_file(), output
        assert json.loads((folder / "run.json").read_text())["frames_written"] == CLIP_FRAMES
        assert decoded_frames(folder / "annotated.mp4") == CLIP_FRAMES
    # again: the finished sources are skipped (no worker starts for them) ...
    started = time.monotonic()
    assert main(["batch", str(clips / "[gl]*.mp4"), "--out", str(out), "--quiet"]) == 0
    assert "2 finished before, skipped; --force redoes them" in capsys.readouterr().err
    assert time.monotonic() - started < 10
    # ... unless --force
    before = (out / "gate" / "run.json").stat().st_mtime_ns
    assert main(["batch", str(clips / "gate.mp4"), "--out", str(out), "--quiet", "--force", "--no-video"]) == 0
    assert (out / "gate" / "run.json").stat().st_mtime_ns != before
    assert read_batch(out)["broken.mp4"]["status"] == "failed"  # rows of other sources are kept


@pytest.mark.cluster
def test_ctrl_c_on_the_driver_stops_the_workers_and_keeps_every_output(local_ray, tmp_path, capsys):
    sources = tmp_path / "long"
    sources.mkdir()
    det = write_sample_det_file(tmp_path / "det.txt", 0.9)
    for name in ("a", "b", "c"):  # the whole sample each: still running when Ctrl-C comes
        (sources / f"{name}.mp4").symlink_to(ROOT / "samples" / "pets09_s2l1_150.mp4")
    out = tmp_path / "batch"
    interrupt_when_tracking(out, frames=3)
    argv = ["batch", str(sources / "*.mp4"), "--out", str(out), "--quiet", "--workers", "2",
            "--detector", "mot", "--set", f"detector.det_file={det}", "--appearance", "none"]  # fmt: skip
    assert main(argv) == EXIT_INTERRUPTED
    err = capsys.readouterr().err
    assert "stopping: each worker finishes its current frame" in err
    rows = read_batch(out)
    statuses = sorted(row["status"] for row in rows.values())
    assert statuses == ["interrupted", "interrupted", "pending"]
    for name, row in rows.items():
        if row["status"] == "interrupted":  # finalised: every file parses, the video plays to its last frame
            folder = out / row["output"]
            written = json.loads((folder / "run.json").read_text())["frames_written"]
            assert 3 <= written < 150
            assert decoded_frames(folder / "annotated.mp4") == written
            frames = {int(line.split(",")[0]) for line in (folder / "tracks.txt").read_text().splitlines()}
            assert max(frames) <= written
    assert "run the same command again" in err


def interrupt_when_tracking(out: Path, frames: int) -> None:
    """Send this process SIGINT (Ctrl-C) once two sources each have ``frames`` frames in their tracks.txt."""

    def watch():
        deadline = time.monotonic() + CLI_TIMEOUT_S
        while time.monotonic() < deadline:
            if sum(_frames_in(p) >= frames for p in out.glob("*/tracks.txt")) >= 2:
                os.kill(os.getpid(), signal.SIGINT)
                return
            time.sleep(0.05)

    threading.Thread(target=watch, daemon=True).start()


def _frames_in(path: Path) -> int:
    return len({line.split(",", 1)[0] for line in path.read_text().splitlines()})


@pytest.mark.cluster
def test_a_file_in_parts_on_ray_workers_is_stitched_into_its_folder(local_ray, tmp_path, capsys):
    det = write_sample_det_file(tmp_path / "det.txt", 0.9)
    out = tmp_path / "batch"
    argv = ["batch", str(ROOT / "samples" / "pets09_s2l1_150.mp4"), "--chunks", "3", "--chunk-overlap", "2",
            "--out", str(out), "--quiet", "--no-video", "--detector", "mot", "--set", f"detector.det_file={det}"]
    assert main(argv) == 0, capsys.readouterr().err  # the video of a stitched run: tests/test_chunks.py
    row = read_batch(out)["pets09_s2l1_150.mp4"]
    assert (row["status"], row["frames"]) == ("done", "150")
    folder = out / "pets09_s2l1_150"
    assert json.loads((folder / "run.json").read_text())["frames_written"] == 150
    ids = {int(line.split(",")[1]) for line in (folder / "tracks.txt").read_text().splitlines()}
    assert ids == set(range(1, len(ids) + 1)) and int(row["tracks"]) == len(ids)


@pytest.mark.cluster
def test_gpus_asked_of_a_cluster_without_any_is_one_line(local_ray, clips, tmp_path, capsys):
    code = main(["batch", str(clips / "gate.mp4"), "--out", str(tmp_path / "out"), "--gpus-per-worker", "0.25"])
    assert code == ClusterError.exit_code
    err = capsys.readouterr().err
    assert err.startswith("error: --gpus-per-worker 0.25 asks for GPUs but the Ray cluster has none")


@pytest.mark.cluster
def test_workers_on_a_ray_this_process_had_joined_are_never_pinned(local_ray):
    import ray

    executor = RayExecutor(load_config(), workers=2)  # batch.pin_cores auto: pinned only on a Ray it starts
    try:
        assert executor.cores is None and "pinned" not in executor.description
        executor.start()
        assert ray.get([actor.affinity.remote() for actor in executor.actors]) == [usable_cores()] * 2
    finally:
        executor.close()


def test_without_ray_a_batch_runs_in_this_process_and_says_how_to_run_in_parallel(clips, tmp_path):
    det = write_sample_det_file(tmp_path / "det.txt", 0.9)
    code = (
        "import sys; sys.modules['ray'] = None; from tracker.commands import main; "
        f"sys.exit(main(['batch', {str(clips / 'gate.mp4')!r}, {str(clips / 'lawn.mp4')!r}, '--out', "
        f"{str(tmp_path / 'out')!r}, '--quiet', '--detector', 'mot', '--set', 'detector.det_file={det}', "
        "'--appearance', 'none', '--no-video']))"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=CLI_TIMEOUT_S)
    assert proc.returncode == 0, proc.stderr
    assert "Ray is not installed, so sources are tracked one after another" in proc.stderr
    assert "pip install 'tracker[cluster]'" in proc.stderr
    assert [row["status"] for row in read_batch(tmp_path / "out").values()] == ["done", "done"]


@pytest.mark.parametrize("address", ["ray://127.0.0.1:{port}", "127.0.0.1:{port}"])
def test_a_cluster_address_nobody_answers_is_one_line_and_fast(address, clips, tmp_path):
    pytest.importorskip("ray")  # without it, --ray-address is an error of its own (asking to install it)
    address = address.format(port=free_port())
    started = time.monotonic()
    proc = run_cli("batch", str(clips / "gate.mp4"), "--out", str(tmp_path / "out"), "--ray-address", address)
    assert proc.returncode == ClusterError.exit_code
    assert proc.stderr.startswith(f"error: cannot reach the Ray cluster at {address}: Connection refused. ")
    assert proc.stderr.count("\n") == 1, proc.stderr
    assert time.monotonic() - started < 30  # Ray alone would wait 30 s (Ray Client) to 2 min (GCS)


def test_chunks_on_a_live_stream_is_a_clear_error(tmp_path, capsys):
    frame = read_frames(ROOT / "samples" / "pets09_s2l1_150.mp4", [0])[0]
    server = MjpegServer(lambda k: frame)
    try:
        code = main(["track", server.url, "--chunks", "2", "--out", str(tmp_path / "out"), "--quiet"])
    finally:
        server.stop()
    assert code == ConfigError.exit_code
    err = capsys.readouterr().err
    assert err.startswith(f"error: --chunks splits a file, but {server.url} is a live stream. Track it without")
    assert main(["track", "0", "--chunks", "2", "--out", str(tmp_path / "cam")]) == ConfigError.exit_code
    assert "camera 0 is a live camera" in capsys.readouterr().err


def test_the_bar_follows_every_frame_but_is_redrawn_at_most_every_redraw_interval(tmp_path):
    from tqdm import tqdm

    from tracker.scale.batch import BAR_REDRAW_S, Entry, Scheduler
    from tracker.scale.ledger import DONE
    from tracker.scale.sourcelist import NamedSource
    from tracker.scale.worker import Outcome

    class CountingBar(tqdm):
        redraws = 0

        def refresh(self, *args, **kwargs):
            CountingBar.redraws += 1
            return super().refresh(*args, **kwargs)

    source = NamedSource(str(tmp_path / "a.mp4"), "a")
    scheduler = Scheduler([Entry(source, tmp_path / "a")], None, notify=lambda text: None)
    scheduler.bar = CountingBar(total=None, file=open(os.devnull, "w"))  # noqa: SIM115 (closed with the bar)
    job = scheduler.next_job()
    CountingBar.redraws = 0
    started = time.monotonic()
    for frame in range(1, 2001):  # an in-process worker reports every frame
        scheduler.progress(job.key, frame, 2000)
    elapsed = time.monotonic() - started
    assert CountingBar.redraws <= 2 + elapsed / BAR_REDRAW_S  # the clock's reset at the first frame, then at most
    # one a BAR_REDRAW_S: not 2000
    scheduler.finished(job, Outcome(DONE, frames=2000))  # a job's end is always drawn, with every frame counted
    assert scheduler.bar.n == scheduler.bar.total == 2000
    scheduler.bar.close()
