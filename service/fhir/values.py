"""Value coercion (contract section 2): an IHC value, a number, a ratio, an ISH call.

Each reader turns one ``value[x]`` into what the rules take, or into
:data:`MALFORMED` (the rules answer ``invalid_type``) with a located issue that
names the field, never the value.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, DivisionByZero, Inexact, InvalidOperation, localcontext
from typing import Any, Final

from service.fhir.codes import ANSWERS, COPY_UNITS, RATIO_UNITS, Answer, Kind
from service.fhir.elements import assay_failed, codings, value_key
from service.fhir.envelope import Node
from service.fhir.facts import MALFORMED
from service.fhir.issues import Issue, Severity


@dataclass
class IhcValue:
    """What an IHC Observation says.

    Attributes:
        score: ``0``, ``0-ultralow``, ``1+``, ``2+``, ``3+``, other text (the rules
            reject it), :data:`MALFORMED`, or None.
        call: ``positive`` / ``equivocal`` / ``negative`` when only a lab call was given.
        assessed: False for an IHC 0 that did not separate null from ultralow.
        failed: the assay failed technically.
        path: where the value came from.
    """

    score: object = None
    call: object = None
    assessed: bool = True
    failed: bool = False
    path: str | None = None


def read_ihc(node: Node, issues: list[Issue]) -> IhcValue:
    """An IHC Observation's value (contract sections 1-2).

    Args:
        node: the IHC Observation.
        issues: where problems are recorded.
    """
    resource = node.resource
    if not node.valid:
        return IhcValue(score=MALFORMED, path=node.path)
    if assay_failed(resource):
        return IhcValue(failed=True, path=f"{node.path}.dataAbsentReason")
    key = value_key(resource)
    path = f"{node.path}.{key}" if key else node.path
    value = resource.get(key) if key else None
    if key == "valueCodeableConcept":
        return _ihc_coded(value, path, issues)
    if key == "valueString" and isinstance(value, str):
        text = "".join(value.split())
        return IhcValue(score=text, assessed=text != "0", path=path)
    if key == "valueInteger" and isinstance(value, int) and not isinstance(value, bool):
        score = {0: "0", 1: "1+", 2: "2+", 3: "3+"}.get(value, str(value))
        return IhcValue(score=score, assessed=value != 0, path=path)
    if key is None:
        issues.append(
            Issue(Severity.WARNING, "incomplete", "IHC result without a value; not used.", path)
        )
        return IhcValue(path=path)
    issues.append(Issue(Severity.ERROR, "value", f"An IHC result cannot be a {key[5:]}.", path))
    return IhcValue(score=MALFORMED, path=path)


def _ihc_coded(value: object, path: str, issues: list[Issue]) -> IhcValue:
    answers = {ANSWERS[c] for c in codings(value) if c in ANSWERS}
    if Answer.INDETERMINATE in answers:
        return IhcValue(failed=True, path=path)
    scores = answers & {Answer.IHC_0, Answer.IHC_1, Answer.IHC_2, Answer.IHC_3}
    zero_detail = answers & {Answer.ZERO_NULL, Answer.ZERO_ULTRALOW}
    calls = answers & {Answer.POSITIVE, Answer.NEGATIVE, Answer.EQUIVOCAL}
    if len(scores) > 1 or len(zero_detail) > 1 or (scores - {Answer.IHC_0} and zero_detail):
        issues.append(Issue(Severity.ERROR, "value", "Contradictory IHC answer codings.", path))
        return IhcValue(score=MALFORMED, path=path)
    if zero_detail:
        detail = zero_detail.pop()
        return IhcValue(score="0-ultralow" if detail is Answer.ZERO_ULTRALOW else "0", path=path)
    if scores:
        score = scores.pop().value
        # Plain LA6111-4: IHC 0 whose null-vs-ultralow pattern was not assessed.
        return IhcValue(score=score, assessed=score != "0", path=path)
    if len(calls) == 1:
        return IhcValue(call=calls.pop().value, path=path)
    issues.append(
        Issue(
            Severity.WARNING,
            "code-unknown",
            "The IHC answer is not a score nor Positive/Equivocal/Negative; it is not a "
            "usable IHC result and is treated as absent.",
            path,
        )
    )
    return IhcValue(path=path)


def read_number(holder: dict[str, Any], kind: Kind, path: str, issues: list[Issue]) -> object:
    """A ratio, copy number or cell count from an Observation or a component.

    Args:
        holder: the Observation or component carrying the value.
        kind: what its code says it is (decides the units that fit).
        path: the location of ``holder``.
        issues: where problems are recorded.

    Returns:
        The number (exact), a ratio bound or legacy text for the rules to judge,
        :data:`MALFORMED`, or None when there is no value.
    """
    key = value_key(holder)
    if key is None:
        return None
    where = f"{path}.{key}"
    value = holder[key]
    if key == "valueQuantity" and isinstance(value, dict):
        number = value.get("value")
        unit = value.get("code") if isinstance(value.get("code"), str) else value.get("unit")
        allowed = RATIO_UNITS if kind is Kind.RATIO else COPY_UNITS | {"{cells}", "cells"}
        if unit is not None and unit not in allowed:
            issues.append(Issue(Severity.ERROR, "value", "The unit does not fit the code.", where))
            return MALFORMED
        comparator = value.get("comparator")
        if comparator is not None:
            if kind is Kind.RATIO and isinstance(number, Decimal | int):
                # A bound, not a measurement: the rules read it as a lab call.
                return f"{comparator} {number}"
            issues.append(Issue(Severity.ERROR, "value", "A bounded value is not a count.", where))
            return MALFORMED
        return number if isinstance(number, Decimal | int) else MALFORMED
    if key == "valueRatio" and kind is Kind.RATIO and isinstance(value, dict):
        return _ratio_value(value, where, issues)
    if key == "valueInteger" and isinstance(value, int):
        return value
    if key == "valueString" and isinstance(value, str):
        return value
    issues.append(
        Issue(Severity.ERROR, "value", f"A {key[5:]} value does not fit the code.", where)
    )
    return MALFORMED


def _ratio_value(value: dict[str, Any], where: str, issues: list[Issue]) -> object:
    numerator = (
        value.get("numerator", {}).get("value")
        if isinstance(value.get("numerator"), dict)
        else None
    )
    denominator = (
        value.get("denominator", {}).get("value")
        if isinstance(value.get("denominator"), dict)
        else None
    )
    if not isinstance(numerator, Decimal | int) or not isinstance(denominator, Decimal | int):
        return MALFORMED
    if denominator == 0:
        issues.append(Issue(Severity.ERROR, "value", "The ratio's denominator is 0.", where))
        return Decimal(0)  # the rules reject a zero ratio as invalid_value
    with localcontext() as ctx:
        # 50 digits: exact for every ratio a lab reports; a non-terminating
        # quotient is off by < 1e-49, far below any reported precision.
        ctx.prec = 50
        ctx.traps[Inexact] = False
        try:
            return Decimal(numerator) / Decimal(denominator)
        except (InvalidOperation, DivisionByZero):
            return MALFORMED


_ISH_WORDS: Final = {
    "amplified": "amplified",
    "notamplified": "not-amplified",
    "nonamplified": "not-amplified",
    "positive": "amplified",
    "negative": "not-amplified",
    "equivocal": "equivocal",
}
FAILED: Final = "failed"


def read_ish_call(node: Node, issues: list[Issue]) -> tuple[str, object, str] | str | None:
    """A qualitative ISH result's value (an Observation or a component).

    Args:
        node: the ISH Observation, or a component wrapped in a node.
        issues: where problems are recorded.

    Returns:
        ``(slot, value, path)`` with slot ``call`` (amplified / not-amplified /
        equivocal, or :data:`MALFORMED`) or ``ratio`` (legacy text for the rules
        to judge); :data:`FAILED` when the answer says the assay failed; None when
        there is no value or the answer is not recognised.
    """
    resource = node.resource
    key = value_key(resource)
    if key is None:
        return None
    path = f"{node.path}.{key}"
    value = resource[key]
    if key == "valueCodeableConcept":
        answers = {ANSWERS[c] for c in codings(value) if c in ANSWERS}
        if Answer.INDETERMINATE in answers:
            return FAILED
        calls = {_ISH_WORDS[a.value] for a in answers if a.value in _ISH_WORDS}
        if len(calls) == 1:
            return ("call", calls.pop(), path)
        issues.append(
            Issue(Severity.WARNING, "code-unknown", "ISH answer not recognised; not used.", path)
        )
        return None
    if key == "valueString" and isinstance(value, str):
        word = "".join(ch for ch in value.lower() if ch.isalpha())
        if word in _ISH_WORDS:
            return ("call", _ISH_WORDS[word], path)
        # Legacy text ("greater than 2.2") is a ratio bound: the rules decide
        # whether it is an unambiguous call; other text fails closed.
        return ("ratio", value, path)
    issues.append(Issue(Severity.ERROR, "value", f"An ISH result cannot be a {key[5:]}.", path))
    return ("call", MALFORMED, path)
