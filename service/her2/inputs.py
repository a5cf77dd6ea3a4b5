"""The typed boundary: loosely typed reported values in, typed rule inputs out.

Readers (the FHIR mapping layer, the public worked examples' field format) hand
their values to these functions once; the rules then only see enums,
``Decimal``, ``int``, ``bool``, a :class:`~service.her2.numbers.Bound` for a
legacy bounded ratio, or an :class:`~service.her2.model.Invalid` marker that
says which validation error (her2-rules.md section 3) the value raises.  No
text is parsed again inside the rules.

Each converter accepts any object and never raises: a value of the wrong type
is ``invalid_type``, a code outside the vocabulary ``invalid_vocabulary``, a
number that is not finite ``invalid_value``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from decimal import Decimal
from enum import StrEnum
from typing import TypeVar

from service.her2.model import (
    ErrorCode,
    IhcCall,
    IhcScore,
    Invalid,
    IshCall,
    IshInput,
    PriorResult,
    Probe,
    Site,
    SpecimenInput,
    Status,
)
from service.her2.numbers import (
    Bound,
    NumberProblem,
    Parsed,
    parse_bound,
    parse_count,
    parse_decimal,
)

_E = TypeVar("_E", bound=StrEnum)

NOT_A_CODE = Invalid(ErrorCode.INVALID_TYPE, "not a coded value")


def _token(raw: str) -> str:
    return "".join(raw.split()).lower()


def _code(kind: type[_E], raw: object, aliases: Mapping[str, str] | None = None) -> _E | Invalid:
    if isinstance(raw, kind):
        return raw
    if not isinstance(raw, str):
        return NOT_A_CODE
    token = _token(raw)
    token = (aliases or {}).get(token, token)
    for member in kind:
        if member.value == token:
            return member
    names = ", ".join(m.value for m in kind)
    return Invalid(ErrorCode.INVALID_VOCABULARY, f"not one of {names}")


def site_from(raw: object) -> Site | Invalid | None:
    """A tumour site (``breast`` | ``gastroesophageal`` | ``other``), None when unknown."""
    return None if raw is None else _code(Site, raw)


def ihc_score_from(raw: object) -> IhcScore | Invalid | None:
    """An IHC score on the 2018 scale (``0``, ``0-ultralow``, ``1+``, ``2+``, ``3+``)."""
    return None if raw is None else _code(IhcScore, raw)


def ihc_call_from(raw: object) -> IhcCall | Invalid | None:
    """A qualitative-only IHC result; any other answer is marked (treated as absent)."""
    return None if raw is None else _code(IhcCall, raw)


def probe_from(raw: object) -> Probe | Invalid | None:
    """The ISH probe design (``dual`` / ``single``, also ``dual-probe`` / ``single-probe``)."""
    aliases = {"dual-probe": "dual", "single-probe": "single"}
    return None if raw is None else _code(Probe, raw, aliases)


def ish_call_from(raw: object) -> IshCall | Invalid | None:
    """The lab's qualitative ISH call (``amplified`` | ``not-amplified`` | ``equivocal``)."""
    aliases = {"not_amplified": "not-amplified"}
    return None if raw is None else _code(IshCall, raw, aliases)


def _number(parsed: Parsed) -> Decimal | Invalid | None:
    if parsed.problem is NumberProblem.NOT_FINITE:
        return Invalid(ErrorCode.INVALID_VALUE, "not a finite number")
    if parsed.problem is NumberProblem.NOT_INTEGER:
        return Invalid(ErrorCode.INVALID_TYPE, "not a whole number")
    if parsed.problem is not None:
        return Invalid(ErrorCode.INVALID_TYPE, "not a number")
    return parsed.value


def decimal_from(raw: object) -> Decimal | Invalid | None:
    """An exact number (``Decimal``, ``int`` or numeric text; floats are refused)."""
    return _number(parse_decimal(raw))


def count_from(raw: object) -> int | Invalid | None:
    """A whole number of cells."""
    value = _number(parse_count(raw))
    return int(value) if isinstance(value, Decimal) else value


def ratio_from(raw: object) -> Decimal | Bound | Invalid | None:
    """A HER2/CEP17 ratio, or a legacy bounded text such as ``"greater than 2.2"``."""
    if isinstance(raw, Bound):
        return raw
    parsed = parse_decimal(raw)
    if isinstance(raw, str) and parsed.problem is NumberProblem.NOT_NUMERIC:
        bound = parse_bound(raw)
        if bound is None:
            return Invalid(ErrorCode.INVALID_TYPE, "neither a number nor a bounded value")
        return bound
    return _number(parsed)


def flag_from(raw: object) -> bool | Invalid:
    """A true/false input."""
    if isinstance(raw, bool):
        return raw
    return Invalid(ErrorCode.INVALID_TYPE, "not true or false")


def date_from(raw: object) -> dt.date | None:
    """A date (or the date part of an ISO date-time); None when not readable."""
    if isinstance(raw, dt.datetime):
        return raw.date()
    if isinstance(raw, dt.date):
        return raw
    if isinstance(raw, str):
        try:
            return dt.date.fromisoformat(raw.strip()[:10])
        except ValueError:
            return None
    return None


def ish_from(
    probe: object = None,
    her2_cep17_ratio: object = None,
    avg_her2_copies: object = None,
    avg_cep17_copies: object = None,
    cells_counted: object = None,
    lab_call: object = None,
    final: object = True,
) -> IshInput:
    """One ISH count from reported values (her2-rules.md section 1, ``ish``)."""
    return IshInput(
        probe=probe_from(probe),
        her2_cep17_ratio=ratio_from(her2_cep17_ratio),
        avg_her2_copies=decimal_from(avg_her2_copies),
        avg_cep17_copies=decimal_from(avg_cep17_copies),
        cells_counted=count_from(cells_counted),
        lab_call=ish_call_from(lab_call),
        final=flag_from(final),
    )


def prior_from(
    status: object = None,
    her2_low: object = None,
    ultralow: object = None,
    ihc_score: object = None,
    date: object = None,
    specimen: object = None,
) -> PriorResult:
    """An earlier specimen's result (her2-rules.md section 10)."""
    score = ihc_score_from(ihc_score)
    return PriorResult(
        status=None if status is None else _code(Status, status),
        her2_low=her2_low if isinstance(her2_low, bool) else None,
        ultralow=ultralow if isinstance(ultralow, bool) else None,
        ihc_score=score if isinstance(score, IhcScore) else None,
        date=date if isinstance(date, str) else None,
        specimen=specimen if isinstance(specimen, str) else None,
    )


def _ish(raw: object) -> IshInput | Invalid | None:
    if raw is None or isinstance(raw, IshInput):
        return raw
    if isinstance(raw, Mapping) and all(isinstance(k, str) for k in raw):
        try:
            return ish_from(**raw)
        except TypeError:  # an unknown field name
            return Invalid(ErrorCode.INVALID_TYPE, "not an ISH result")
    return Invalid(ErrorCode.INVALID_TYPE, "not an ISH result")


def specimen_from(
    site: object = None,
    ihc_score: object = None,
    ihc0_ultralow_assessed: object = True,
    ihc_call: object = None,
    ihc_final: object = True,
    ish: object = None,
    ish_recount: object = None,
    ihc_same_specimen: object = True,
    assay_failed: object = False,
    collected: object = None,
    prior_results: object = (),
) -> SpecimenInput:
    """One specimen from reported values in the field names of her2-rules.md section 1.

    ``ish`` and ``ish_recount`` may be :class:`IshInput` or mappings of its fields;
    ``prior_results`` :class:`PriorResult` or mappings.
    """
    priors: list[PriorResult] = []
    for prior in prior_results if isinstance(prior_results, list | tuple) else ():
        if isinstance(prior, PriorResult):
            priors.append(prior)
        elif isinstance(prior, Mapping):
            priors.append(prior_from(**prior))
    return SpecimenInput(
        site=site_from(site),
        ihc_score=ihc_score_from(ihc_score),
        ihc0_ultralow_assessed=flag_from(ihc0_ultralow_assessed),
        ihc_call=ihc_call_from(ihc_call),
        ihc_final=flag_from(ihc_final),
        ish=_ish(ish),
        ish_recount=_ish(ish_recount),
        ihc_same_specimen=flag_from(ihc_same_specimen),
        assay_failed=flag_from(assay_failed),
        collected=date_from(collected),
        prior_results=tuple(priors),
    )


__all__ = [
    "count_from",
    "date_from",
    "decimal_from",
    "flag_from",
    "ihc_call_from",
    "ihc_score_from",
    "ish_call_from",
    "ish_from",
    "prior_from",
    "probe_from",
    "ratio_from",
    "site_from",
    "specimen_from",
]
