"""The sections, lines and sentences of an eligibility text (issue 14): pure.

Split from ``criteria`` (which reads each sentence): where a sentence stands —
headings switch between inclusion and exclusion, bullets are stripped, an indented
wrapped line is joined to the line above, and items under a denying parent line
("Patients must not have any of the following:") are marked.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

from service.trials.model import Section

# A heading, after any bullet and Markdown emphasis: "Exclusion Criteria:", "**Key
# Inclusion Criteria:**", "Exclusion Criteria (all cohorts):", "Exclusion criteria for
# all participants:", "Key exclusion criteria include:", "Exclusion:", "Non-inclusion
# criteria:", "Exclusions:".  Text after the colon is the section's first item
# ("Exclusion Criteria: * HER2-low").  Without "criteria" only the word and a colon, or
# the word alone on its line, make a heading ("Exclusion of patients with ..." is an
# item); without a colon only a parenthesis or "include"/"are as follows" may follow
# "criteria".
_HEADING_WORD = (
    r"^[\s*_#]*(?:(?:key|main|major|general|additional|other)\s+)?"
    r"(?P<word>inclusion|exclusion|non-?inclusion)s?\b"
)
_HEADING = re.compile(
    # Possessive: nothing is tried twice, so a long line costs linear time.
    rf"{_HEADING_WORD}(?:\s+criteria\b[^:]{{0,80}}+)?[\s*_]*+:[\s*_]*+(?P<rest>.*)$",
    re.I | re.S,
)
_HEADING_ALONE = re.compile(rf"{_HEADING_WORD}(?:\s+criteria\b)?(?P<rest>.*)$", re.I | re.S)
_BARE_QUALIFIER = re.compile(
    # Possessive: the spaces and the non-letters never share characters on a retry.
    r"^(?:\s*+\([^()]*+\))?\s*+(?:includes?|are(?: as follows)?)?[^a-z]*+$",
    re.I,
)
_BULLET = re.compile(r"^\s*(?:[-*\u2022\u2023\u2043\u2219\u00b7]|\d+[.)]|[a-z][.)]|\(\w\))\s*")
_SENTENCE_END = re.compile(r"(?<=\.)\s+(?=[A-Z])")
# A lead-in line whose items follow: it ends with a colon or a dash (Markdown emphasis
# aside: "**Patients must not have:**"), or with the words that leave a sentence open
# ("Patients are ineligible if they have", "... include", a hard-wrapped "who are
# not"), or it announces "the following" ("Subjects meeting any of the following
# criteria will not be enrolled").
_EMPHASIS = " \t*_\u00a0"
_OPEN_END = re.compile(
    # A dash only after a space: "HR+/HER2-" ends a criterion, not a lead-in.
    r"(?::|\s[\-\u2013]|\b(?:includes?|including|following|have|has|if|of|are|is|with|"
    r"not|never|no|without|except))$",
    re.I,
)
_FOLLOWING = re.compile(r"\bthe following\b", re.I)
# An unbulleted line of the inclusion section that speaks of exclusion and names no
# HER2 ("Exclusion criteria apply as below", a misspelt "Exlusion Criteria:") starts
# something the reader cannot place: what follows is in no known section, so it is
# never read as a requirement.
_SPEAKS_OF_EXCLUSION = re.compile(
    r"exclu|\bex[a-z]{0,2}lu[st]|non-?inclusion|not eligible|ineligib|not (?:be )?allowed|"
    r"not (?:be )?(?:enrolled|included|admitted)",
    re.I,
)
_NAMES_HER2 = re.compile(r"her[- ]?2|erbb", re.I)
# A line of the exclusion section that speaks of inclusion or eligibility and is no
# heading ("Part B Inclusion Criteria:", "Eligibility Criteria for Part B:") starts
# criteria to meet, never exclusions: what follows is in no known section.
_SPEAKS_OF_INCLUSION = re.compile(r"inclu|eligib", re.I)
# Words of a subgroup of the study (a part, stratum, module, dose phase): criteria
# under such a label, or a lead-in naming one, are not the study's own.
SUBGROUP = (
    r"\bpart (?:[a-d1-4]|i{1,3}|iv)\b|\bstrat(?:um|a)\b|\bmodules?\b|\bsub-?stud(?:y|ies)\b|"
    r"\bdose[- ](?:escalation|expansion|finding)\b|"
    r"\b(?:escalation|expansion) (?:phase|part|stage)\b|"
    r"\bphase (?:1|2|3|i{1,3})[ab]?\b(?= ?(?:portion|part|only|:|\)))|\bportion\b"
)
_SUBGROUP = re.compile(SUBGROUP, re.I)


def _section(word: str) -> Section:
    word = word.lower()
    return Section.INCLUSION if word.startswith("inclusion") else Section.EXCLUSION


def heading(line: str) -> tuple[Section, str] | None:
    """The section a heading line opens and the item after its colon, or None."""
    line = _BULLET.sub("", line, count=1)
    match = _HEADING.match(line)
    if match is not None:
        return _section(match.group("word")), match.group("rest")
    # "Exclusion Criteria (all cohorts)" or "Exclusion" alone; never "Exclusion criteria
    # apply ...".
    match = _HEADING_ALONE.match(line)
    if match is not None and _BARE_QUALIFIER.match(match.group("rest")):
        return _section(match.group("word")), ""
    return None


def leads_in(line: str) -> bool:
    """Whether a line introduces the items under it (see ``_OPEN_END``)."""
    return bool(_OPEN_END.search(line.rstrip(_EMPHASIS)) or _FOLLOWING.search(line))


def logical_lines(eligibility: str) -> Iterator[tuple[int, str]]:
    """Each line with its indentation, a wrapped continuation joined to its first line.

    An indented line that is not a bullet continues the line above ("* Tumour must
    not be" / "  HER2-positive"), unless that line ends with ":" (then it is an
    item of it).  Joined verbatim, so that every sentence stays a part of the text.
    """
    indent, parts = 0, list[str]()  # the line being built: its raw pieces
    joinable = False  # whether the next indented line may continue it
    for raw in eligibility.splitlines(keepends=True):
        stripped = raw.strip()
        indented = joinable and stripped and raw[:1].isspace()
        if indented and not _BULLET.match(stripped) and heading(stripped) is None:
            parts.append(raw)
            joinable = not leads_in(stripped)
            continue
        if parts:
            yield indent, "".join(parts)
        indent, parts = len(raw) - len(raw.lstrip()), [raw] if stripped else []
        joinable = bool(stripped) and not leads_in(stripped) and heading(stripped) is None
    if parts:
        yield indent, "".join(parts)


def items(eligibility: str, denies: Callable[[str], bool]) -> Iterator[tuple[Section, str, bool]]:
    """Each sentence, its section, and whether it stands under a denying parent.

    A line that ends with ":" and denies ("Patients must not have any of the
    following:") makes what stands under it not a plain requirement.  Its scope
    ends at a heading, at a line indented less than it, or at a line indented as
    much as it once more-indented items were seen; in a flat list (items indented
    like their parent) it runs to the next heading, since nothing tells its items
    from the parent's siblings.

    Args:
        eligibility: the eligibility text.
        denies: whether a line denies something (the criteria reader's judgement).
    """
    section = Section.UNKNOWN
    parent: int | None = None  # the indentation of the denying parent in scope
    nested = False
    for indent, logical in logical_lines(eligibility):
        line = logical.strip()
        opened = heading(line)
        if opened is not None:
            section, line = opened
            if _SUBGROUP.search(logical.strip()[: len(logical.strip()) - len(line)]):
                # "Inclusion criteria (Part 2):", "Exclusion Criteria for Part B:": the
                # criteria of a part of the study, not the study's own.
                section = Section.UNKNOWN
            parent, nested = None, False
            line = line.strip()
            if not line:
                continue
        elif parent is not None:
            if indent < parent or (indent == parent and nested):
                parent, nested = None, False
            elif indent > parent:
                nested = True
        denied = parent is not None
        bulleted = _BULLET.match(line) is not None
        line = _BULLET.sub("", line).strip()
        if leads_in(line) and denies(line) and parent is None:
            parent, nested = indent, False
        elif opened is None and not _NAMES_HER2.search(line) and _unplaced(line, section, bulleted):
            section = Section.UNKNOWN
        for part in _SENTENCE_END.split(line):
            if part.strip():
                yield section, part.strip(), denied


def _unplaced(line: str, section: Section, bulleted: bool) -> bool:
    """Whether a line (no heading, naming no HER2) starts criteria of no known section.

    An unbulleted line about exclusion in the inclusion section, or about inclusion
    in the exclusion section; a lead-in naming a subgroup ("Part B (Dose
    Expansion):") anywhere.
    """
    if leads_in(line) and _SUBGROUP.search(line):
        return True
    if bulleted:
        return False
    if section is Section.INCLUSION:
        return bool(_SPEAKS_OF_EXCLUSION.search(line))
    return section is Section.EXCLUSION and bool(_SPEAKS_OF_INCLUSION.search(line))


__all__ = ["SUBGROUP", "heading", "items", "leads_in", "logical_lines"]
