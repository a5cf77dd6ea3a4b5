"""FHIR literal references: the R4 grammar, parsed into (type, id, version, base).

A reference is followed only when it matches the grammar (contract section 2; the
security issue's path-escape finding): ``Type/id``, ``Type/id/_history/n``, absolute
on a service base, ``urn:uuid:``/``urn:oid:`` or ``#contained``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache, lru_cache

from fhir.resources.R4B import get_fhir_model_class
from fhir.resources.R4B.resource import Resource

# The FHIR R4 reference grammar (3.1.3.4.1 Literal references): ``Type/id`` or
# ``Type/id/_history/vid``, relative or after an absolute service base.  An id made
# of dots only is legal by the id pattern but means "this/parent directory" in a URL,
# so it is refused: ``Specimen/..`` must never become a request for another path.
_ID = r"(?!\.{1,64}(?:/|$))[A-Za-z0-9\-.]{1,64}"
_RELATIVE = re.compile(
    rf"(?P<type>[A-Z][A-Za-z]{{0,63}})/(?P<id>{_ID})(?:/_history/(?P<version>{_ID}))?"
)
_BASE = re.compile(r"https?://[A-Za-z0-9\-.:\[\]@]+(?:/[A-Za-z0-9\-._~%!$&'()*+,;=:@]+)*")
_URN = re.compile(r"urn:(?:uuid:[0-9a-fA-F\-]{36}|oid:[0-2](?:\.(?:0|[1-9][0-9]*))+)")


@dataclass(frozen=True)
class Reference:
    """A literal reference that follows the FHIR grammar.

    Attributes:
        type: the resource type.
        id: the logical id.
        version: the ``_history`` version, if named.
        base: the absolute service base it names, or None when relative.
    """

    type: str
    id: str
    version: str | None = None
    base: str | None = None

    @property
    def relative(self) -> str:
        """``Type/id`` (without base or version): what may be read from a server."""
        return f"{self.type}/{self.id}"


@cache
def is_resource_type(name: str) -> bool:
    """Whether ``name`` is an R4 resource type (not a data type, not anything else)."""
    if not isinstance(name, str) or not re.fullmatch(r"[A-Z][A-Za-z]{0,63}", name):
        return False
    try:
        model = get_fhir_model_class(name)
    except (KeyError, ValueError):
        return False
    return issubclass(model, Resource)


def parse_reference(text: object) -> Reference | None:
    """Parse a literal reference; None unless it follows the FHIR reference grammar.

    Accepted: ``Type/id``, ``Type/id/_history/vid``, and either after an absolute
    ``http(s)`` base whose path has no ``.`` or ``..`` segment.  Anything else (a
    path with dot segments, a query, a fragment, spaces) is never followed.
    """
    if not isinstance(text, str):
        return None
    if len(text) <= _CACHED_LENGTH:
        return _parse_cached(text)
    return _parse(text)


# Every reference of a request is parsed several times (indexing, grouping, subject
# keys) and the same few recur across requests: parsing is a pure function of the
# text, so ordinary-length references are parsed once.  The bounds keep a hostile
# request from filling memory (longer text is parsed each time, not kept).
_CACHED_LENGTH = 256


@lru_cache(maxsize=8192)
def _parse_cached(text: str) -> Reference | None:
    return _parse(text)


def _parse(text: str) -> Reference | None:
    match = _RELATIVE.fullmatch(text)
    if match:
        return Reference(match["type"], match["id"], match["version"])
    if not text.startswith(("http://", "https://")):
        return None
    # The type/id tail is at most four segments; try the ones that can hold it.
    parts = text.split("/")
    for tail in (4, 2):
        if len(parts) <= tail + 2:
            continue
        base, rest = "/".join(parts[:-tail]), "/".join(parts[-tail:])
        match = _RELATIVE.fullmatch(rest)
        if match and _BASE.fullmatch(base) and not {".", ".."} & set(base.split("/")[3:]):
            return Reference(match["type"], match["id"], match["version"], base)
    return None


def is_grammatical(text: str) -> bool:
    """Whether a reference string is a literal reference, a ``urn`` or a ``#local`` one."""
    if len(text) <= _CACHED_LENGTH:
        return _grammatical_cached(text)
    return _grammatical(text)


@lru_cache(maxsize=8192)
def _grammatical_cached(text: str) -> bool:
    return _grammatical(text)


def _grammatical(text: str) -> bool:
    return (
        parse_reference(text) is not None
        or _URN.fullmatch(text) is not None
        or (text.startswith("#") and (text == "#" or _RELATIVE_ID.fullmatch(text[1:]) is not None))
    )


_RELATIVE_ID = re.compile(_ID)


def is_relative(text: str) -> bool:
    """Whether ``text`` is a relative literal reference (``Type/id[/_history/vid]``)."""
    return _RELATIVE.fullmatch(text) is not None
