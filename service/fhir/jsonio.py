"""FHIR JSON in and out with exact decimals (contract section 2).

``loads`` parses numbers with a fraction as ``Decimal``; ``dumps`` writes a
``Decimal`` back as the exact JSON number it came from (``1.20`` stays ``1.20``).
The standard library can only write floats, so decimals travel as unique
placeholders that are swapped for their digits after encoding.
"""

from __future__ import annotations

import json
import re
import uuid
from decimal import Decimal
from typing import Any

_TOKEN = f"__decimal_{uuid.uuid4().hex}__"
_PLACEHOLDER = re.compile(rf'"{_TOKEN}([^"]*)"')


def loads(text: str | bytes) -> Any:
    """Parse JSON; numbers with a fraction or exponent become ``Decimal``."""
    return json.loads(text, parse_float=Decimal)


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
