"""A result under construction, and the signal of a failed validation step.

Every step of the engine (validation, the site tables, heterogeneity, the
interpretation status) writes into one :class:`Draft`; ``priority.finish``
turns it into the immutable :class:`~service.her2.model.Her2Result`.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from service.her2.model import ErrorCode, NextStep, RationaleEntry, Site, Status
from service.her2.ruleset import Row, RuleSet


class InputError(Exception):
    """A validation step failed (her2-rules.md section 3); never leaves the package."""

    def __init__(
        self,
        rule_id: str,
        error: ErrorCode,
        location: str,
        text: str,
        next_step: NextStep = NextStep.CORRECT_INPUT,
    ) -> None:
        super().__init__(text)
        self.rule_id = rule_id
        self.error = error
        self.location = location
        self.text = text
        self.next_step = next_step


class NothingUsable(InputError):
    """An ISH result is present but carries nothing usable (her2-rules.md section 3 item 7)."""


@dataclass
class Draft:
    """A result under construction for one specimen and one site's rules."""

    ruleset: RuleSet
    site: Site | None
    status: Status = Status.INDETERMINATE
    her2_low: bool | None = None
    ultralow: bool | None = None
    ish_group: int | None = None
    steps: list[NextStep] = field(default_factory=list)
    error: ErrorCode | None = None
    error_location: str | None = None
    rationale: list[RationaleEntry] = field(default_factory=list)
    required_comment: str | None = None
    inputs_final: bool = True
    unusable_inputs: list[str] = field(default_factory=list)

    def note(self, rule_id: str, text: str) -> None:
        """Add a rationale line."""
        self.rationale.append(RationaleEntry(rule_id, text))

    def apply_row(self, row: Row, detail: str, ihc_key: str | None = None) -> None:
        """Take a table row's status, next step and, given the IHC key, its L/U cells."""
        self.status = row.status
        if ihc_key is not None:
            self.her2_low = row.her2_low.value_for(ihc_key)
            self.ultralow = row.ultralow.value_for(ihc_key)
        if row.next_step is not None:
            self.steps.append(row.next_step)
        self.note(row.rule_id, f"{row.source}: {detail} → {row.statement}.")

    def fail(self, problem: InputError) -> None:
        """Make the specimen indeterminate for an input error (section 3: first hit wins)."""
        self.status = Status.INDETERMINATE
        self.her2_low = self.ultralow = self.ish_group = None
        self.required_comment = None
        self.steps = [problem.next_step]
        self.error = problem.error
        self.error_location = problem.location or None
        self.note(problem.rule_id, f"her2-rules.md section 3: {problem.text} ({problem.error})")

    def copy(self) -> Draft:
        """An independent copy (its lists are not shared)."""
        return replace(
            self,
            steps=list(self.steps),
            rationale=list(self.rationale),
            unusable_inputs=list(self.unusable_inputs),
        )


__all__ = ["Draft", "InputError", "NothingUsable"]
