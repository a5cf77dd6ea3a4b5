"""Reading the decision view's HTML in tests: highlighted rules, statuses, rule ids of a Bundle."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from typing import Any

_RULE_LINE = re.compile(r"^\[([A-Z][A-Z0-9]{0,3})\] ", re.MULTILINE)


class _ViewParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.rules: set[str] = set()
        self.statuses: list[str] = []
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        self.tags.append((tag, found))
        classes = (found.get("class") or "").split()
        if tag == "g" and "node" in classes and "taken" in classes:
            self.rules.update((found.get("data-rules") or "").split())
        if found.get("data-status"):
            self.statuses.append(found["data-status"] or "")


def parse_view(page: str) -> _ViewParser:
    """The view's highlighted rule ids, statuses and tags."""
    parser = _ViewParser()
    parser.feed(page)
    return parser


def bundle_rule_ids(bundle: dict[str, Any]) -> set[str]:
    """The rule ids of every status Observation's note (``[B14] …`` lines)."""
    ids: set[str] = set()
    for entry in bundle["entry"]:
        resource = entry["resource"]
        if resource["resourceType"] == "Observation":
            for note in resource.get("note", []):
                ids.update(_RULE_LINE.findall(note["text"]))
    return ids
