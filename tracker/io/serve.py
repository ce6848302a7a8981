"""``--serve``: watch a run in a browser: the annotated video as MJPEG over HTTP and live counts.

A :class:`LiveServer` runs the standard library's ``http.server`` in daemon threads (one per
connection) and is fed by the pipeline through two calls that never wait for a client:
``publish_frame(image)`` keeps a reference to the newest annotated frame, and
``publish_status(...)`` the newest counts and tracks. Each video client is sent the newest
frame whenever it is ready for one, so a slow client just sees fewer frames (frames are
dropped per client) and the pipeline never waits; a frame is JPEG-encoded once, by the
first client thread that needs it, and never when nobody watches.

Routes: ``/`` (a small page: the stream in an ``<img>``, counts and active tracks polled
every ``serve.status_interval_s``), ``/stream.mjpg`` (``multipart/x-mixed-replace`` of
JPEGs) and ``/status.json``. The server binds to 127.0.0.1 unless told otherwise; any
other address requires a token (``serve.token``, or one generated and printed), which every
route checks (``?token=...``). Without a token, requests must name a loopback host, so a
web page cannot read the stream through a rebound DNS name.
"""

from __future__ import annotations

import hmac
import html
import ipaddress
import json
import logging
import re
import secrets
import socket
import sys
import threading
import time
from collections import deque
from collections.abc import Sequence
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, quote, urlsplit

import cv2
import numpy as np

from ..config import ServeConfig
from ..errors import OutputError
from ..structures import FrameResult, class_name

log = logging.getLogger(__name__)

DEFAULT_HOST = "127.0.0.1"  # `--serve PORT` binds here: only this machine can connect
LOOPBACK_NAMES = frozenset({"localhost"})  # host names (besides loopback IPs) a token-less request may use
BOUNDARY = "frame"  # multipart boundary of the MJPEG stream
TOKEN_BYTES = 16  # entropy of a generated token (22 URL-safe characters)
FPS_WINDOW = 30  # frames over which the status's processing rate is measured
MAX_PORT = 65535
WAIT_POLL_S = 0.5  # how often a client thread waiting for a frame re-checks whether the server is closing
_ADDRESS = re.compile(r"^(?:(?P<host>\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):)?(?P<port>\d{1,5})$")


def parse_address(text: str) -> tuple[str, int]:
    """``PORT`` -> (127.0.0.1, PORT); ``HOST:PORT`` (``[::1]:PORT`` for IPv6) -> (HOST, PORT); port 0 picks a free one."""
    match = _ADDRESS.match(text.strip())
    if not match or int(match["port"]) > MAX_PORT:
        raise ValueError(f"{text!r} is not PORT or HOST:PORT (e.g. 8080 or 0.0.0.0:8080)")
    host = (match["host"] or DEFAULT_HOST).strip("[]")
    return host, int(match["port"])


def is_loopback(host: str) -> bool:
    """Whether ``host`` names this machine only (127.0.0.0/8, ::1, localhost)."""
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def required_token(host: str, token: str | None) -> str | None:
    """The token clients must give: ``token`` when set; else one generated for a non-loopback ``host``; else None."""
    if token is not None or is_loopback(host):
        return token
    return secrets.token_urlsafe(TOKEN_BYTES)


class LiveServer:
    """The HTTP server of one run and the newest frame and status it serves (see the module doc)."""

    def __init__(self, cfg: ServeConfig, title: str = "tracker", announce=None):
        """announce: called with the page's URL once listening (default: print it on stderr)."""
        self.cfg = cfg
        self.host, port = cfg.host, cfg.port
        self.token = required_token(self.host, cfg.token)
        self.title = title
        self.streams = 0  # open video connections
        self._lock = threading.Condition()
        self._closing = threading.Event()
        self._image: np.ndarray | None = None
        self._seq = 0  # number of the newest frame (0: none yet)
        self._jpeg: tuple[int, bytes] | None = None  # (seq, bytes) of the newest encoded frame
        self._encode_lock = threading.Lock()
        self._status: bytes = json.dumps({"frame": None, "active_tracks": 0, "tracks": [], "counts": None}).encode()
        self._handler = _handler_class(self)
        bind_host = DEFAULT_HOST if self.host.lower() in LOOPBACK_NAMES else self.host
        try:
            self.http = _Server((bind_host, port), self._handler)
        except OSError as exc:
            raise OutputError(
                f"cannot serve on {cfg.host}:{port}: {exc.strerror or exc}",
                "Choose another port (--serve 8081) or stop what uses it",
            ) from None
        self.port = self.http.server_address[1]
        self._thread = threading.Thread(target=self.http.serve_forever, name="tracker-serve", daemon=True)
        self._thread.start()
        (announce or _print_url)(self.url)

    @property
    def url(self) -> str:
        """The page's address, with the token when there is one."""
        shown = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{shown}:{self.port}/" + (f"?token={quote(self.token)}" if self.token else "")

    # pipeline side: never waits for a client ----------------------------------------------------------
    def publish_frame(self, image: np.ndarray) -> None:
        """Make ``image`` (BGR, not modified afterwards by the caller) the frame every client gets next."""
        with self._lock:
            self._image = image
            self._seq += 1
            self._lock.notify_all()

    def publish_status(self, status: dict) -> None:
        """Make ``status`` (JSON-serialisable) what ``/status.json`` returns."""
        data = json.dumps(status, allow_nan=False).encode()
        with self._lock:
            self._status = data

    def close(self) -> None:
        """Stop serving, end every stream and free the port; safe to call more than once."""
        if self._closing.is_set():
            return
        self._closing.set()
        with self._lock:
            self._lock.notify_all()
        self.http.shutdown()
        self.http.server_close()
        self._thread.join()

    # client side -------------------------------------------------------------------------------------
    def next_jpeg(self, after: int) -> tuple[int, bytes] | None:
        """(seq, JPEG) of the newest frame newer than ``after``, waiting for one; None once closing."""
        with self._lock:
            while self._seq <= after and not self._closing.is_set():
                self._lock.wait(WAIT_POLL_S)
            if self._closing.is_set():
                return None
            seq, image = self._seq, self._image
        with self._encode_lock:  # one encoding per frame, shared by every client that wants it
            if self._jpeg is None or self._jpeg[0] < seq:
                ok, buffer = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, self.cfg.jpeg_quality])
                if not ok:
                    raise OutputError("cannot encode a frame as JPEG for --serve")
                self._jpeg = (seq, buffer.tobytes())
            return self._jpeg

    def status_json(self) -> bytes:
        with self._lock:
            return self._status

    def allowed(self, query: str, host_header: str | None) -> bool:
        """Whether a request may be served: the right token, or (without one) a loopback ``Host``."""
        if self.token is not None:
            given = parse_qs(query).get("token", [""])[0]
            return hmac.compare_digest(given.encode(), self.token.encode())
        host = urlsplit(f"//{host_header or ''}").hostname or ""
        return is_loopback(host)

    def page(self) -> bytes:
        query = f"?token={quote(self.token)}" if self.token else ""
        return PAGE.format(
            title=html.escape(self.title),
            stream=html.escape(f"stream.mjpg{query}", quote=True),
            status=json.dumps(f"status.json{query}"),
            interval_ms=round(1000 * self.cfg.status_interval_s),
        ).encode()


class _Server(ThreadingHTTPServer):
    daemon_threads = True  # a stalled client never keeps the process alive
    allow_reuse_address = True

    def __init__(self, address, handler):
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, handler)


def _print_url(url: str) -> None:
    print(f"live view: {url}", file=sys.stderr, flush=True)


def _handler_class(server: LiveServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        timeout = server.cfg.client_timeout_s  # socket timeout: a client that stops reading is dropped
        server_version = "tracker"
        sys_version = ""

        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            parts = urlsplit(self.path)
            route = {"/": self._page, "/stream.mjpg": self._stream, "/status.json": self._status}.get(parts.path)
            if route is None:
                self._reply(HTTPStatus.NOT_FOUND, b"not found\n", "text/plain")
            elif not server.allowed(parts.query, self.headers.get("Host")):
                self._reply(HTTPStatus.FORBIDDEN, b"forbidden: open the URL tracker printed (with its token)\n",
                            "text/plain")  # fmt: skip
            else:
                route()

        def _headers(self, status: HTTPStatus, content_type: str, length: int | None = None) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            if length is not None:
                self.send_header("Content-Length", str(length))
            self.send_header("Cache-Control", "no-store")
            self.send_header("X-Content-Type-Options", "nosniff")
            self.send_header("Referrer-Policy", "no-referrer")
            self.end_headers()

        def _reply(self, status: HTTPStatus, body: bytes, content_type: str) -> None:
            self._headers(status, content_type, len(body))
            self.wfile.write(body)

        def _page(self) -> None:
            self._reply(HTTPStatus.OK, server.page(), "text/html; charset=utf-8")

        def _status(self) -> None:
            self._reply(HTTPStatus.OK, server.status_json(), "application/json")

        def _stream(self) -> None:
            with server._lock:
                full = server.streams >= server.cfg.max_clients
                if not full:
                    server.streams += 1
            if full:
                self._reply(HTTPStatus.SERVICE_UNAVAILABLE, b"too many viewers (serve.max_clients)\n", "text/plain")
                return
            try:
                self._headers(HTTPStatus.OK, f"multipart/x-mixed-replace; boundary={BOUNDARY}")
                seq = 0
                while (item := server.next_jpeg(seq)) is not None:
                    seq, jpeg = item
                    head = f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: {len(jpeg)}\r\n\r\n"
                    self.wfile.write(head.encode() + jpeg + b"\r\n")
            except OSError:  # the viewer left, or stopped reading for client_timeout_s
                pass
            finally:
                with server._lock:
                    server.streams -= 1

        def log_message(self, format: str, *args) -> None:  # noqa: A002 - http.server's signature
            log.debug("serve: %s " + format, self.address_string(), *args)

    return Handler


class ServeSink:
    """Feeds a :class:`LiveServer` from the run: the annotated frames (``write_image``) and, at most every
    ``serve.status_interval_s`` of processing, the frame's counts and tracks (``write``)."""

    def __init__(self, cfg: ServeConfig, title: str, class_names: Sequence[str], counter=None, announce=None):
        self.server = LiveServer(cfg, title, announce=announce)
        self.class_names = list(class_names)
        self.counter = counter  # counting.Counter, when counting is on
        self.interval_s = cfg.status_interval_s
        self._times: deque[float] = deque(maxlen=FPS_WINDOW)
        self._last_status = -np.inf
        self._closed = False

    @property
    def closed(self) -> bool:
        return self._closed

    def write(self, result: FrameResult) -> None:
        now = time.perf_counter()
        self._times.append(now)
        if now - self._last_status >= self.interval_s:
            self._last_status = now
            self.server.publish_status(self.status(result))

    def status(self, result: FrameResult) -> dict:
        """What ``/status.json`` says about ``result``: frame, time, processing fps, active tracks and counts."""
        tracks = result.tracks
        span = self._times[-1] - self._times[0] if len(self._times) > 1 else 0.0
        boxes = np.nan_to_num(tracks.boxes.astype(np.float64)).round(1).tolist()  # JSON has no NaN
        scores = np.nan_to_num(tracks.scores.astype(np.float64)).round(3).tolist()
        return {
            "frame": int(result.frame_index),
            "time_s": round(float(result.time_s), 3),
            "fps": round((len(self._times) - 1) / span, 1) if span > 0 else None,
            "active_tracks": len(tracks),
            "tracks": [
                {"id": i, "class": class_name(self.class_names, c), "score": s, "box": b}
                for i, c, s, b in zip(tracks.track_ids.tolist(), tracks.class_ids.tolist(), scores, boxes)
            ],
            "counts": self.counter.report() if self.counter is not None else None,
        }

    def write_image(self, image: np.ndarray, time_s: float | None = None) -> None:
        self.server.publish_frame(image)  # a live view shows each frame as it comes: the stream time is not needed

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self.server.close()


PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>{title}</title>
<style>
  body {{ font-family: system-ui, sans-serif; margin: 1rem; background: #111; color: #eee; }}
  img {{ max-width: 100%; background: #222; display: block; }}
  #panel {{ display: flex; gap: 2rem; flex-wrap: wrap; margin-top: .5rem; }}
  ul {{ margin: .25rem 0; padding-left: 1.2rem; }}
  .muted {{ color: #999; }}
</style>
</head>
<body>
<h1>{title}</h1>
<img id="stream" src="{stream}" alt="annotated video">
<div id="panel">
  <div><h2>status</h2><div id="status" class="muted">waiting for the first frame</div></div>
  <div><h2>counts</h2><ul id="counts"><li class="muted">no counting lines or zones (--line, --zone)</li></ul></div>
  <div><h2>active tracks</h2><ul id="tracks"></ul></div>
</div>
<script>
"use strict";
const STATUS_URL = {status};
function fill(id, lines) {{
  const list = document.getElementById(id);
  list.replaceChildren(...lines.map(text => {{ const li = document.createElement("li"); li.textContent = text; return li; }}));
}}
function show(s) {{
  if (s.frame === null) return;
  const fps = s.fps === null ? "" : ` · ${{s.fps}} fps`;
  document.getElementById("status").textContent =
    `frame ${{s.frame}} · ${{s.time_s.toFixed(2)}} s${{fps}} · ${{s.active_tracks}} active tracks`;
  if (s.counts) {{
    fill("counts", Object.entries(s.counts).map(([name, c]) => c.kind === "line"
      ? `${{name}}: ${{c.in}} in, ${{c.out}} out`
      : `${{name}}: ${{c.occupancy}} inside, ${{c.entered}} entered, peak ${{c.peak}}`));
  }}
  fill("tracks", s.tracks.map(t => `#${{t.id}} ${{t.class}} ${{t.score.toFixed(2)}}`));
}}
async function poll() {{
  try {{
    const reply = await fetch(STATUS_URL, {{cache: "no-store"}});
    if (!reply.ok) throw new Error(reply.status);
    show(await reply.json());
  }} catch (error) {{
    document.getElementById("status").textContent = "the run has ended or cannot be reached";
  }}
  setTimeout(poll, {interval_ms});
}}
poll();
</script>
</body>
</html>
"""
