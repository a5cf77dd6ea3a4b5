"""The service under gunicorn and a headless Chromium, for the browser tests.

``serving`` starts the service of this checkout as a real gunicorn process on a free
loopback port with ``HER2_*`` settings; ``chromium`` starts Debian's ``chromium``
with its ``chromedriver`` (scripts/system-deps installs both) through Selenium, with
the console log kept; ``screenshot`` saves the whole page, ``console_errors`` reads
the console's errors.
"""

from __future__ import annotations

import base64
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import requests
from selenium import webdriver
from selenium.webdriver import Chrome
from selenium.webdriver.chrome.service import Service

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def serving(
    log: Path, settings: dict[str, str] | None = None, port: int | None = None
) -> Iterator[str]:
    """The service under gunicorn on loopback; ``{port}`` in a setting is replaced."""
    port = port or _free_port()
    settings = settings or {}
    env = {k: v for k, v in os.environ.items() if not k.startswith("HER2_")}
    env["PYTHONPATH"] = str(ROOT)  # this checkout's service, also in gunicorn's workers
    env |= {k: v.replace("{port}", str(port)) for k, v in settings.items()}
    command = [sys.executable, "-m", "service.cli", "serve", "--port", str(port)]
    command += ["--workers", "1", "--threads", "2"]
    with log.open("wb") as stderr:
        process = subprocess.Popen(
            command,
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, log.read_text()
            try:
                if requests.get(f"{url}/healthz", timeout=1).ok:
                    break
            except requests.ConnectionError:
                pass
            assert time.monotonic() < deadline, "the service did not start"
            time.sleep(0.2)
        yield url
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)


@contextmanager
def chromium() -> Iterator[Chrome]:
    """Headless Chromium with its console log kept, quit after."""
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in (
        "--headless=new",
        "--no-sandbox",  # the test may run as root in CI
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--window-size=1300,1000",
        "--no-first-run",
        "--disable-extensions",
        "--disable-background-networking",
        "--disable-component-update",
    ):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(executable_path=CHROMEDRIVER))
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()


def screenshot(driver: Chrome, path: Path) -> None:
    """The whole page, beyond the viewport (Chrome DevTools Protocol), as PNG."""
    shot: dict[str, Any] = driver.execute_cdp_cmd(
        "Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True}
    )
    path.write_bytes(base64.b64decode(shot["data"]))
    assert path.stat().st_size > 10_000


def console_errors(driver: Chrome) -> list[dict[str, Any]]:
    """The browser console's errors so far."""
    # Selenium's get_log carries no annotations.
    entries: list[dict[str, Any]] = driver.get_log("browser")  # type: ignore[no-untyped-call]
    return [e for e in entries if e.get("level") in ("SEVERE", "ERROR")]
