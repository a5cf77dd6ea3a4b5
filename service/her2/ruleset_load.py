"""Loading rule-set files (``rulesets/*.json``) and checking them at load.

A file is loaded only when it is entirely consistent: every combination of IHC
key and ISH category the engine can produce maps to exactly one row (see
``ruleset.reachable``), rule ids are unique, every code is one of the engine's
vocabularies, every next step has exactly one priority, thresholds are exact
decimals written as text, and the three mandatory report comments are there.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from decimal import Decimal, InvalidOperation
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, Final, TypeVar

from service.her2.model import NextStep, Status
from service.her2.ruleset import (
    BREAST_GROUPS_WITH_COMMENT,
    BREAST_ISH,
    GASTRO_ISH,
    IHC_KEYS,
    OTHER_ISH,
    Cell,
    Row,
    RuleSet,
    RuleSetError,
    Table,
    Thresholds,
    reachable,
)


def _fail(where: str, what: str) -> RuleSetError:
    return RuleSetError(f"rule set {where}: {what}")


def _str_list(raw: object, where: str) -> tuple[str, ...]:
    if not isinstance(raw, list) or not raw or not all(isinstance(v, str) for v in raw):
        raise _fail(where, "must be a non-empty list of strings")
    if len(set(raw)) != len(raw):
        raise _fail(where, "lists a value twice")
    return tuple(raw)


def _flag(raw: object, where: str) -> bool | None:
    if raw is not None and not isinstance(raw, bool):
        raise _fail(where, "must be true, false or null")
    return raw


def _cell(raw: object, where: str) -> Cell:
    if not isinstance(raw, dict):
        return Cell((), _flag(raw, where))
    if set(raw) != {"by_ihc", "otherwise"} or not isinstance(raw["by_ihc"], dict):
        raise _fail(where, "must be a literal or {by_ihc: {...}, otherwise: literal}")
    unknown = set(raw["by_ihc"]) - set(IHC_KEYS)
    if unknown:
        raise _fail(where, f"names unknown IHC keys {sorted(unknown)}")
    by_ihc = tuple((k, _flag(v, f"{where}.{k}")) for k, v in sorted(raw["by_ihc"].items()))
    return Cell(by_ihc, _flag(raw["otherwise"], f"{where}.otherwise"))


_E = TypeVar("_E", Status, NextStep)


def _enum_value(kind: type[_E], raw: object, where: str) -> _E:
    if not isinstance(raw, str):
        raise _fail(where, f"is not a {kind.__name__} code")
    try:
        return kind(raw)
    except ValueError:
        raise _fail(where, f"is not a {kind.__name__} code") from None


def _row(raw: object, table: str, categories: tuple[str, ...]) -> Row:
    if not isinstance(raw, dict):
        raise _fail(table, "a row is not an object")
    rule_id = raw.get("id")
    if not isinstance(rule_id, str) or not rule_id:
        raise _fail(table, "a row has no id")
    where = f"{table}.{rule_id}"
    fields = {"id", "ihc", "ish", "status", "her2_low", "ultralow", "next_step"}
    fields |= {"source", "statement"}
    if set(raw) != fields:
        raise _fail(where, f"must have exactly the fields {sorted(fields)}")
    ihc = _str_list(raw["ihc"], f"{where}.ihc")
    ish = _str_list(raw["ish"], f"{where}.ish")
    if set(ihc) - set(IHC_KEYS):
        raise _fail(where, "names an unknown IHC key")
    if set(ish) - set(categories):
        raise _fail(where, "names an unknown ISH category")
    step = raw["next_step"]
    for text_field in ("source", "statement"):
        if not isinstance(raw[text_field], str) or not raw[text_field]:
            raise _fail(where, f"{text_field} must be text")
    return Row(
        rule_id=rule_id,
        ihc=ihc,
        ish=ish,
        status=_enum_value(Status, raw["status"], f"{where}.status"),
        her2_low=_cell(raw["her2_low"], f"{where}.her2_low"),
        ultralow=_cell(raw["ultralow"], f"{where}.ultralow"),
        next_step=None if step is None else _enum_value(NextStep, step, f"{where}.next_step"),
        source=raw["source"],
        statement=raw["statement"],
    )


def _table(raw: object, name: str, categories: tuple[str, ...]) -> Table:
    if not isinstance(raw, dict) or set(raw) != {"ish_categories", "rows"}:
        raise _fail(name, "must have exactly ish_categories and rows")
    if tuple(raw["ish_categories"]) != categories:
        raise _fail(name, f"ish_categories must be exactly {list(categories)}")
    if not isinstance(raw["rows"], list):
        raise _fail(name, "rows must be a list")
    rows = tuple(_row(r, name, categories) for r in raw["rows"])
    index: dict[tuple[str, str], Row] = {}
    for row in rows:
        for ihc in row.ihc:
            for ish in row.ish:
                if (ihc, ish) in index:
                    raise _fail(
                        name,
                        f"({ihc}, {ish}) is in rows {index[(ihc, ish)].rule_id} and {row.rule_id}",
                    )
                index[(ihc, ish)] = row
    wanted = set(reachable(name))
    missing = sorted(wanted - set(index))
    if missing:
        raise _fail(name, f"no row for {missing}")
    unreachable = sorted(set(index) - wanted)
    if unreachable:
        raise _fail(name, f"rows for combinations the engine never produces: {unreachable}")
    return Table(name, rows, index)


def _decimal(raw: object, where: str) -> Decimal:
    # Thresholds are written as text so that JSON never turns them into floats.
    if not isinstance(raw, str):
        raise _fail(where, "must be a decimal written as text")
    try:
        value = Decimal(raw)
    except InvalidOperation:
        raise _fail(where, "is not a decimal") from None
    if not value.is_finite() or value <= 0:
        raise _fail(where, "must be a positive number")
    return value


def _thresholds(raw: object) -> Thresholds:
    if not isinstance(raw, dict):
        raise _fail("thresholds", "must be an object")
    cells = raw.get("min_cells_counted")
    if not isinstance(cells, int) or isinstance(cells, bool) or cells < 1:
        raise _fail("thresholds.min_cells_counted", "must be a positive whole number")
    low = _decimal(raw.get("avg_her2_copies_low"), "thresholds.avg_her2_copies_low")
    high = _decimal(raw.get("avg_her2_copies_high"), "thresholds.avg_her2_copies_high")
    if not low < high:
        raise _fail("thresholds", "avg_her2_copies_low must be below avg_her2_copies_high")
    return Thresholds(
        her2_cep17_ratio=_decimal(raw.get("her2_cep17_ratio"), "thresholds.her2_cep17_ratio"),
        avg_her2_copies_low=low,
        avg_her2_copies_high=high,
        min_cells_counted=cells,
        ratio_tolerance_percent=_decimal(
            raw.get("ratio_tolerance_percent"), "thresholds.ratio_tolerance_percent"
        ),
    )


def _steps(raw: object, where: str) -> list[NextStep]:
    return [_enum_value(NextStep, s, where) for s in _str_list(raw, where)]


def _ranks(raw: object) -> dict[NextStep, int]:
    if not isinstance(raw, list):
        raise _fail("next_step_tiers", "must be a list of lists")
    ordered = [s for tier in raw for s in _steps(tier, "next_step_tiers")]
    if sorted(ordered) != sorted(NextStep) or len(ordered) != len(set(ordered)):
        raise _fail("next_step_tiers", "must rank every next step exactly once")
    return {step: rank for rank, step in enumerate(ordered)}


def _comments(raw: object) -> dict[int, str]:
    if not isinstance(raw, dict) or {int(k) for k in raw if k.isdigit()} != set(
        BREAST_GROUPS_WITH_COMMENT
    ):
        raise _fail("required_comments", "must give one comment for each of groups 2, 3, 4")
    if len(raw) != len(BREAST_GROUPS_WITH_COMMENT):
        raise _fail("required_comments", "must give one comment for each of groups 2, 3, 4")
    if not all(isinstance(v, str) and v for v in raw.values()):
        raise _fail("required_comments", "comments must be text")
    return {int(k): v for k, v in raw.items()}


def fingerprint(data: Mapping[str, Any]) -> str:
    """SHA-256 of a rule set's canonical JSON (key order, spacing and ``$comment`` do not count)."""
    content = {k: v for k, v in data.items() if k != "$comment"}
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def ruleset_from_data(data: object) -> RuleSet:
    """Build and check a rule set from its parsed JSON.

    Args:
        data: the file's content (``json.loads``).

    Returns:
        The rule set.

    Raises:
        RuleSetError: when anything in it is inconsistent.
    """
    if not isinstance(data, dict):
        raise _fail("file", "must be a JSON object")
    top = {"$comment", "id", "version", "guidelines", "thresholds", "ihc_keys", "breast"}
    top |= {"gastroesophageal", "other", "next_step_tiers", "final_compatible_next_steps"}
    top |= {"final_statuses", "required_comments"}
    if set(data) - top or set(top - {"$comment"}) - set(data):
        raise _fail("file", f"must have exactly the fields {sorted(top)}")
    if not isinstance(data["id"], str) or not isinstance(data["version"], str):
        raise _fail("file", "id and version must be text")
    if tuple(data["ihc_keys"]) != IHC_KEYS:
        raise _fail("ihc_keys", f"must be exactly {list(IHC_KEYS)}")
    tables = {
        name: _table(data[name], name, categories)
        for name, categories in (
            ("breast", BREAST_ISH),
            ("gastroesophageal", GASTRO_ISH),
            ("other", OTHER_ISH),
        )
    }
    ids = [row.rule_id for table in tables.values() for row in table.rows]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise _fail("file", f"rule ids used twice: {duplicates}")
    return RuleSet(
        id=data["id"],
        version=data["version"],
        guidelines=_str_list(data["guidelines"], "guidelines"),
        thresholds=_thresholds(data["thresholds"]),
        breast=tables["breast"],
        gastroesophageal=tables["gastroesophageal"],
        other=tables["other"],
        next_step_rank=_ranks(data["next_step_tiers"]),
        final_compatible_steps=frozenset(
            _steps(data["final_compatible_next_steps"], "final_compatible_next_steps")
        ),
        final_statuses=frozenset(
            _enum_value(Status, s, "final_statuses")
            for s in _str_list(data["final_statuses"], "final_statuses")
        ),
        required_comments=_comments(data["required_comments"]),
        fingerprint=fingerprint(data),
    )


def load_ruleset(path: Path) -> RuleSet:
    """Load and check a rule-set file (e.g. a site's or a test's).

    Raises:
        RuleSetError: when the file cannot be read or is inconsistent.
    """
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as problem:
        raise RuleSetError(f"rule set file {path.name} cannot be read") from problem
    return ruleset_from_data(data)


def _packaged_files() -> Iterable[Any]:
    folder = resources.files("service.her2").joinpath("rulesets")
    return sorted(
        (f for f in folder.iterdir() if f.name.endswith(".json")), key=lambda f: str(f.name)
    )


@cache
def packaged_rulesets() -> dict[str, RuleSet]:
    """Every rule set shipped with the service, by version (each checked at load)."""
    found: dict[str, RuleSet] = {}
    for file in _packaged_files():
        ruleset = ruleset_from_data(json.loads(file.read_text(encoding="utf-8")))
        if file.name != f"{ruleset.id}-{ruleset.version}.json":
            raise RuleSetError(f"rule set file {file.name} must be named after id and version")
        found[ruleset.version] = ruleset
    return found


DEFAULT_VERSION: Final = "1.0.0"


def default_ruleset() -> RuleSet:
    """The rule set the service applies unless told otherwise."""
    return packaged_rulesets()[DEFAULT_VERSION]


__all__ = [
    "DEFAULT_VERSION",
    "default_ruleset",
    "fingerprint",
    "load_ruleset",
    "packaged_rulesets",
    "ruleset_from_data",
]
