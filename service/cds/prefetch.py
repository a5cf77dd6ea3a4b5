"""Prefetch data in, one searchset Bundle out (CDS Hooks 2.0, "Providing FHIR Resources").

For each prefetch template key of the service:

- absent: the EHR chose not to, or could not, prefetch it — the service must fetch
  it itself (``Gathered.missing`` holds the rendered query);
- ``null``: the EHR has no data for it — nothing to fetch;
- an OperationOutcome: the EHR tried and failed — treated like an absent key;
- a Bundle: its entries' resources; any other resource: that resource.

Anything else is a malformed request (``PrefetchError``, answered 400).  Resources
are kept once per ``Type/id``; their ``fullUrl`` is kept so references resolve.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

_TOKEN = re.compile(r"\{\{\s*context\.([A-Za-z][A-Za-z0-9]*)\s*\}\}")


class PrefetchError(ValueError):
    """The prefetch object is malformed; the message names the key, never a value."""


@dataclass
class Gathered:
    """What the prefetch data held, and what is still to fetch.

    Attributes:
        entries: searchset entries (``resource`` and, when given, ``fullUrl``).
        missing: prefetch key → the rendered query, for keys to fetch.
    """

    entries: list[dict[str, Any]] = field(default_factory=list)
    missing: dict[str, str] = field(default_factory=dict)
    _seen: set[str] = field(default_factory=set)

    def add(self, resource: dict[str, Any], full_url: object = None) -> None:
        """Keep a resource once (by ``Type/id``; resources without an id are all kept)."""
        rid = resource.get("id")
        if isinstance(rid, str):
            key = f"{resource.get('resourceType')}/{rid}"
            if key in self._seen:
                return
            self._seen.add(key)
        entry: dict[str, Any] = {"resource": resource}
        if isinstance(full_url, str):
            entry["fullUrl"] = full_url
        self.entries.append(entry)

    def bundle(self) -> dict[str, Any]:
        """The searchset Bundle the derivation reads."""
        return {"resourceType": "Bundle", "type": "searchset", "entry": list(self.entries)}


def render(template: str, context: Mapping[str, Any]) -> str | None:
    """The query of a template with its context tokens filled (None: a token is unfilled).

    Only root-level primitive context fields fill a token (the specification's rule);
    values are percent-encoded so they cannot add a parameter.
    """
    unfilled = False

    def fill(match: re.Match[str]) -> str:
        nonlocal unfilled
        value = context.get(match.group(1))
        if not isinstance(value, str | int) or isinstance(value, bool) or value == "":
            unfilled = True
            return ""
        return quote(str(value), safe="")

    query = _TOKEN.sub(fill, template)
    return None if unfilled else query


def gather(prefetch: object, templates: Mapping[str, str], context: Mapping[str, Any]) -> Gathered:
    """Sort the request's prefetch values into resources and keys still to fetch.

    Raises:
        PrefetchError: when ``prefetch`` is not an object or a value is neither
            null nor a FHIR resource.
    """
    if prefetch is None:
        prefetch = {}
    if not isinstance(prefetch, dict):
        raise PrefetchError("prefetch must be an object")
    gathered = Gathered()
    for key, template in templates.items():
        if key not in prefetch:
            query = render(template, context)
            if query is not None:
                gathered.missing[key] = query
            continue
        value = prefetch[key]
        if value is None:
            continue
        if not isinstance(value, dict) or not isinstance(value.get("resourceType"), str):
            raise PrefetchError(f"prefetch key {key} is neither null nor a FHIR resource")
        kind = value["resourceType"]
        if kind == "OperationOutcome":
            query = render(template, context)
            if query is not None:
                gathered.missing[key] = query
        elif kind == "Bundle":
            entries = value.get("entry")
            for entry in entries if isinstance(entries, list) else []:
                resource = entry.get("resource") if isinstance(entry, dict) else None
                if isinstance(resource, dict) and resource.get("resourceType") != (
                    "OperationOutcome"
                ):
                    gathered.add(resource, entry.get("fullUrl"))
        else:
            gathered.add(value)
    return gathered


__all__ = ["Gathered", "PrefetchError", "gather", "render"]
