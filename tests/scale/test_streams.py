"""``tracker track --sources``: three live MJPEG streams on 127.0.0.1 in one process, one of them dropped and
restarted mid-run, plus an address where nothing answers. Each stream gets its own outputs, the dropped one
reconnects, and the others are not held back while it is down."""

from __future__ import annotations

import json
import re
import threading
import time
from pathlib import Path

import numpy as np

from helpers import CLI_TIMEOUT_S, MjpegServer, free_port, read_frames

from tracker.commands import main
from tracker.commands.common import EXIT_SOME_FAILED
from tracker.errors import ConfigError
from tracker.structures import Detections

ROOT = Path(__file__).resolve().parents[2]
FRAMES = 40  # per stream
OUTAGE_S = 3.0  # how long the dropped stream's server is gone
FRAME_INTERVAL_S = 0.1  # each server sends 10 frames a second


def jsonl_times(folder: Path) -> np.ndarray:
    return np.array([json.loads(line)["time_s"] for line in (folder / "tracks.jsonl").read_text().splitlines()])


def drop_and_restart(server: MjpegServer, frame_at, watch: Path, box: dict) -> threading.Thread:
    """Stop ``server`` once its stream has 5 frames in ``watch``, and start it again on its port OUTAGE_S later."""

    def run():
        deadline = time.monotonic() + CLI_TIMEOUT_S
        while time.monotonic() < deadline and not (watch.is_file() and len(watch.read_text().splitlines()) >= 5):
            time.sleep(0.05)
        server.stop()
        time.sleep(OUTAGE_S)
        box["restarted"] = MjpegServer(frame_at, port=server.port, frame_interval_s=FRAME_INTERVAL_S)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def test_three_streams_one_dropped_and_restarted_and_a_dead_one(tmp_path, capsys):
    images = read_frames(ROOT / "samples" / "pets09_s2l1_150.mp4", range(0, 150, 5))

    def frame_at(k):
        return images[5 * (k % 30)]

    servers = {name: MjpegServer(frame_at, frame_interval_s=FRAME_INTERVAL_S) for name in ("north", "south", "gate")}
    dead = f"http://127.0.0.1:{free_port()}/dead.mjpg"
    listing = tmp_path / "cams.txt"
    urls = [f"http://127.0.0.1:{s.port}/{name}.mjpg" for name, s in servers.items()]
    listing.write_text("\n".join(urls + [dead]) + "\n")
    out = tmp_path / "out"
    box: dict = {}
    outage = drop_and_restart(servers["gate"], frame_at, out / "gate" / "tracks.jsonl", box)
    try:
        code = main([
            "track", "--sources", str(listing), "--out", str(out), "--max-frames", str(FRAMES), "--quiet",
            "--no-video", "--set", "output.jsonl=true", "--set", "source.stream_timeout_s=1",
            "--set", "source.reconnect_backoff_s=0.1",
        ])  # fmt: skip
    finally:
        outage.join(timeout=OUTAGE_S + 5)
        for server in [*servers.values(), box.get("restarted")]:
            if server is not None and not server.stopping.is_set():
                server.stop()
    err = capsys.readouterr().err
    assert code == EXIT_SOME_FAILED  # the dead address; the three streams are fine
    assert re.search(r"^dead: failed: cannot connect to stream http://127\.0\.0\.1:\d+/dead\.mjpg", err, re.M)
    for name in servers:
        folder = out / name
        assert json.loads((folder / "run.json").read_text())["frames_written"] == FRAMES, name
        for output in ("tracks.csv", "tracks.txt", "tracks.jsonl", "summary.csv", "config.yaml"):
            assert (folder / output).is_file(), (name, output)
        assert len((folder / "tracks.csv").read_text().splitlines()) > FRAMES  # people were tracked
    assert re.search(r"^gate: 40 frames, \d+ tracks .* 1 outages, 1 reconnects, 0 invalid detections dropped\)$", err, re.M), err
    gate = jsonl_times(out / "gate")
    assert np.diff(gate).max() >= OUTAGE_S  # the outage shows in the dropped stream's own clock
    for name in ("north", "south"):  # the others went on while it was down
        assert re.search(rf"^{name}: 40 frames, .* 0 outages, 0 reconnects, 0 invalid detections dropped\)$", err, re.M), err
        assert np.diff(jsonl_times(out / name)).max() < OUTAGE_S / 2, name
    assert re.search(r"^120 frames of 4 streams in \d+ detector calls", err, re.M)


def test_sources_or_one_source_and_options_that_need_one_are_one_line_errors(tmp_path, capsys):
    listing = tmp_path / "cams.txt"
    listing.write_text("http://127.0.0.1:9/a.mjpg\n")
    cases = [
        ([], "error: track needs a SOURCE or --sources LIST"),
        (["video.mp4", "--sources", str(listing)], "error: give a SOURCE or --sources"),
        (["--sources", str(listing), "--chunks", "2"], "error: --chunks works on one source; --sources tracks many"),
        (["--sources", str(listing), "--serve", "0"], "error: --serve works on one source"),
        (["--sources", str(tmp_path / "none.list")], f"error: cannot read the source list {tmp_path / 'none.list'}"),
        (["--sources", str(listing), "--workers", "2"], "error: --workers places the parts of --chunks on Ray workers"),
        ([str(ROOT / "samples" / "pets09_s2l1_150.mp4"), "--chunks", "2", "--max-frames", "5"],
         "error: --chunks tracks the whole file in parallel parts, without --max-frames"),
    ]  # fmt: skip
    for args, line in cases:
        assert main(["track", *args, "--out", str(tmp_path / "out"), "--quiet"]) == ConfigError.exit_code
        err = capsys.readouterr().err
        assert err.startswith(line) and err.count("\n") == 1, err


class _OneGoodOneNaN:
    """A detector gone wrong: one good box and one NaN box in every frame."""

    class_names = ["person"]

    def detect(self, images, frame_indices):
        boxes = np.array([[100, 100, 150, 220], [np.nan, 1, 5, 5]], np.float32)
        return [Detections(boxes=boxes, scores=np.full(2, 0.9, np.float32), class_ids=np.zeros(2, np.int32))
                for _ in frame_indices]


def test_each_stream_reports_the_invalid_detections_its_tracker_dropped(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr("tracker.detect.detectors.build_detector", lambda cfg, source=None: _OneGoodOneNaN())
    clips = []
    for name in ("a", "b"):  # files work as sources too: two copies of the sample
        clips.append(tmp_path / f"{name}.mp4")
        clips[-1].write_bytes((ROOT / "samples" / "pets09_s2l1_150.mp4").read_bytes())
    (tmp_path / "list.txt").write_text("".join(f"{c}\n" for c in clips))
    argv = ["track", "--sources", str(tmp_path / "list.txt"), "--out", str(tmp_path / "out"), "--appearance", "none",
            "--tracker", "sort", "--max-frames", "5", "--quiet", "--no-video"]  # fmt: skip
    assert main(argv) == 0
    lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith(("a:", "b:"))]
    assert len(lines) == 2 and all(line.endswith("0 reconnects, 5 invalid detections dropped)") for line in lines)
