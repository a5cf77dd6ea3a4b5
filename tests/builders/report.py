"""Reading the numbers back out of the bulk cohort report (unit and browser tests)."""

from __future__ import annotations

from html.parser import HTMLParser
from typing import Any


def summary_value(summary: dict[str, Any], path: str) -> Any:
    """The value at a ``data-summary`` path (keys joined by ``/``)."""
    value: Any = summary
    for key in path.split("/"):
        value = value[key]
    return value


class _Numbers(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.found: list[tuple[str, str, str]] = []  # (tag, path, text or data-value)
        self._open: list[tuple[str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        path = values.get("data-summary")
        if path is None:
            return
        if "data-value" in values:
            self.found.append((tag, path, str(values["data-value"])))
        else:
            self._open.append((tag, path))

    def handle_data(self, data: str) -> None:
        if self._open:
            tag, path = self._open.pop()
            self.found.append((tag, path, data.strip()))


def report_numbers(html: str) -> list[tuple[str, str, str]]:
    """Every (tag, summary path, printed number) of a report."""
    parser = _Numbers()
    parser.feed(html)
    return parser.found
