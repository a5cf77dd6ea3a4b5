"""Exact decimal handling for the rules (her2-rules.md sections 1, 3 and 5.3).

Every clinical number is a ``Decimal``.  Binary floats are refused outright,
because a float such as ``1.9999999999999998`` can sit on either side of 2.0.
Comparisons of a derived ratio against a threshold never divide: ``her2 / cep17
>= t`` is evaluated as ``her2 >= t * cep17``, a product that is computed exactly.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import MAX_EMAX, MIN_EMIN, Decimal, Inexact, localcontext
from enum import StrEnum

_PLAIN_DECIMAL = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")

# A representation guard, not a clinical plausibility limit (the rules set none):
# exponents this large only come from hostile input and would make exact
# arithmetic allocate without bound.
_MAX_ABS_EXPONENT = 1000


class NumberProblem(StrEnum):
    """Why a value is not a usable number."""

    NOT_NUMERIC = "not_numeric"
    NOT_INTEGER = "not_integer"
    NOT_FINITE = "not_finite"


@dataclass(frozen=True)
class Parsed:
    """Outcome of reading one numeric input field."""

    value: Decimal | None
    problem: NumberProblem | None = None


def parse_decimal(raw: object) -> Parsed:
    """Read a clinical number exactly.

    Args:
        raw: ``None``, a ``Decimal``, an ``int`` or a numeric string.

    Returns:
        The value, or the problem that makes it unusable.  ``bool`` and ``float``
        are refused as not numeric: a bool is not a measurement, and a float has
        already lost the exact value the lab reported.
    """
    if raw is None:
        return Parsed(None)
    if isinstance(raw, (bool, float)):
        return Parsed(None, NumberProblem.NOT_NUMERIC)
    if isinstance(raw, int):
        return Parsed(Decimal(raw))
    if isinstance(raw, str):
        text = raw.strip()
        if not _PLAIN_DECIMAL.fullmatch(text):
            return Parsed(None, NumberProblem.NOT_NUMERIC)
        raw = Decimal(text)
    if isinstance(raw, Decimal):
        if raw.is_nan():
            return Parsed(None, NumberProblem.NOT_NUMERIC)
        if raw.is_infinite() or (raw and abs(raw.adjusted()) > _MAX_ABS_EXPONENT):
            return Parsed(None, NumberProblem.NOT_FINITE)
        return Parsed(raw)
    return Parsed(None, NumberProblem.NOT_NUMERIC)


def parse_count(raw: object) -> Parsed:
    """Read a cell count: a whole number given as ``int``, integral ``Decimal`` or text."""
    parsed = parse_decimal(raw)
    if parsed.value is None or parsed.problem is not None:
        return parsed
    if parsed.value != parsed.value.to_integral_value():
        return Parsed(None, NumberProblem.NOT_INTEGER)
    return parsed


def exact_product(*factors: Decimal) -> Decimal:
    """Multiply decimals without any rounding.

    The precision is the sum of the factors' coefficient lengths, which always
    holds the exact product; ``Inexact`` is trapped to prove it.
    """
    digits = sum(len(f.as_tuple().digits) for f in factors) + 1
    with localcontext() as ctx:
        ctx.prec = digits
        ctx.Emax = MAX_EMAX
        ctx.Emin = MIN_EMIN
        ctx.traps[Inexact] = True
        result = Decimal(1)
        for factor in factors:
            result = result * factor
        return result


def ratio_at_least(
    threshold: Decimal,
    reported: Decimal | None,
    her2: Decimal | None,
    cep17: Decimal | None,
) -> bool:
    """Whether the governing HER2/CEP17 ratio is >= ``threshold`` (inclusive).

    The reported ratio governs when present (never re-rounded); otherwise the
    ratio is ``her2 / cep17``, compared without dividing.

    Raises:
        ValueError: when neither a reported ratio nor both averages are given
            (callers validate first; reaching this is a programming error).
    """
    if reported is not None:
        return reported >= threshold
    if her2 is None or cep17 is None:
        raise ValueError("no ratio to compare")
    return her2 >= exact_product(threshold, cep17)


def within_relative_tolerance(
    reported: Decimal, her2: Decimal, cep17: Decimal, percent: Decimal
) -> bool:
    """Whether ``reported`` is within ``percent`` % of ``her2 / cep17`` (inclusive).

    ``|r - h/c| <= p/100 * h/c`` is rewritten for ``c > 0`` as
    ``100*h - p*h <= 100*r*c <= 100*h + p*h`` so that nothing is divided or rounded.
    """
    hundred = Decimal(100)
    scaled_reported = exact_product(hundred, reported, cep17)
    low = exact_product(hundred - percent, her2)
    high = exact_product(hundred + percent, her2)
    return low <= scaled_reported <= high


def describe(value: Decimal) -> str:
    """Render a reported number as the lab wrote it (no re-rounding)."""
    if -12 <= value.adjusted() <= 12:
        return format(value, "f")
    return str(value)


def describe_quotient(her2: Decimal, cep17: Decimal) -> str:
    """Render ``her2 / cep17`` for a sentence: exact when it terminates, else approximate.

    For display only: decisions use :func:`ratio_at_least`.
    """
    with localcontext() as ctx:
        ctx.prec = 28
        ctx.Emax = MAX_EMAX
        ctx.Emin = MIN_EMIN
        quotient = her2 / cep17
        exact = not ctx.flags[Inexact]
    if exact:
        return describe(quotient)
    return "≈" + describe(
        quotient.quantize(Decimal("0.001")) if quotient.adjusted() < 12 else quotient
    )


class Side(StrEnum):
    """Which side of a threshold a bounded value lies on."""

    AT_OR_ABOVE = "at_or_above"
    BELOW = "below"


@dataclass(frozen=True)
class Bound:
    """A value known only as a bound, e.g. ``> 2.2`` (a legacy free-text ratio)."""

    comparator: str  # one of ">", ">=", "<", "<="
    limit: Decimal
    text: str = field(default="", compare=False)  # as reported, for the rationale

    def side_of(self, threshold: Decimal) -> Side | None:
        """The side of ``threshold`` this bound guarantees, or None when it does not."""
        if self.comparator in (">", ">=") and self.limit >= threshold:
            return Side.AT_OR_ABOVE
        if self.comparator == "<" and self.limit <= threshold:
            return Side.BELOW
        if self.comparator == "<=" and self.limit < threshold:
            return Side.BELOW
        return None

    def __str__(self) -> str:
        return f"{self.comparator} {describe(self.limit)}"


# Longest phrases first so that "greater than or equal to" wins over "greater than".
_COMPARATOR_WORDS: tuple[tuple[str, str], ...] = (
    ("greater than or equal to", ">="),
    ("less than or equal to", "<="),
    ("greater than", ">"),
    ("more than", ">"),
    ("less than", "<"),
    ("fewer than", "<"),
    ("at least", ">="),
    ("at most", "<="),
    ("above", ">"),
    ("over", ">"),
    ("below", "<"),
    ("under", "<"),
    (">=", ">="),
    ("=>", ">="),
    ("≥", ">="),
    ("<=", "<="),
    ("=<", "<="),
    ("≤", "<="),
    (">", ">"),
    ("<", "<"),
)


def parse_bound(text: str) -> Bound | None:
    """Read a legacy bounded value such as ``"greater than 2.2"`` or ``"<1.8"``.

    Returns:
        The bound, or None when the text is not a comparator followed by a number.
    """
    folded = " ".join(text.lower().split())
    for phrase, comparator in _COMPARATOR_WORDS:
        if folded.startswith(phrase):
            rest = folded[len(phrase) :].strip()
            parsed = parse_decimal(rest) if _PLAIN_DECIMAL.fullmatch(rest) else Parsed(None)
            if parsed.value is None:
                return None
            return Bound(comparator, parsed.value, text)
    return None
