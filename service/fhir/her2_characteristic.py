"""Coded HER2 eligibility: one ``Group.characteristic`` read into a trial :class:`Criterion`.

A ResearchStudy's ``enrollment`` Group may state eligibility as coded
characteristics (``code``, ``value[x]``, ``exclude``).  Only the codes the project
already reads or writes are recognised (``service.fhir.codes``; never a new one):

===========================================================  ======================  ===========
characteristic ``code``                                      value                   criterion
===========================================================  ======================  ===========
LOINC 48676-1 (HER2 interpretation)                          SNOMED 10828004,        HER2-positive
                                                             LOINC LA6576-8,
                                                             her2-status#positive
LOINC 48676-1                                                SNOMED 260385009,       HER2-negative
                                                             LOINC LA6577-6,
                                                             her2-status#negative
HER2 IHC (LOINC 85319-2, 18474-7)                            LOINC LA6111-4 (0)      HER2 0
HER2 IHC                                                     her2-ihc-score#0-null   HER2-null
HER2 IHC                                                     her2-ihc-score#         HER2-ultralow
                                                             0-ultralow
her2-status-component#her2-low                               ``valueBoolean``        HER2-low
her2-status-component#her2-ultralow                          ``valueBoolean``        HER2-ultralow
===========================================================  ======================  ===========

``exclude`` true puts the criterion in the exclusion section; an ``exclude`` that is not
a JSON boolean (fhir.resources accepts ``"true"``, ``1``, ``"yes"``...) or a
``modifierExtension`` makes a HER2 characteristic not understood (section unknown).
A ``false`` boolean denies the class: "HER2-low: false" admits every class *but* HER2-low (positive,
ultralow, null), exactly like the service's own ``her2_low = false``; it is never read
as "HER2 0".  Everything else about HER2 is **not understood**, never guessed:

- IHC 1+, 2+ or 3+ and the ISH test codes: each names part of a class only (positive is
  IHC 3+ *or* ISH-amplified; HER2-low is IHC 1+ *or* 2+/ISH-negative; an ISH result
  alone says nothing of IHC 3+), as in the text reader (``service.trials.criteria``);
- equivocal or indeterminate answers, answers that disagree with each other, a value
  that is not the expected type (a ``valueBoolean`` that is not a JSON boolean), an
  unrecognised answer; a ``code`` or value with any coding not in the table beside
  a recognised one (e.g. LOINC 48676-1 with oestrogen receptor 16112-5, or a local
  code): codings of one concept that may disagree are never read;
- other codes of the project's code systems (``ish-group``, ``next-step``), the
  HER2-related codes that are never used for status (serum HER2, tissue immunoassay);
- a ``code`` whose words (``text``/``display``) do not name HER2, or a value whose
  words deny, doubt or name the opposite class ("Not positive" over SNOMED Positive);
- a characteristic whose code or value names HER2 only in words (``text``/``display``),
  except that words naming a HER2 (ERBB2) *mutation* make a mutation criterion, which is
  never HER2 status (as in the text reader).

A characteristic that is not about HER2 at all is ignored (None).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final

from service.fhir.codes import (
    ANSWERS,
    BREAST_SPECIFIC,
    CS_COMPONENT,
    CS_IHC_SCORE,
    CS_STATUS,
    DEFAULT_CODES,
    LOINC,
    LOINC_OID,
    Answer,
    Kind,
)
from service.fhir.elements import as_list, codings
from service.her2 import Site
from service.trials.criteria import normalise, read_sentence
from service.trials.model import Criterion, CriterionKind, Section

SOURCE: Final = "characteristic"

_INTERPRETATION_ANSWERS: Final = {
    Answer.POSITIVE: CriterionKind.HER2_POSITIVE,
    Answer.NEGATIVE: CriterionKind.HER2_NEGATIVE,
}
_IHC_ANSWERS: Final = {
    Answer.IHC_0: CriterionKind.HER2_ZERO,
    Answer.ZERO_NULL: CriterionKind.HER2_NULL,
    Answer.ZERO_ULTRALOW: CriterionKind.HER2_ULTRALOW,
}
_COMPONENT_KINDS: Final = {
    "her2-low": CriterionKind.HER2_LOW,
    "her2-ultralow": CriterionKind.HER2_ULTRALOW,
}
# The project's status values (her2-status CodeSystem) read like the SNOMED/LOINC answers.
_STATUS_ANSWERS: Final = {
    (CS_STATUS, "positive"): Answer.POSITIVE,
    (CS_STATUS, "negative"): Answer.NEGATIVE,
}
_PROJECT_SYSTEMS: Final = frozenset({CS_COMPONENT, CS_STATUS, CS_IHC_SCORE})


def _words(concept: Any) -> list[str]:
    """A concept's ``text`` and its codings' ``display``, in that order."""
    if not isinstance(concept, dict):
        return []
    words = [concept["text"]] if isinstance(concept.get("text"), str) else []
    for coding in as_list(concept.get("coding")):
        if isinstance(coding, dict) and isinstance(coding.get("display"), str):
            words.append(coding["display"])
    return words


def _label(concept: Any) -> str:
    """A concept as a reader sees it: its text or display, else ``system|code``."""
    words = _words(concept)
    if words:
        return words[0]
    pairs = codings(concept)
    return ", ".join(f"{system}|{code}" for system, code in pairs) or "(no code)"


def _value_label(characteristic: Mapping[str, Any]) -> str:
    if "valueCodeableConcept" in characteristic:
        return _label(characteristic["valueCodeableConcept"])
    if isinstance(characteristic.get("valueBoolean"), bool):
        return "true" if characteristic["valueBoolean"] else "false"
    quantity = characteristic.get("valueQuantity")
    if isinstance(quantity, Mapping):
        parts = (quantity.get(key, "") for key in ("comparator", "value", "unit"))
        return " ".join(str(part) for part in parts if part != "")
    reference = characteristic.get("valueReference")
    if isinstance(reference, Mapping):
        return str(reference.get("display") or reference.get("reference") or "(reference)")
    return "(a value not read)"


def _section(characteristic: Mapping[str, Any]) -> Section | None:
    """The section ``exclude`` names; None unless it is a JSON boolean.

    fhir.resources accepts ``"true"``, ``1``, ``"yes"`` or ``"on"`` for a boolean, so a
    resource that passed the R4B check may still carry one of them: which section it
    means is not guessed (the characteristic is not understood).
    """
    exclude = characteristic.get("exclude")
    if not isinstance(exclude, bool):
        return None
    return Section.EXCLUSION if exclude else Section.INCLUSION


def sentence(characteristic: Mapping[str, Any]) -> str:
    """A readable rendering of a characteristic, kept as the criterion's sentence."""
    text = f"{_label(characteristic.get('code'))}: {_value_label(characteristic)}"
    return f"{text} (exclude)" if _section(characteristic) is Section.EXCLUSION else text


def _incomplete_codings(concept: Any) -> bool:
    """Whether a concept has a coding without a usable system and code (never skipped)."""
    if not isinstance(concept, Mapping):
        return False
    return len(as_list(concept.get("coding"))) != len(codings(concept))


def _answer(characteristic: Mapping[str, Any]) -> Answer | None:
    """The one answer every coding of the value gives; None if any is unknown or two differ.

    A local "equivocal" beside SNOMED "positive" is not read as positive, nor is a
    coding without a system or code beside it.
    """
    if _incomplete_codings(characteristic.get("valueCodeableConcept")):
        return None
    answers = {
        _STATUS_ANSWERS.get(coding) or ANSWERS.get(coding)
        for coding in codings(characteristic.get("valueCodeableConcept"))
    }
    return answers.pop() if len(answers) == 1 else None


def _her2_codes(characteristic: Mapping[str, Any]) -> bool:
    """Whether the code or value carries a code of the project's HER2 tables."""
    concepts = (characteristic.get("code"), characteristic.get("valueCodeableConcept"))
    return any(
        system in _PROJECT_SYSTEMS or (system, code) in DEFAULT_CODES
        for concept in concepts
        for system, code in codings(concept)
    )


def _her2_words(characteristic: Mapping[str, Any]) -> str | None:
    """The code's and value's words when they name HER2 (or ERBB2), else None."""
    words = [
        word for key in ("code", "valueCodeableConcept") for word in _words(characteristic.get(key))
    ]
    text = " ".join(words)
    return text if "her2" in normalise(text) else None


# Words of a value that deny or leave it open: "Not positive", "Equivocal", "Unknown".
_VALUE_DOUBT: Final = re.compile(
    r"\b(?:not|no|non|never|without|except|equivocal|indeterminate|unknown|pending)\b"
)
_OPPOSITE: Final = {Answer.POSITIVE: "negative", Answer.NEGATIVE: "positive"}


def _words_disagree(characteristic: Mapping[str, Any], answer: Answer | None) -> bool:
    """Whether the words beside the codes say something else than the codes.

    A ``code`` whose text or display does not name HER2 ("Estrogen receptor status"
    over LOINC 48676-1), or a value whose words deny, doubt or name the opposite
    class ("Not positive" over SNOMED Positive): the codes are not read against them.
    """
    for word in _words(characteristic.get("code")):
        if "her2" not in normalise(word):
            return True
    if answer not in _OPPOSITE:
        # IHC answers carry their own wording ("IHC 0, no membrane staining"): their
        # codes are exact, and their words are not read for doubt.
        return False
    opposite = _OPPOSITE[answer]
    for word in _words(characteristic.get("valueCodeableConcept")):
        lowered = normalise(word)
        if _VALUE_DOUBT.search(lowered) or opposite in lowered:
            return True
    return False


def _kind(characteristic: Mapping[str, Any]) -> tuple[CriterionKind, bool, Site | None]:
    """What a HER2 characteristic states: (kind, negated, site)."""
    not_understood = (CriterionKind.NOT_UNDERSTOOD, False, None)
    if _incomplete_codings(characteristic.get("code")):
        return not_understood
    recognised = set()
    for system, code in codings(characteristic.get("code")):
        if system == CS_COMPONENT and code in _COMPONENT_KINDS:
            recognised.add(("component", code))
        elif system in (LOINC, LOINC_OID) and DEFAULT_CODES.get((system, code)) in (
            Kind.INTERPRETATION,
            Kind.IHC,
        ):
            recognised.add((str(DEFAULT_CODES[(system, code)]), code))
        else:
            # Every coding of a concept must mean the same: one that is not a HER2
            # code read here (another LOINC test such as ER status, a local code)
            # disagrees or may, so the characteristic is not read.
            return not_understood
    kinds = {kind for kind, _ in recognised}
    if len(kinds) != 1:
        return not_understood
    kind = kinds.pop()
    if kind == "component":
        value = characteristic.get("valueBoolean")
        codes = {code for _, code in recognised}
        if len(codes) != 1 or not isinstance(value, bool) or _words_disagree(characteristic, None):
            return not_understood
        return _COMPONENT_KINDS[codes.pop()], not value, None
    answer = _answer(characteristic)
    if _words_disagree(characteristic, answer):
        return not_understood
    table = _INTERPRETATION_ANSWERS if kind == Kind.INTERPRETATION else _IHC_ANSWERS
    read = table.get(answer) if answer is not None else None
    if read is None:
        return not_understood
    breast = all(code in BREAST_SPECIFIC for _, code in recognised)
    return read, False, Site.BREAST if breast else None


def read_characteristic(characteristic: Mapping[str, Any]) -> Criterion | None:
    """The HER2 criterion a ``Group.characteristic`` states; None when it is not about HER2.

    Args:
        characteristic: one element of ``Group.characteristic`` (FHIR JSON).

    Returns:
        None for a characteristic that does not concern HER2; otherwise a
        :class:`Criterion` (source ``characteristic``, section inclusion, or exclusion
        when ``exclude`` is true), ``not_understood`` unless the table above reads it.
    """
    coded = _her2_codes(characteristic)
    words = _her2_words(characteristic)
    if not coded and words is None:
        return None
    if characteristic.get("modifierExtension") or _section(characteristic) is None:
        # An unknown modifier may change the meaning (FHIR forbids ignoring it), and
        # a non-boolean ``exclude`` names no section: neither is guessed.
        return Criterion(
            CriterionKind.NOT_UNDERSTOOD, Section.UNKNOWN, sentence(characteristic), source=SOURCE
        )
    kind, negated, site = _kind(characteristic)
    section = _section(characteristic) or Section.INCLUSION
    if not coded and words is not None:
        # HER2 in words only: never read as a status, but a HER2 (ERBB2) *mutation*
        # criterion is told apart, as in the text, so it is not a status criterion.
        read = read_sentence(words, section)
        if read is not None and read.kind is CriterionKind.HER2_MUTATION:
            kind = CriterionKind.HER2_MUTATION
    return Criterion(
        kind, section, sentence(characteristic), negated=negated, site=site, source=SOURCE
    )


__all__ = ["SOURCE", "read_characteristic", "sentence"]
