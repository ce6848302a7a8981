"""``tracker track --serve`` in a real browser: headless Chromium, driven through chromedriver's W3C
WebDriver HTTP API by a tiny urllib client, loads the page, shows the MJPEG stream in its ``<img>`` and sees
the counts rise. Chromium and chromedriver come from Debian (``apt-get install chromium chromium-driver``,
which .ci/run does); without them the test is skipped. Everything stays on 127.0.0.1: Chromium's host
resolver maps every other name to nothing, and its background networking is off."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from helpers import LiveTrackRun, free_port

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
TOKEN = "browser-test-token"
WAIT_S = 60.0  # generous bound on anything the page should do (CPU-starved CI machines)
POLL_S = 0.2
DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never through a proxy: loopback only
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--no-proxy-server", "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
]  # fmt: skip

pytestmark = pytest.mark.skipif(
    CHROMIUM is None or CHROMEDRIVER is None,
    reason="needs Debian's chromium and chromium-driver (apt-get install -y chromium chromium-driver)",
)


class WebDriver:
    """Just enough of the W3C WebDriver protocol: a session, navigation and scripts."""

    def __init__(self, user_data_dir: Path):
        port = free_port()
        self.base = f"http://127.0.0.1:{port}"
        self.driver = subprocess.Popen(
            [CHROMEDRIVER, f"--port={port}"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        self.session = None
        try:
            self._wait_ready()
            options = {"binary": CHROMIUM, "args": [*CHROMIUM_ARGS, f"--user-data-dir={user_data_dir}"]}
            reply = self._call("POST", "/session", {"capabilities": {"alwaysMatch": {"goog:chromeOptions": options}}})
            self.session = reply["sessionId"]
        except BaseException:
            self.quit()
            raise

    def _call(self, method: str, path: str, body: dict | None = None):
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.base + path, data=data, method=method,
                                         headers={"Content-Type": "application/json"})  # fmt: skip
        try:
            with DIRECT.open(request, timeout=WAIT_S) as reply:
                return json.loads(reply.read())["value"]
        except urllib.error.HTTPError as error:
            raise AssertionError(f"WebDriver {method} {path}: {error.read()[:500]!r}") from None

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + WAIT_S
        while time.monotonic() < deadline:
            try:
                if self._call("GET", "/status")["ready"]:
                    return
            except (OSError, AssertionError):
                pass
            time.sleep(POLL_S)
        raise AssertionError("chromedriver did not start")

    def open(self, url: str) -> None:
        self._call("POST", f"/session/{self.session}/url", {"url": url})

    def script(self, source: str):
        return self._call("POST", f"/session/{self.session}/execute/sync", {"script": source, "args": []})

    def wait_for(self, source: str, what: str):
        """The first truthy value of the script ``source`` (polled)."""
        deadline = time.monotonic() + WAIT_S
        while time.monotonic() < deadline:
            value = self.script(source)
            if value:
                return value
            time.sleep(POLL_S)
        raise AssertionError(f"the page never {what}")

    def quit(self) -> None:
        if self.session is not None:
            try:
                self._call("DELETE", f"/session/{self.session}")
            except (OSError, AssertionError):
                pass
        self.driver.terminate()
        try:
            self.driver.wait(WAIT_S)
        except subprocess.TimeoutExpired:
            self.driver.kill()


def door_total(text: str) -> int:
    """in + out of the "door: N in, M out" line of the page's counts."""
    words = text.split("door:", 1)[1].split()
    return int(words[0]) + int(words[2])


def test_the_live_page_shows_the_stream_and_rising_counts(tmp_path):
    run = LiveTrackRun(tmp_path, "--serve", "127.0.0.1:0", "--serve-token", TOKEN)
    browser = None
    try:
        assert run.url.startswith("http://127.0.0.1:") and run.url.endswith(f"/?token={TOKEN}")
        browser = WebDriver(tmp_path / "chromium-profile")
        browser.open(run.url)
        assert browser.script("return document.title") == "tracker: live"
        width = browser.wait_for(
            "const img = document.getElementById('stream'); return img.complete && img.naturalWidth", "showed a frame"
        )
        assert width == LiveTrackRun.WIDTH
        status = browser.wait_for("return document.getElementById('status').textContent.match(/^frame \\d+/) "
                                  "&& document.getElementById('status').textContent", "showed the status")  # fmt: skip
        assert "active tracks" in status
        counts = browser.wait_for(
            "const t = document.getElementById('counts').textContent; return t.includes('door:') && t",
            "showed the counts",
        )
        first = door_total(counts)
        browser.wait_for(
            f"const t = document.getElementById('counts').textContent; "
            f"const m = t.match(/door: (\\d+) in, (\\d+) out/); return m && (+m[1] + +m[2]) > {first}",
            "updated the counts",
        )
        # the page's own requests carried the token: without it, the same stream is refused
        refused = browser.script(
            "return fetch('status.json', {cache: 'no-store'}).then(r => r.status)"
        )
        assert refused == 403
    finally:
        if browser is not None:
            browser.quit()
        code, err = run.stop()
    assert code == 130, err
