"""The cohort report opened in a real headless Chromium (Debian chromium + chromium-driver).

It renders, its charts are drawn (bars with a width), every number it shows is
the JSON summary's, it loads nothing from anywhere, and every chart has a title,
a description and a table of the same numbers.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By

from service.bulk.run import BulkOptions, run
from service.settings import DerivationSettings
from tests.builders import NOW
from tests.builders.bulk import write_export
from tests.builders.report import summary_value


@pytest.fixture(scope="module")
def browser() -> Iterator[webdriver.Chrome]:
    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"):
        options.add_argument(argument)
    # Loopback only: the driver listens on a free loopback port chosen by Selenium.
    service = Service(executable_path=shutil.which("chromedriver") or "/usr/bin/chromedriver")
    driver = webdriver.Chrome(options=options, service=service)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("bulk")
    write_export(root / "export", 80, seed=9)
    options = BulkOptions(root / "export", root / "out", workers=1, partitions=2, now=NOW)
    run(options, DerivationSettings())
    return root / "out"


def test_the_report_renders_with_its_charts_and_the_summarys_numbers(
    browser: webdriver.Chrome, report: Path
) -> None:
    summary = json.loads((report / "summary.json").read_text(encoding="utf-8"))
    browser.get((report / "report.html").as_uri())
    assert browser.title == "HER2 cohort report"
    assert browser.find_element(By.TAG_NAME, "h1").text == "HER2 cohort report"
    charts = browser.find_elements(By.CSS_SELECTOR, "figure svg[role=img]")
    assert len(charts) >= 5
    drawn = 0
    for bar in browser.find_elements(By.CSS_SELECTOR, "svg rect.bar"):
        value = int(bar.get_attribute("data-value") or "-1")
        assert value == summary_value(summary, bar.get_attribute("data-summary") or "")
        width = browser.execute_script("return arguments[0].getBoundingClientRect().width", bar)
        assert (width > 0) == (value > 0)
        drawn += value > 0
    assert drawn >= 5
    printed = browser.find_elements(By.CSS_SELECTOR, "[data-summary]:not(rect)")
    assert len(printed) >= 20
    for element in printed:
        path = element.get_attribute("data-summary") or ""
        assert int(element.text) == summary_value(summary, path), path
    loaded = browser.execute_script("return performance.getEntriesByType('resource').length")
    assert loaded == 0


def test_every_chart_has_a_title_a_description_and_a_table(
    browser: webdriver.Chrome, report: Path
) -> None:
    browser.get((report / "report.html").as_uri())
    headings = [h.text for h in browser.find_elements(By.TAG_NAME, "h2")]
    assert "Status by tumour site" in headings
    assert "Next steps pending" in headings
    for chart in browser.find_elements(By.CSS_SELECTOR, "figure svg[role=img]"):
        ids = (chart.get_attribute("aria-labelledby") or "").split()
        assert len(ids) == 2
        texts = [browser.find_element(By.ID, i).get_attribute("textContent") for i in ids]
        assert all(texts)
        figure = chart.find_element(By.XPATH, "..")
        table = browser.find_element(By.ID, f"{figure.get_attribute('id')}-table")
        assert table.find_element(By.TAG_NAME, "caption").text
        rows = table.find_elements(By.CSS_SELECTOR, "tbody tr")
        assert len(rows) == len(chart.find_elements(By.CSS_SELECTOR, "rect.bar"))
