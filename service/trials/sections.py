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
# all participants:", "Key exclusion criteria include:", "Exclusion:".  Text after the
# colon is the section's first item ("Exclusion Criteria: * HER2-low").  Without
# "criteria" only the word and a colon make a heading ("Exclusion of patients with ..."
# is an item); without a colon only a parenthesis may follow "criteria".
_HEADING_WORD = (
    r"^[\s*_#]*(?:(?:key|main|major|general|additional|other)\s+)?(inclusion|exclusion)\b"
)
_HEADING = re.compile(
    # Possessive: nothing is tried twice, so a long line costs linear time.
    rf"{_HEADING_WORD}(?:\s+criteria\b[^:]{{0,80}}+)?[\s*_]*+:[\s*_]*+(?P<rest>.*)$",
    re.I | re.S,
)
_HEADING_ALONE = re.compile(rf"{_HEADING_WORD}\s+criteria\b(?P<rest>.*)$", re.I | re.S)
_BARE_QUALIFIER = re.compile(r"^(?:\s*\([^()]*\))?[^a-z]*$", re.I)
_BULLET = re.compile(r"^\s*(?:[-*\u2022\u2023\u2043\u2219\u00b7]|\d+[.)]|[a-z][.)]|\(\w\))\s*")
_SENTENCE_END = re.compile(r"(?<=\.)\s+(?=[A-Z])")


def heading(line: str) -> tuple[Section, str] | None:
    """The section a heading line opens and the item after its colon, or None."""
    line = _BULLET.sub("", line, count=1)
    match = _HEADING.match(line)
    if match is not None:
        return Section(match.group(1).lower()), match.group("rest")
    # "Exclusion Criteria (all cohorts)" alone; never "Exclusion criteria apply ...".
    match = _HEADING_ALONE.match(line)
    if match is not None and _BARE_QUALIFIER.match(match.group("rest")):
        return Section(match.group(1).lower()), ""
    return None


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
            joinable = not stripped.endswith(":")
            continue
        if parts:
            yield indent, "".join(parts)
        indent, parts = len(raw) - len(raw.lstrip()), [raw] if stripped else []
        joinable = bool(stripped) and not stripped.endswith(":") and heading(stripped) is None
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
        line = _BULLET.sub("", line).strip()
        if line.endswith(":") and denies(line) and parent is None:
            parent, nested = indent, False
        for part in _SENTENCE_END.split(line):
            if part.strip():
                yield section, part.strip(), denied


__all__ = ["heading", "items", "logical_lines"]
