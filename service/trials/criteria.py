"""HER2 criteria read from a study's eligibility text, conditions and keywords.

The reader is deliberately narrow: it recognises the HER2 categories of the
project's rules (her2-rules.md: positive = IHC 3+ or ISH amplified; HER2-low =
IHC 1+ or IHC 2+/ISH-negative; HER2-ultralow = IHC 0 with membrane staining;
HER2 0 = IHC 0; negative) and nothing else.  Anything it cannot place exactly is
``not_understood``, never guessed:

- an IHC score left over after the known definitions ("IHC 2+ or 3+", "0-2+"):
  IHC 2+ without an ISH result is not a category;
- the 2007 thresholds (IHC 3+ in >30 % of cells, ratio 2.2 / 1.8), which the
  project never uses;
- "equivocal";
- a positive and a negative class in one sentence;
- a denied class other than positive ("not HER2-low");
- a HER2 mutation named together with HER2 expression;
- scores naming part of a class only ("IHC 3+", "IHC 1+", "IHC 0-1+" without the
  class in words): the classes cannot tell IHC 1+ from IHC 2+/ISH-negative;
- a class word defined by scores naming part of it ("HER2-negative (IHC 0)",
  "HER2-positive (IHC 3+)"): the study takes that part only;
- a criterion for a subgroup only ("If HER2-positive, ...", a cohort or an arm);
- a sentence naming HER2 with no recognised status;
- any denial the one precise negation ("not/never [be, reported as, ...]
  HER2-positive", with only such words between) does not account for: "no HER2
  overexpression", "without", "non-", "except", "other than", "excluded",
  "ineligible", "barred", "contraindicated", "lack of", "absence of",
  "amplification negative", "not progressed during HER2-positive ...", ... --
  wherever it stands in the sentence, since a reader this narrow cannot tell
  which clause a denial belongs to;
- an item under a denying lead-in ("Patients must not have any of the
  following:", "**... are not eligible:**", "Patients are ineligible if they
  have"), or after an unplaced line about exclusion (``sections``).

A shortened alternative ("HER2 positive or negative", "HER2+/-", "HER2-low or
-ultralow") is read as its two classes.

HER2 (ERBB2) *mutation* criteria (NGS, activating mutations, exon 19/20) are kept
apart as ``her2_mutation``: they are never read as HER2 status; nor is an ERBB2
amplification found by a genomic or plasma test (ctDNA, cfDNA, genomic profiling),
which is not understood.  Mentions of
HER2-directed *therapy* ("anti-HER2 therapy") are not status criteria and are
ignored.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import replace

from service.trials.model import KIND_CLASSES, Criterion, CriterionKind, Her2Class, Section
from service.trials.sections import SUBGROUP, items
from service.trials.sites import site_named

_DASHES = str.maketrans(
    {"\u2013": "-", "\u2014": "-", "\u2212": "-", "\u2010": "-", "\u2011": "-", "\uff0b": "+"}
)

# Normalisation, applied in order to lower-cased text.
_REWRITES: tuple[tuple[str, str], ...] = (
    (r"≥", ">="),
    (r"≤", "<="),
    (r"human epidermal growth factor receptor[- ]?2", "her2"),
    (r"\b(?:her[- ]2|erbb[- ]?2|erb-b2|her2/neu)\b", "her2"),
    (r"her2 \(her2\)", "her2"),
    (r"\(her2\)", ""),
    (r"immunohistochemistry \(ihc\)|immunohistochemistry|immunochemistry", "ihc"),
    (r"\bich\b", "ihc"),
    (r"(?:fluorescent |fluorescence |silver |chromogenic )?in[- ]situ hybridi[sz]ation", "ish"),
    (r"\b(?:fish|sish|cish|ddish)\b", "ish"),
    (r"\bish \[ish\]|\bish \(ish\)", "ish"),
    (r"(\d) \+", r"\1+"),
    (r"ihc(\d)", r"ihc \1"),
    (r"\bish ?\+|\bish[- ]positive|\bish amplified", " ish+ "),
    (r"\bish ?-(?![a-z])|\bish[- ]negative|\bish non-amplified|\bish not amplified", " ish- "),
    (r"\bnegative (?:on (?:an? )?)?ish\b", " ish- "),
    (r"her2 ?\+", "her2-positive"),
    (r"her2-(?=[\s,;.)/\]]|$)", "her2-negative"),
    (r"her2 (positive|negative|low|ultralow|null|zero)\b", r"her2-\1"),
    (r"ultra[- ]low", "ultralow"),
    (r"\blow[- ]her2\b", "her2-low"),
    # A shortened alternative names its class in full: "HER2 positive or negative",
    # "HER2-low or -ultralow", "HER2+/-" are two classes, never the first alone.
    (
        r"\b(her2-(?:positive|negative|low|ultralow|null|zero)) ?(,|/|or|and/or|and|nor)? ?-?"
        r"(positive|negative|low|ultralow|null|zero)\b",
        r"\1 \2 her2-\3",
    ),
    (r"\b(her2-(?:positive|negative|low|ultralow|null|zero)) ?/ ?-(?![\w])", r"\1 / her2-negative"),
    (r"\b(her2-(?:positive|negative|low|ultralow|null|zero)) ?/ ?\+", r"\1 / her2-positive"),
)

_HER2 = re.compile(r"her2")
# Sub-bullets of a HER2 definition often do not repeat "HER2": an IHC score, an ISH
# result or ratio, overexpression or amplification stands for it.  Each part is
# searched on its own (no ".*" between two parts): linear on any input.
_IHC = re.compile(r"\bihc\b")
_SCORE = re.compile(r"[0-3]\+")
_ISH = re.compile(r"\bish\b")
_RATIO = re.compile(r"\bratio\b")
_UNNAMED_HER2 = re.compile(r"ish[+-]|overexpress|amplif")
_AMPLIFIED = re.compile(r"amplif")


def _names_her2_without_saying_so(text: str) -> bool:
    return bool(
        (_IHC.search(text) and _SCORE.search(text))
        or (_ISH.search(text) and _RATIO.search(text))
        or _UNNAMED_HER2.search(text)
    )


_THERAPY = re.compile(
    r"anti-her2\S*|her2[- ](?:targeted|directed|targeting)|targeting her2|her2 inhibitor\w*"
)
# Genomic tests too: an ERBB2 amplification found in plasma or by a genomic panel is not
# HER2 status (rules: NGS results are never status), so it never reads as positive.
# ("Copy number" is not among them: ISH counts HER2 copies too.)
_MUTATION = re.compile(
    r"mutat\w*|mutant|\bexons? ?(?:19|20)\b|insertion|\bngs\b|sequencing|\bctdna\b|"
    r"liquid biopsy|activating|\bvariants?\b|circulating (?:tumou?r )?(?:dna|nucleic)|"
    r"\bcfdna\b|cell-?free|\bplasma\b|genomic|next[- ]generation|exome|genome"
)
_STATUS_HINT = re.compile(
    r"ihc|ish|overexpress|amplif|expression|her2-(?:positive|negative|low|ultralow)"
)
# "Triple-negative" beside a HER2 class is an alternative of hormone receptors too
# ("HER2-positive or triple-negative"): the HER2 classes alone would drop it.
_TRIPLE_NEGATIVE = r"triple[- ]?negative|\btnbc\b"
_TRIPLE_NEGATIVE_LABEL = re.compile(_TRIPLE_NEGATIVE, re.I)
_UNSUPPORTED = re.compile(
    rf"{_TRIPLE_NEGATIVE}|"
    r"equivocal|\bneither\b|\bprovided\b|\b2\.2\b|\b1\.8\b|>\s?30 ?%|30 ?% or less|2007|"
    r"\bnot\b(?:\s+\S+){0,5}?\s+her2-(?:low|negative|ultralow|null)|"
    r"\bnever\b(?:\s+\S+){0,5}?\s+her2-(?:low|negative|ultralow|null)"
)
# A criterion for a subgroup only ("If HER2-positive, must have received trastuzumab",
# "In participants with HER2-low disease (Cohort 3):") says nothing about who may join.
_HER2_CLASS = r"her2-(?:positive|negative|low|ultralow|null|zero|0)"
_CONDITIONAL = re.compile(
    rf"\b(?:if|when|unless|whether)\b[^,;:]{{0,60}}{_HER2_CLASS}|\bcohorts?\b|\barms?\b|"
    rf"{SUBGROUP}|"
    rf"\b(?:in|for) (?:patients|participants|subjects) with\b[^.;]{{0,80}}{_HER2_CLASS}|"
    rf"\b(?:patients|participants|subjects) with\b[^.;]{{0,80}}{_HER2_CLASS}[^.;]{{0,80}}"
    rf"\b(?:must|should|are required|is required)\b"
)
# "Not/never ... HER2-positive" denies the class, unless the words between make the
# class the object of something else ("no prior therapy for HER2-positive disease").
# In an exclusion list a qualified class ("HER2-positive disease that has not received
# trastuzumab") excludes a subgroup of the class, not the class.
_QUALIFIED = re.compile(
    rf"{_HER2_CLASS}[^.;]{{0,60}}\b(?:who|that|which|whose|after|following|unless|except)\b"
)
# The words between stay in one clause and only say what the class is: a copula, a
# verb of finding or reporting ("was never previously reported as HER2-positive").
# "Has not progressed during HER2-positive ...", "not resectable HER2-positive" deny
# something else: those are left to the denial check below (not understood).
_NEGATION_GAP = (
    r"(?:be|been|being|is|are|was|were|have|has|had|having|ever|previously|currently|"
    r"known|to|as|a|an|classified|reported|documented|confirmed|considered|determined|"
    r"deemed|found|tested|shown|diagnosed|defined|identified|centrally|locally)"
)
_NEGATION = re.compile(
    rf"\b(?:not|never)\b(?:\s+{_NEGATION_GAP}\b){{0,5}}"
    r"\s+(?:her2-positive|her2 (?:gene )?amplif)|\bwithout (?:her2-positive|her2 (?:gene )?amplif)"
)
# A denial left in a sentence once its class names (which include the understood
# negative phrasings "not amplified", "no HER2 amplification") and the one precise
# negation above are taken out.  Any of them makes the sentence not understood: the
# reader cannot tell which class, or which clause, it denies.  "_CLASS_MARK" stands
# where a class name was, so "amplification negative" is still seen.
_CLASS_MARK = " \u00a7 "
_DENIAL = re.compile(
    r"\b(?:not|no|never|nor|none|without|except\w*|unless|lack\w*|absen\w*|exclu\w*|"
    r"ineligib\w*|cannot|free of|other than|rather than|instead of|apart from|"
    r"disallow\w*|prohibit\w*|omit\w*|barr\w*|preclud\w*|disqualif\w*|unsuitable|"
    r"contraindicat\w*|"
    r"rul(?:e|ed|es|ing) out|free from)\b|n[\u2019']t\b|\bnon\b-?\s*(?:\u00a7|her2|ihc|ish)|"
    r"\u00a7\W{0,3}(?:(?:is|are|was|were|be|being)\s+)?negative|\bnegative (?:for|to|by)\b"
)
# The one denial about something else that is taken out: no prior therapy ("No prior
# systemic therapy for HER2-positive disease", "HER2-positive disease that has not
# received prior trastuzumab" require HER2-positive).  Its words are letters only and
# name no class, so a class name never stands inside it.
_WORD = r"(?!overexpress|amplif|express|positiv|negativ|low\b|ultralow|null\b|zero\b)[a-z]+"
_PRIOR_THERAPY = re.compile(
    rf"\b(?:no|not|never|without)\s+(?:{_WORD}\s+){{0,2}}?(?:prior|previous(?:ly)?)\s+"
    rf"(?:{_WORD}\s+){{0,3}}?(?:therap(?:y|ies)|treatments?|chemotherapy|regimens?|"
    r"trastuzumab|pertuzumab|lapatinib|neratinib|tucatinib|t-dm1)\b"
)

# Each pattern is removed once matched, so that what remains can be checked for
# IHC scores nobody placed.  Order matters: the definitions of negative (0-1+)
# come before IHC 0 and IHC 1+.
_PATTERNS: tuple[tuple[str, str], ...] = (
    (
        "ultralow",
        r"her2-ultralow|ultralow|ihc ?>\s?0 ?(?:and |but )?<\s?1\+|"
        r"ihc 0 with (?:any )?(?:faint )?(?:incomplete )?membrane staining|"
        r"ihc 0\+? with (?:faint|weak|barely perceptible)(?:[,/ ]+(?:and |or )?"
        r"(?:faint|weak|barely perceptible|incomplete|partial))*(?: membrane)? staining",
    ),
    # A bare "null" too ("IHC 0 (null)"): beside IHC 0 it narrows it to null.
    (
        "null",
        r"her2-null|ihc 0 (?:without|with no|with absent) (?:any )?membrane staining|\bnull\b",
    ),
    (
        "negative",
        r"her2-negative|negative her2|her2 non-?amplified|her2 (?:gene )?not amplified|"
        r"non-?amplified|not amplified|negative for her2|her2 negativity|her2 is negative|"
        r"no her2 (?:gene )?amplification",
    ),
    ("negative_def", r"(?:ihc )?0 ?(?:-|to|or|and) ?1\+|(?:ihc )?0, 1\+|ihc negative"),
    ("low", r"her2-low|her2 low|low (?:levels? of )?her2(?: expression)?|her2 low expression"),
    (
        "low_def_2",
        r"(?:ihc )?2\+ ?(?:/|and|with|in combination with)? ?ish-|"
        r"(?:ihc )?2\+[^.;+]{0,60}?(?:ish-|ish (?:test )?(?:\w+ ){0,3}negative)",
    ),
    ("low_def_1", r"(?:ihc )?1\+(?: ?\( ?(?:ish- or (?:un|not )tested|ish-) ?\))?"),
    # An ISH-negative result on its own (not the "2+/ISH-" above) is a negative result.
    ("negative_ish", r"\bish-"),
    (
        "positive",
        r"her2-positive|her2[- ]overexpress\w*|overexpress\w*(?: and/or amplification)?"
        r"(?: of her2)?|her2 (?:gene )?amplifi\w*|amplification of her2|her2-amplified|"
        r"her2 positivity|positive for her2",
    ),
    (
        "positive_ish",
        r"(?:ihc )?2\+ ?(?:/|and|with|in combination with|or) ?ish\+|ish\+|gene amplification",
    ),
    ("positive_3", r"(?:ihc )?(?:score of )?3\+(?: staining)?"),
    ("zero", r"her2-(?:0|zero)\b|ihc (?:score (?:of )?)?0\b|her2 0\b"),
)
_COMPILED = tuple((name, re.compile(pattern)) for name, pattern in _PATTERNS)
_LEFTOVER_SCORE = re.compile(r"\b[0-3]\+|\bihc (?:score (?:of )?)?[0-3]\b")


def normalise(sentence: str) -> str:
    """The sentence lower-cased with HER2, IHC and ISH spellings unified."""
    text = sentence.translate(_DASHES).lower()
    for pattern, replacement in _REWRITES:
        text = re.sub(pattern, replacement, text)
    return re.sub(r"\s+", " ", text).strip()


def _classes_found(text: str) -> tuple[set[str], str]:
    found: set[str] = set()
    for name, pattern in _COMPILED:
        if pattern.search(text):
            found.add(name)
            text = pattern.sub(_CLASS_MARK, text)
    return found, text


def _partial(found: set[str]) -> bool:
    """True when scores alone name only part of a class.

    A class stands for several score patterns: positive is IHC 3+ *or* ISH-amplified,
    HER2-low is IHC 1+ *or* IHC 2+/ISH-negative, negative is IHC 0-1+ *or* 2+/ISH-.
    "IHC 3+" or "IHC 1+" or "IHC 0-1+" alone, without the class named in words, asks
    for part of a class; read as the whole class it would admit patients the study
    does not take.
    """
    if "positive" not in found and ("positive_3" in found) != ("positive_ish" in found):
        return True
    if found & {"negative", "low"}:
        return False
    if "negative_ish" in found:
        # "IHC 1+ tumours were ISH- or untested" still names IHC 1+ only.
        return "low_def_1" in found and "negative_def" not in found
    if "negative_def" in found:
        return "low_def_2" not in found
    return ("low_def_1" in found) != ("low_def_2" in found)


_P, _L, _U, _N = Her2Class.POSITIVE, Her2Class.LOW, Her2Class.ULTRALOW, Her2Class.NULL
# The classes each pattern names: class words, then score definitions.
_WORD_CLASSES: dict[str, frozenset[Her2Class]] = {
    "positive": frozenset({_P}),
    "low": frozenset({_L}),
    "ultralow": frozenset({_U}),
    "null": frozenset({_N}),
    "negative": frozenset({_L, _U, _N}),
}
_SCORE_CLASSES: dict[str, frozenset[Her2Class]] = {
    "positive_3": frozenset({_P}),
    "positive_ish": frozenset({_P}),
    "low_def_1": frozenset({_L}),
    "low_def_2": frozenset({_L}),
    "zero": frozenset({_U, _N}),
    "negative_def": frozenset({_L, _U, _N}),
    "negative_ish": frozenset({_L, _U, _N}),
}


def _narrowed(found: set[str], names_ish: bool) -> bool:
    """True when the scores given for a class word name less than the class.

    "HER2-negative (IHC 0)", "HER2-positive (IHC 3+)", "HER2-low (IHC 1+)": the
    study takes only part of the class it names, so reading the word would admit
    patients it does not take.  Scores of another class are an alternative, not a
    definition ("HER2-low or HER2 IHC 0").  A positive class defined by IHC 3+ and
    an ISH test ("HER2+ defined by FISH and/or 3+ staining", "3+ staining or HER2
    gene amplification") names both of its parts.
    """
    scores = found & _SCORE_CLASSES.keys()
    if names_ish and "positive" in found and "positive_3" in scores:
        scores.add("positive_ish")
    words = found & _WORD_CLASSES.keys()
    for word in words:
        named = _WORD_CLASSES[word]
        defining = {s for s in scores if _SCORE_CLASSES[s] & named}
        if not defining:
            continue
        # Narrower class words help define it too: "HER2-negative (HER2-0 or HER2-low)".
        narrower = [_WORD_CLASSES[w] for w in words if _WORD_CLASSES[w] < named]
        covered = frozenset().union(*(_SCORE_CLASSES[s] for s in defining), *narrower)
        if not named <= covered or _partial(defining):
            return True
        # Scores naming more than the words: "HER2-ultralow (IHC 0 ...)" names null too.
        if covered - frozenset().union(*(_WORD_CLASSES[w] for w in words)):
            return True
    return False


def _by_one_method(found: set[str], text: str) -> bool:
    """True when a positive or negative class is named with one test method only.

    Positive is IHC 3+ *or* ISH-amplified and negative is IHC 0-1+ *or* IHC
    2+/ISH-negative: "HER2 gene amplification by FISH", "HER2 overexpression by IHC",
    "HER2-negative by IHC" take the patients of one test only.
    """
    if not found & {"positive", "negative"} or found & _SCORE_CLASSES.keys():
        return False
    return bool(_IHC.search(text)) != bool(_ISH.search(text))


def _kind_of(found: set[str], names_ish: bool = False) -> CriterionKind:
    if _partial(found) or _narrowed(found, names_ish):
        return CriterionKind.NOT_UNDERSTOOD
    classes: set[Her2Class] = set()
    for name in found:
        classes |= _WORD_CLASSES.get(name) or _SCORE_CLASSES[name]
    if Her2Class.POSITIVE in classes:
        return CriterionKind.HER2_POSITIVE if len(classes) == 1 else CriterionKind.NOT_UNDERSTOOD
    by_classes = {
        frozenset({Her2Class.LOW}): CriterionKind.HER2_LOW,
        frozenset({Her2Class.ULTRALOW}): CriterionKind.HER2_ULTRALOW,
        frozenset({Her2Class.NULL}): CriterionKind.HER2_NULL,
        frozenset({Her2Class.ULTRALOW, Her2Class.NULL}): CriterionKind.HER2_ZERO,
        frozenset({Her2Class.LOW, Her2Class.ULTRALOW}): CriterionKind.HER2_LOW_OR_ULTRALOW,
    }
    kind = by_classes.get(frozenset(classes))
    if kind is not None:
        return kind
    if len(classes) == 3:
        if "negative" in found and "low" in found:
            return CriterionKind.HER2_NEGATIVE_OR_LOW
        if found & {"negative", "negative_def", "negative_ish"}:
            return CriterionKind.HER2_NEGATIVE
        return CriterionKind.HER2_LOW_OR_ZERO
    return CriterionKind.NOT_UNDERSTOOD


def read_sentence(sentence: str, section: Section, source: str = "eligibility") -> Criterion | None:
    """The HER2 criterion one sentence states, or None when it states none.

    Args:
        sentence: one eligibility sentence (or a condition or keyword).
        section: the section it stands in.
        source: ``eligibility``, ``condition`` or ``keyword``.

    Returns:
        None when the sentence does not speak of HER2 status (no HER2 at all, or
        only HER2-directed therapy); otherwise a :class:`Criterion`, whose kind is
        ``not_understood`` when the wording cannot be placed exactly.
    """
    text = _THERAPY.sub(" ", normalise(sentence))
    if not _HER2.search(text) and not _names_her2_without_saying_so(text):
        return None
    site = site_named(sentence)

    def criterion(kind: CriterionKind, negated: bool = False) -> Criterion:
        return Criterion(kind, section, sentence, negated=negated, site=site, source=source)

    if _MUTATION.search(text):
        stripped = _MUTATION.sub(" ", text)
        if _STATUS_HINT.search(stripped):
            return criterion(CriterionKind.NOT_UNDERSTOOD)
        return criterion(CriterionKind.HER2_MUTATION)
    if _UNSUPPORTED.search(text) or _CONDITIONAL.search(text):
        return criterion(CriterionKind.NOT_UNDERSTOOD)
    if section is Section.EXCLUSION and _QUALIFIED.search(text):
        return criterion(CriterionKind.NOT_UNDERSTOOD)
    found, rest = _classes_found(text)
    if not found:
        # Conditions and keywords that only name HER2 are topical labels, not criteria.
        return None if source != "eligibility" else criterion(CriterionKind.NOT_UNDERSTOOD)
    if _LEFTOVER_SCORE.search(rest):
        return criterion(CriterionKind.NOT_UNDERSTOOD)
    if _by_one_method(found, text):
        return criterion(CriterionKind.NOT_UNDERSTOOD)
    kind = _kind_of(found, bool(_ISH.search(text) or _AMPLIFIED.search(text)))
    negation = _NEGATION.search(text) if kind is CriterionKind.HER2_POSITIVE else None
    if negation is not None:
        # The understood denial is taken out; any other one still sinks the sentence.
        text = text[: negation.start()] + _CLASS_MARK + text[negation.end() :]
        if _classes_found(text)[0] & _WORD_CLASSES.keys():
            # The class named again outside the denial ("HER2-positive metastasis, the
            # primary was not HER2-positive"): one reading cannot hold both.
            return criterion(CriterionKind.NOT_UNDERSTOOD)
    if _DENIAL.search(_classes_found(_PRIOR_THERAPY.sub(" ", text))[1]):
        return criterion(CriterionKind.NOT_UNDERSTOOD)
    return criterion(kind, negation is not None)


def sentences(eligibility: str) -> Iterator[tuple[Section, str]]:
    """Each sentence of an eligibility text with the section it stands in.

    Headings ("Inclusion Criteria", "**Exclusion Criteria:**", "Key exclusion
    criteria include:", "Exclusion:", ...) switch the section; text after a
    heading's colon is its first item; text before any heading is ``unknown``.
    Bullets are stripped; an indented wrapped line is joined to the line above; a
    bullet holding several sentences is split at full stops.
    """
    for section, sentence, _denied in items(eligibility, _denies):
        yield section, sentence


def _denies(line: str) -> bool:
    """Whether a line denies something (for a parent line ending with ":")."""
    return bool(_DENIAL.search(normalise(line)))


def read_study(
    eligibility: str,
    conditions: Iterable[str] = (),
    keywords: Iterable[str] = (),
    coded: Sequence[Criterion] | None = None,
) -> list[Criterion]:
    """Every HER2 criterion of a study, in text order, then conditions and keywords.

    Coded criteria (``Study.coded``: a ResearchStudy's enrollment Group
    characteristics), when there are any, are the study's criteria and nothing else
    is read: coded eligibility says exactly what the text only describes, and
    mixing the two would let a loose reading of the text contradict the coded one.

    Conditions and keywords describe who the study is for, so the HER2 classes they
    name are read as one inclusion criterion: their union, since a list of conditions
    names alternatives ("HER2-positive Breast Cancer", "HER2-low Breast Cancer").  A
    union that is no kind of its own is not understood.
    """
    if coded:
        return list(coded)
    found: list[Criterion] = []
    for section, sentence, denied in items(eligibility, _denies):
        read = read_sentence(sentence, section)
        if read is not None and denied and read.kind is not CriterionKind.HER2_MUTATION:
            # Under "must not have any of the following:" a class is not required.
            read = replace(read, kind=CriterionKind.NOT_UNDERSTOOD, negated=False)
        if read is not None:
            found.append(read)
    labels: list[Criterion] = []
    triple_negative = False
    for source, texts in (("condition", conditions), ("keyword", keywords)):
        for text in texts:
            triple_negative |= bool(_TRIPLE_NEGATIVE_LABEL.search(text))
            read = read_sentence(text, Section.INCLUSION, source)
            if read is not None and read.kind is CriterionKind.NOT_UNDERSTOOD:
                # A label naming HER2 status in words the reader cannot place is a
                # criterion not understood, never silently none.
                found.append(read)
            elif read is not None:
                labels.append(read)
    found.extend(_union(labels, triple_negative))
    return found


def _union(labels: list[Criterion], triple_negative: bool = False) -> list[Criterion]:
    """The conditions' and keywords' status criteria as one alternative (see read_study).

    A triple-negative label beside them ("HER2-positive Breast Cancer", "Triple
    Negative Breast Cancer") is one more alternative the HER2 classes cannot say: the
    union is then not understood.
    """
    status = [c for c in labels if c.classes is not None and not c.negated]
    rest = [c for c in labels if c not in status]
    if status and triple_negative:
        joined = "; ".join(c.sentence for c in status)
        return [
            Criterion(
                CriterionKind.NOT_UNDERSTOOD, Section.INCLUSION, joined, source=status[0].source
            ),
            *rest,
        ]
    if len({c.kind for c in status}) <= 1:
        return status[:1] + rest
    classes = frozenset().union(*(c.classes or frozenset() for c in status))
    kinds = [k for k, v in KIND_CLASSES.items() if v == classes]
    kind = kinds[0] if kinds else CriterionKind.NOT_UNDERSTOOD
    sites = {c.site for c in status}
    joined = "; ".join(c.sentence for c in status)
    site = sites.pop() if len(sites) == 1 else None
    return [Criterion(kind, Section.INCLUSION, joined, site=site, source=status[0].source), *rest]


__all__ = ["normalise", "read_sentence", "read_study", "sentences"]
