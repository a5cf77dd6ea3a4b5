"""Caps on what one answer carries: issues are truncated, never dropped silently."""

from __future__ import annotations

from collections.abc import Sequence

from service.fhir.issues import Issue, Severity


def cap_issues(issues: Sequence[Issue], limit: int | None) -> list[Issue]:
    """The first ``limit`` issues, and one last issue saying how many were left out.

    Args:
        issues: every issue found, most important first (readers report in order).
        limit: the most issues kept (None: all).
    """
    if limit is None or len(issues) <= limit:
        return list(issues)
    omitted = len(issues) - limit
    return [
        *issues[:limit],
        Issue(
            Severity.WARNING,
            "too-costly",
            f"{omitted} more issues were omitted (the answer keeps at most {limit}).",
        ),
    ]


__all__ = ["cap_issues"]
