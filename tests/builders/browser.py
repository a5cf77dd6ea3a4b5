"""The service under gunicorn and a headless Chromium, for the browser tests.

``serving`` starts the service of this checkout as a real gunicorn process on a free
loopback port with ``HER2_*`` settings; ``chromium`` starts Debian's ``chromium``
with its ``chromedriver`` (scripts/system-deps installs both) through Selenium, with
the console log kept; ``screenshot`` saves the whole page, ``console_errors`` reads
the console's errors.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from selenium import webdriver
from selenium.webdriver import Chrome
from selenium.webdriver.chrome.service import Service

from tests.builders.serve import ROOT, free_port, gunicorn, serve_command

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"


@contextmanager
def serving(
    log: Path, settings: dict[str, str] | None = None, port: int | None = None
) -> Iterator[str]:
    """The service under gunicorn on loopback; ``{port}`` in a setting is replaced."""
    port = port or free_port()
    env = {"PYTHONPATH": str(ROOT)}  # this checkout's service, also in gunicorn's workers
    env |= {k: v.replace("{port}", str(port)) for k, v in (settings or {}).items()}
    with gunicorn(serve_command(port), port, log, env):
        yield f"http://127.0.0.1:{port}"


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
