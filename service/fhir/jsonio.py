r"""FHIR JSON in and out with exact decimals (contract section 2).

``loads`` parses numbers with a fraction as ``Decimal``; ``dumps`` writes a
``Decimal`` back as the exact JSON number it came from (``1.20`` stays ``1.20``).
The standard library can only write floats, so decimals travel as unique
placeholders that are swapped for their digits after encoding.

``loads`` is strict where the standard library is lenient, because the lenient
reading is a clinical risk or a crash: a key repeated in one object (the standard
library keeps the last, so ``"3+"`` then ``"0"`` would derive negative), text
that is not UTF-8, and a lone UTF-16 surrogate escape (``"\ud800"``, which
parses but can never be written back) are all :class:`JsonError`.  Its message
is one of our fixed sentences: never the library's, which may quote the input.
"""

from __future__ import annotations

import json
import re
import uuid
from decimal import Decimal
from typing import Any

_TOKEN = f"__decimal_{uuid.uuid4().hex}__"
_PLACEHOLDER = re.compile(rf'"{_TOKEN}([^"]*)"')
# Only an escape can produce a surrogate once the text is known to be UTF-8; a
# paired escape is decoded to one character by json and is fine.
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")
_SURROGATE_ESCAPE_TEXT = re.compile(r"\\u[dD][89a-fA-F]")


class JsonError(ValueError):
    """The text is not JSON the service accepts; the message names no input value.

    Attributes:
        reason: a fixed sentence saying what is wrong.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # Called by json's C scanner once per object: dict() and len() stay in C, so
    # the check costs one Python call per object, not one per key.
    result = dict(pairs)
    if len(result) != len(pairs):
        raise JsonError("A JSON object repeats a key.")
    return result


def loads(text: str | bytes) -> Any:
    """Parse JSON; numbers with a fraction or exponent become ``Decimal``.

    Args:
        text: the document (bytes must be UTF-8).

    Raises:
        JsonError: for invalid JSON, text that is not UTF-8, a repeated key in an
            object, a lone surrogate escape, or nesting too deep to parse.
    """
    if isinstance(text, bytes):
        raw = text
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise JsonError("The body is not UTF-8 text.") from None
        escaped = _SURROGATE_ESCAPE.search(raw) is not None
    else:
        escaped = _SURROGATE_ESCAPE_TEXT.search(text) is not None
    try:
        value = json.loads(text, parse_float=Decimal, object_pairs_hook=_no_duplicates)
    except JsonError:
        raise
    except RecursionError:
        raise JsonError("The JSON document is nested too deeply.") from None
    except ValueError:
        # json.JSONDecodeError quotes the document around the error: never passed on.
        raise JsonError("The body is not valid JSON.") from None
    if escaped and _has_lone_surrogate(value):
        raise JsonError("The JSON text holds an invalid Unicode escape (a lone surrogate).")
    return value


def loads_written(text: str) -> Any:
    """Parse JSON that :func:`dumps` wrote from a value :func:`loads` had accepted.

    Exact decimals as :func:`loads`, without its checks for input from outside: a
    document written by :func:`dumps` from a dict has no repeated key and no lone
    surrogate.  Only for the service's own intermediate files (the bulk job's
    partitions), never for a request, a server's answer or an export.
    """
    return json.loads(text, parse_float=Decimal)


def _has_lone_surrogate(value: Any) -> bool:
    # Rare path (the document has a surrogate escape at all): one strict encode in C.
    try:
        json.dumps(value, ensure_ascii=False, default=str).encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _placeholder(value: object) -> str:
    # json's C encoder calls this only for types it cannot write itself.
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError("a FHIR decimal must be finite")
        return f"{_TOKEN}{value}"
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def dumps(value: Any, indent: int | None = None) -> str:
    """Serialise FHIR JSON, writing every ``Decimal`` as its exact digits."""
    text = json.dumps(value, ensure_ascii=False, indent=indent, default=_placeholder)
    return _PLACEHOLDER.sub(lambda m: m.group(1), text) if _TOKEN in text else text
