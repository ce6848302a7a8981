"""``--serve`` over plain HTTP (127.0.0.1 only): tokens refused and accepted, the MJPEG multipart stream
parsed part by part, frames dropped for a slow viewer without ever holding the pipeline back, the status
JSON, and a whole `tracker track --serve` run whose served counts rise."""

from __future__ import annotations

import http.client
import json
import socket
import threading
import time
import urllib.error
import urllib.request
from contextlib import contextmanager

import cv2
import numpy as np
import pytest

from helpers import LiveTrackRun

from tracker.analyze.counting import Counter
from tracker.commands import main
from tracker.config import load_config
from tracker.errors import ConfigError
from tracker.io.serve import BOUNDARY, LiveServer, ServeSink, parse_address, required_token
from tracker.structures import Detections, FrameResult, Tracks

TOKEN = "s3cret-token-for-tests"
HTTP_TIMEOUT_S = 10.0
DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never through a proxy: loopback only


def serve_cfg(**changes):
    return load_config().serve.model_copy(update={"port": 0, **changes})


@contextmanager
def live_server(**changes):
    urls: list[str] = []
    server = LiveServer(serve_cfg(**changes), "tracker: test", announce=urls.append)
    try:
        assert urls == [server.url]
        yield server
    finally:
        server.close()


def get(url: str, headers: dict | None = None) -> tuple[int, str, bytes]:
    """(status, content type, body) of a GET; error statuses are returned, not raised."""
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with DIRECT.open(request, timeout=HTTP_TIMEOUT_S) as reply:
            return reply.status, reply.headers["Content-Type"], reply.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers["Content-Type"], error.read()


def gray(level: int, size=(64, 48)) -> np.ndarray:
    return np.full((size[1], size[0], 3), level, np.uint8)


class MjpegReader:
    """Reads a ``multipart/x-mixed-replace`` JPEG stream part by part, checking every boundary and header."""

    def __init__(self, port: int, path: str):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=HTTP_TIMEOUT_S)
        self.conn.request("GET", path)
        self.reply = self.conn.getresponse()

    def part(self) -> np.ndarray:
        stream = self.reply
        assert stream.readline() == f"--{BOUNDARY}\r\n".encode()
        headers = {}
        while (line := stream.readline()) != b"\r\n":
            name, _, value = line.decode().partition(":")
            headers[name.strip().lower()] = value.strip()
        assert headers["content-type"] == "image/jpeg"
        jpeg = stream.read(int(headers["content-length"]))
        assert stream.read(2) == b"\r\n"
        image = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
        assert image is not None, "a part that is not a JPEG"
        return image

    def close(self) -> None:
        self.conn.close()


# addresses and tokens --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, expected",
    [("8080", ("127.0.0.1", 8080)), ("0.0.0.0:8080", ("0.0.0.0", 8080)), ("localhost:0", ("localhost", 0)),
     ("[::1]:9000", ("::1", 9000))],
)  # fmt: skip
def test_parse_address(text, expected):
    assert parse_address(text) == expected


@pytest.mark.parametrize("text", ["", "http://x:80", "99999", "host:port", "1.2.3.4:"])
def test_bad_addresses_are_refused(text):
    with pytest.raises(ValueError, match="is not PORT or HOST:PORT"):
        parse_address(text)


def test_any_address_but_loopback_requires_a_token():
    for host in ("127.0.0.1", "127.0.0.2", "::1", "localhost"):
        assert required_token(host, None) is None
    generated = {required_token(host, None) for host in ("0.0.0.0", "192.168.1.20", "::", "myhost")}
    assert None not in generated and len(generated) == 4 and all(len(t) >= 20 for t in generated)
    assert required_token("0.0.0.0", TOKEN) == TOKEN and required_token("127.0.0.1", TOKEN) == TOKEN


def test_cli_serve_mistakes_are_one_line(tmp_path, capsys):
    for argv, fragment in (
        (["--serve", "http://0.0.0.0"], "argument --serve: 'http://0.0.0.0' is not PORT or HOST:PORT"),
        (["--serve", "8080", "--serve-token", "short"], "serve.token: String should have at least 8 characters"),
        (["--serve-token", TOKEN], "--serve-token without --serve"),
    ):
        try:
            code = main(["track", "missing.mp4", "--out", str(tmp_path / "run"), *argv])
        except SystemExit as exit_:
            code = exit_.code
        err = capsys.readouterr().err
        assert code == ConfigError.exit_code and fragment in err and err.count("\n") == 1, err


# HTTP -------------------------------------------------------------------------------------------------------------


def test_token_is_refused_or_accepted_on_every_route():
    with live_server(token=TOKEN) as server:
        server.publish_frame(gray(100))
        base = f"http://127.0.0.1:{server.port}"
        assert server.url == f"{base}/?token={TOKEN}"
        for route in ("/", "/stream.mjpg", "/status.json"):
            assert get(base + route)[0] == 403, route
            assert get(f"{base}{route}?token=wrong-token")[0] == 403, route
        status, kind, page = get(f"{base}/?token={TOKEN}")
        assert status == 200 and kind == "text/html; charset=utf-8"
        assert f'src="stream.mjpg?token={TOKEN}"' in page.decode() and f'"status.json?token={TOKEN}"' in page.decode()
        status, kind, body = get(f"{base}/status.json?token={TOKEN}")
        assert status == 200 and kind == "application/json" and json.loads(body)["frame"] is None
        reader = MjpegReader(server.port, f"/stream.mjpg?token={TOKEN}")
        try:
            assert reader.reply.status == 200
            assert reader.reply.headers["Content-Type"] == f"multipart/x-mixed-replace; boundary={BOUNDARY}"
            assert abs(reader.part().mean() - 100) < 3
        finally:
            reader.close()
        assert get(f"{base}/nothing?token={TOKEN}")[0] == 404


def test_without_a_token_only_loopback_host_names_are_served():
    with live_server() as server:
        base = f"http://127.0.0.1:{server.port}"
        assert server.token is None and server.url == f"{base}/"
        assert get(base + "/")[0] == 200
        assert get(base + "/", {"Host": f"localhost:{server.port}"})[0] == 200
        assert get(base + "/", {"Host": "attacker.example"})[0] == 403  # a DNS-rebound page cannot read it


def test_mjpeg_parts_follow_the_published_frames():
    with live_server() as server:
        server.publish_frame(gray(40, (80, 60)))
        reader = MjpegReader(server.port, "/stream.mjpg")
        try:
            first = reader.part()
            server.publish_frame(gray(200, (80, 60)))
            second = reader.part()
        finally:
            reader.close()
    assert first.shape == second.shape == (60, 80, 3)
    assert abs(first.mean() - 40) < 3 and abs(second.mean() - 200) < 3


def marked(k: int, rng: np.random.Generator) -> np.ndarray:
    """A 640x480 frame of noise (large JPEGs) whose top-left block has gray level 2k: frame k's mark."""
    image = rng.integers(0, 256, (480, 640, 3), np.uint8)
    image[:64, :64] = 2 * k
    return image


def test_a_viewer_that_stops_reading_never_holds_the_pipeline_back():
    rng = np.random.default_rng(0)
    frames = [marked(k, rng) for k in range(100)]  # ~30 MB of JPEG: far more than the socket buffers hold
    with live_server(client_timeout_s=30.0) as server:
        server.publish_frame(frames[0])
        sock = socket.create_connection(("127.0.0.1", server.port), timeout=HTTP_TIMEOUT_S)
        sock.sendall(b"GET /stream.mjpg HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        time.sleep(0.5)  # the server starts writing to a viewer that reads nothing

        def pipeline():
            for image in frames[1:]:
                server.publish_frame(image)

        publisher = threading.Thread(target=pipeline)
        publisher.start()
        publisher.join(60)
        assert not publisher.is_alive(), "publishing a frame waited for the viewer"
        # now the viewer reads: it gets the frames in flight, then the newest; the rest were dropped for it
        reply = http.client.HTTPResponse(sock)
        reply.begin()
        reader = MjpegReader.__new__(MjpegReader)
        reader.reply = reply
        marks = []
        while not marks or marks[-1] != 2 * 99:
            marks.append(int(round(reader.part()[:64, :64].mean())))
        sock.close()
    assert marks == sorted(marks) and len(marks) < 50  # in order, most frames skipped


def test_viewers_beyond_max_clients_are_refused():
    with live_server(max_clients=1) as server:
        server.publish_frame(gray(10))
        first = MjpegReader(server.port, "/stream.mjpg")
        try:
            first.part()
            assert get(f"http://127.0.0.1:{server.port}/stream.mjpg")[0] == 503
        finally:
            first.close()


def test_status_reports_the_frame_tracks_and_counts():
    cfg = load_config(overrides=["counting.enabled=true", "counting.lines=[{name: door, points: [[50, 0], [50, 100]]}]"])
    counter = Counter(cfg.counting, ["person", "car"])
    sink = ServeSink(serve_cfg(status_interval_s=1e-6), "tracker: test", ["person", "car"], counter=counter,
                     announce=lambda url: None)  # fmt: skip
    try:
        for frame, x in enumerate((20, 40, 60, 80)):
            tracks = Tracks(boxes=[[x, 10, x + 10, 40]], scores=[0.9], class_ids=[1], track_ids=[7], det_index=[0])
            result = FrameResult(frame_index=frame, time_s=frame / 10, tracks=tracks, detections=Detections.empty())
            counter.update(tracks)
            sink.write(result)
        _, _, body = get(f"http://127.0.0.1:{sink.server.port}/status.json")
    finally:
        sink.close()
    status = json.loads(body)
    assert (status["frame"], status["time_s"], status["active_tracks"]) == (3, 0.3, 1)
    assert status["tracks"] == [{"id": 7, "class": "car", "score": 0.9, "box": [80.0, 10.0, 90.0, 40.0]}]
    assert status["counts"]["door"]["in"] + status["counts"]["door"]["out"] == 1
    assert status["fps"] is None or status["fps"] > 0


def test_a_served_run_reports_rising_counts_over_http(tmp_path):
    run = LiveTrackRun(tmp_path, "--serve", "127.0.0.1:0")
    try:
        assert run.url.startswith("http://127.0.0.1:") and "token" not in run.url
        seen = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            status = json.loads(get(run.url + "status.json")[2])
            if status["counts"] is not None:
                door = status["counts"]["door"]
                seen.append(door["in"] + door["out"])
                if seen[-1] >= 2:
                    break
            time.sleep(0.2)
        assert seen and seen[-1] >= 2 and seen == sorted(seen), seen
    finally:
        code, err = run.stop()
    assert code == 130, err  # Ctrl-C: a clean stop
