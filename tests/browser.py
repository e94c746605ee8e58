"""A headless Chromium for tests, driven over the Chrome DevTools protocol (CDP).

Debian's ``chromium`` (never a browser download) with the flags that work offline, a fresh
profile, and a websocket on loopback: enough to load a page, collect every console error,
uncaught exception and failed load, take a screenshot and print the page to PDF.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import websocket

CANDIDATES = ("/usr/bin/chromium", "chromium", "chromium-browser")
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--remote-debugging-port=0",
)
START_SECONDS = 30.0
LOAD_SECONDS = 30.0


def find_chromium() -> str | None:
    for name in CANDIDATES:
        path = shutil.which(name)
        if path:
            return path
    return None


@dataclass
class PageRun:
    screenshot: bytes
    pdf: bytes
    errors: list[str] = field(default_factory=list)
    values: dict[str, Any] = field(default_factory=dict)  # results of the expressions asked for


class _Session:
    def __init__(self, ws_url: str) -> None:
        self.ws = websocket.create_connection(ws_url, timeout=LOAD_SECONDS, suppress_origin=True)
        self.next_id = 0
        self.events: list[dict[str, Any]] = []

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        self.next_id += 1
        self.ws.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            message = json.loads(self.ws.recv())
            if message.get("id") == self.next_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                result: dict[str, Any] = message.get("result", {})
                return result
            self.events.append(message)

    def wait_for(self, event: str, seconds: float = LOAD_SECONDS) -> None:
        deadline = time.monotonic() + seconds
        while not any(e.get("method") == event for e in self.events):
            if time.monotonic() > deadline:
                raise TimeoutError(f"no {event} within {seconds} s")
            self.events.append(json.loads(self.ws.recv()))

    def errors(self) -> list[str]:
        found = []
        for e in self.events:
            method, params = e.get("method"), e.get("params", {})
            if method == "Runtime.exceptionThrown":
                details = params.get("exceptionDetails", {})
                found.append(f"exception: {details.get('text')} {details.get('exception', {}).get('description', '')}")
            elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
                found.append(f"console.{params.get('type')}: {params.get('args')}")
            elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
                found.append(f"log: {params['entry'].get('text')} {params['entry'].get('url', '')}")
            elif method == "Network.loadingFailed":
                found.append(f"failed load: {params.get('errorText')}")
        return found


def _devtools_port(profile: Path, process: subprocess.Popen[bytes]) -> int:
    marker = profile / "DevToolsActivePort"
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        if marker.exists() and marker.read_text().strip():
            return int(marker.read_text().split()[0])
        if process.poll() is not None:
            raise RuntimeError(f"chromium exited with {process.returncode}")
        time.sleep(0.05)
    raise TimeoutError("chromium did not open its DevTools port")


@contextmanager
def chromium(executable: str, width: int = 1280, height: int = 1600) -> Iterator[_Session]:
    """A fresh headless Chromium with one blank page; yields a CDP session on that page."""
    profile = tempfile.mkdtemp(prefix="partnerops-chromium-")
    args = [executable, *FLAGS, f"--user-data-dir={profile}", f"--window-size={width},{height}", "about:blank"]
    # Its own process group, so the helpers Chromium forks (zygote, crashpad) stop with it and
    # nothing is still writing into the profile when it is removed.
    process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        port = _devtools_port(Path(profile), process)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as answer:
            targets = json.loads(answer.read())
        page = next(t for t in targets if t.get("type") == "page")
        session = _Session(page["webSocketDebuggerUrl"])
        try:
            yield session
        finally:
            session.ws.close()
    finally:
        _stop(process)
        _remove_profile(Path(profile))


def _stop(process: subprocess.Popen[bytes]) -> None:
    """Terminate the whole group, then kill whatever of it is left."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            continue
        time.sleep(0.1)


def _remove_profile(profile: Path) -> None:
    for _ in range(20):
        try:
            shutil.rmtree(profile)
            return
        except FileNotFoundError:
            return
        except OSError:
            time.sleep(0.1)
    shutil.rmtree(profile, ignore_errors=True)


def open_page(executable: str, path: Path, expressions: dict[str, str] | None = None) -> PageRun:
    """Load ``path``, wait for its load event, and return screenshot, PDF, errors and the values
    of ``expressions`` (JavaScript, evaluated in the page after it loaded)."""
    with chromium(executable) as page:
        for domain in ("Runtime", "Log", "Network", "Page"):
            page.call(f"{domain}.enable")
        page.call("Page.navigate", url=path.resolve().as_uri())
        page.wait_for("Page.loadEventFired")
        values = {
            name: page.call("Runtime.evaluate", expression=js, returnByValue=True)["result"].get("value")
            for name, js in (expressions or {}).items()
        }
        shot = page.call("Page.captureScreenshot", format="png")
        pdf = page.call("Page.printToPDF", printBackground=True, preferCSSPageSize=True)
        return PageRun(base64.b64decode(shot["data"]), base64.b64decode(pdf["data"]), page.errors(), values)
