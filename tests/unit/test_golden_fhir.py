"""Golden files: FHIR input in, exact FHIR output out (read → rules → write).

Inputs live in tests/fixtures/inputs, expected Bundles (or OperationOutcomes when
nothing could be derived) in tests/fixtures/expected.  To regenerate after an
intended change: ``HER2_UPDATE_GOLDEN=1 scripts/test -k golden``, then review
the diff of tests/fixtures/expected like code.
"""

from __future__ import annotations

import copy
import json
import os
import re
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from service.app.derivation import derive
from tests.builders import FIXTURES, NOW

INPUTS = sorted((FIXTURES / "inputs").glob("*.json"))
UPDATE = os.environ.get("HER2_UPDATE_GOLDEN") == "1"


def load(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"), parse_float=Decimal)


def derived(payload: Any) -> dict[str, Any]:
    derivation = derive(payload, NOW)
    return derivation.bundle if derivation.usable else derivation.outcome()


def run(path: Path) -> dict[str, Any]:
    return derived(load(path))


def test_there_are_golden_inputs() -> None:
    assert len(INPUTS) >= 12


@pytest.mark.parametrize("path", INPUTS, ids=[p.stem for p in INPUTS])
def test_golden(path: Path) -> None:
    expected_path = FIXTURES / "expected" / path.name
    actual = run(path)
    if UPDATE:
        expected_path.write_text(json.dumps(actual, indent=2, ensure_ascii=False) + "\n")
    assert expected_path.is_file(), f"no golden file for {path.name}"
    expected = json.loads(expected_path.read_text(encoding="utf-8"))
    assert actual == expected


_POSITION = re.compile(
    r"^(Bundle\.entry|Parameters\.parameter)\[(\d+)\](\.resource\.entry\[(\d+)\])?"
)


def reversed_entries(payload: dict[str, Any]) -> tuple[dict[str, Any], Callable[[str], str]]:
    """The payload with its entries (and parameters) in reverse order.

    Also returns what maps a FHIRPath into the reversed payload (an issue's
    expression) back to the same element of the original.
    """
    backwards = copy.deepcopy(payload)
    if backwards["resourceType"] == "Bundle":
        backwards["entry"].reverse()
    else:  # Parameters: the parameters, and the entries of a Bundle parameter
        backwards["parameter"].reverse()
        for parameter in backwards["parameter"]:
            if parameter.get("resource", {}).get("resourceType") == "Bundle":
                parameter["resource"]["entry"].reverse()
    outer = payload.get("entry", payload.get("parameter", []))

    def restore(path: str) -> str:
        found = _POSITION.match(path)
        if found is None:
            return path
        index = len(outer) - 1 - int(found[2])
        restored = f"{found[1]}[{index}]"
        if found[3] and found[1] == "Parameters.parameter":
            inner = len(outer[index]["resource"]["entry"]) - 1 - int(found[4])
            restored += f".resource.entry[{inner}]"
        return restored + path[found.end() :]

    return backwards, restore


def order_free(node: Any, restore: Callable[[str], str] = str) -> Any:
    """The output with what legitimately follows the input order normalised.

    An issue names its input by position, and the issues come in input order; the
    references an Observation is derived from (and its Provenance's entities) are
    listed in input order.  Everything else (ids, identifiers, statuses, components,
    notes, the order of the output entries) must not depend on it.
    """
    if isinstance(node, str):
        return restore(node)
    if isinstance(node, list):
        return [order_free(item, restore) for item in node]
    if not isinstance(node, dict):
        return node
    normal = {key: order_free(value, restore) for key, value in node.items()}
    for key in ("issue", "derivedFrom", "entity"):
        if isinstance(normal.get(key), list):
            normal[key] = sorted(normal[key], key=lambda item: json.dumps(item, default=str))
    return normal


def _has_an_order(payload: Any) -> bool:
    """Two entries or parameters, or more (a lone resource has no order to change)."""
    return len(payload.get("entry", payload.get("parameter", []))) > 1


REORDERABLE = [p for p in INPUTS if _has_an_order(load(p))]


@pytest.mark.parametrize("path", REORDERABLE, ids=[p.stem for p in REORDERABLE])
def test_output_does_not_depend_on_entry_order(path: Path) -> None:
    payload = load(path)
    backwards, restore = reversed_entries(payload)
    assert backwards != payload  # there was an order to change
    assert order_free(derived(backwards), restore) == order_free(derived(payload))
