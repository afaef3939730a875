"""A report page as a person sees it: loaded by headless Chromium, then read back.

Chromium is driven over its DevTools protocol (with websocket-client, already a
dependency): navigate to the file, wait for the load event, then read what is on
screen: the visible text, and each image's decoded size and displayed size. A
screenshot of the whole page is kept beside the report for a person to look at.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import signal
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import websocket

from tests.support import system_program

_BROWSERS = ("chromium", "chromium-browser", "google-chrome")
_READ_PAGE = """JSON.stringify({
  title: document.title,
  text: document.body.innerText,
  images: Array.from(document.images).map(image => ({
    src: image.getAttribute("src"),
    complete: image.complete,
    width: image.naturalWidth,
    height: image.naturalHeight,
    shown: image.getBoundingClientRect().width,
  })),
  height: document.documentElement.scrollHeight,
})"""


@dataclass(frozen=True)
class RenderedPage:
    title: str
    text: str
    images: list[dict[str, Any]]
    height: int
    screenshot: Path


def _browser() -> str:
    return system_program(_BROWSERS, "rendering a page needs Chromium (Debian's chromium)")


class _DevTools:
    def __init__(self, url: str) -> None:
        self.socket = websocket.create_connection(url, timeout=30, suppress_origin=True)
        self.next_id = 0

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        self.next_id += 1
        self.socket.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            message = json.loads(self.socket.recv())
            if message.get("id") == self.next_id:
                assert "error" not in message, message
                result: dict[str, Any] = message["result"]
                return result

    def wait_for(self, event: str) -> None:
        while json.loads(self.socket.recv()).get("method") != event:
            pass


@contextlib.contextmanager
def chromium() -> Iterator[_DevTools]:
    """Headless Chromium with one page open, driven over DevTools."""
    with tempfile.TemporaryDirectory(
        prefix="chatload-chromium-", ignore_cleanup_errors=True
    ) as profile:
        browser = subprocess.Popen(
            [
                _browser(),
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-quic",
                "--remote-debugging-port=0",
                "--remote-allow-origins=*",
                f"--user-data-dir={profile}",
                "--window-size=1280,900",
                "about:blank",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            port_file = Path(profile) / "DevToolsActivePort"
            deadline = time.monotonic() + 30
            while not port_file.exists() or not port_file.read_text().strip():
                assert time.monotonic() < deadline, "Chromium did not start in 30 s"
                time.sleep(0.1)
            port = int(port_file.read_text().split()[0])
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as answer:
                targets = json.loads(answer.read())
            target = next(t for t in targets if t["type"] == "page")
            tools = _DevTools(target["webSocketDebuggerUrl"])
            tools.call("Page.enable")
            try:
                yield tools
            finally:
                tools.socket.close()
        finally:
            # Chromium's helper processes write to the profile until they are gone too.
            os.killpg(browser.pid, signal.SIGKILL)
            browser.wait(timeout=10)
            _wait_for_group(browser.pid)


def open_page(tools: _DevTools, url: str) -> None:
    tools.call("Page.navigate", url=url)
    tools.wait_for("Page.loadEventFired")


def visible_text(tools: _DevTools) -> str:
    read = tools.call("Runtime.evaluate", expression="document.body.innerText", returnByValue=True)
    return str(read["result"]["value"])


def click_text(tools: _DevTools, text: str) -> bool:
    """Click the first button or tab whose text is ``text``; whether one was found."""
    script = (
        "(() => { const all = [...document.querySelectorAll('button, [role=tab], a')];"
        f" const hit = all.find(e => e.innerText.trim() === {json.dumps(text)});"
        " if (hit) { hit.click(); return true; } return false; })()"
    )
    read = tools.call("Runtime.evaluate", expression=script, returnByValue=True)
    return bool(read["result"]["value"])


def render(page: Path) -> RenderedPage:
    with chromium() as tools:
        open_page(tools, page.resolve().as_uri())
        read = tools.call("Runtime.evaluate", expression=_READ_PAGE, returnByValue=True)
        data = json.loads(read["result"]["value"])
        shot = tools.call("Page.captureScreenshot", format="png", captureBeyondViewport=True)
        screenshot = page.with_name(page.stem + "-screenshot.png")
        screenshot.write_bytes(base64.b64decode(shot["data"]))
    return RenderedPage(data["title"], data["text"], data["images"], data["height"], screenshot)


def _wait_for_group(group: int) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.killpg(group, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)


def assert_every_image_shows(rendered: RenderedPage, expected: set[str]) -> None:
    """Every expected picture is on the page, decoded and displayed, none broken."""
    sources = {image["src"] for image in rendered.images}
    assert expected <= sources, sorted(expected - sources)
    for image in rendered.images:
        assert image["complete"] and image["width"] > 100 and image["height"] > 100, image
        assert image["shown"] > 100, image
