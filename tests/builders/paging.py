"""A ``responses`` callback for a FHIR server that pages on forever with empty pages."""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable

from tests.builders import searchset

Callback = Callable[[object], tuple[int, dict[str, str], str]]


def endless_empty_pages(url: str) -> Callback:
    """Empty searchset pages, each with a ``next`` link to a page never seen before."""
    pages = itertools.count()

    def page(_: object) -> tuple[int, dict[str, str], str]:
        answer = searchset()
        answer["link"] = [{"relation": "next", "url": f"{url}?page={next(pages)}"}]
        return 200, {"Content-Type": "application/fhir+json"}, json.dumps(answer)

    return page
