"""The stateless ``$her2-status`` derivation: read → rules → resources (contract section 8).

Each derived group's output resources (status Observation, List, Provenance) are
built here once; the response Bundle and the write-back plan both use them.
Nothing is written anywhere.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from service.app.limits import cap_issues
from service.fhir.codes import DEVICE_ID, CodeMap
from service.fhir.envelope import ReadLimits
from service.fhir.inbound import Reading, SpecimenGroup, read_inputs
from service.fhir.issues import ERROR_DIAGNOSTICS, Issue, Severity, outcome_resource
from service.fhir.outbound import (
    Derived,
    collection,
    device,
    full_url,
    provenance,
    status_observation,
    therapy_list,
)
from service.her2 import ErrorCode, Her2Result, RuleSet, evaluate_series, therapies_for


@dataclass(frozen=True)
class GroupOutput:
    """One derived group with its output resources, built once.

    Attributes:
        derived: the group, its rule result and its therapy selection.
        observation: the status Observation.
        listing: the therapy List, or None when no agent applies.
        provenance: the Provenance (activity CREATE, targets the Observation and List).
    """

    derived: Derived
    observation: dict[str, Any]
    listing: dict[str, Any] | None
    provenance: dict[str, Any]

    @property
    def key(self) -> str:
        """The group's deterministic key (identifier value of its Observation and List)."""
        return self.derived.key


@dataclass(frozen=True)
class Derivation:
    """The outcome of one stateless derivation.

    Attributes:
        bundle: the collection Bundle (status Observations, Lists, Provenances and,
            when there are issues, an OperationOutcome).
        issues: every issue found (also in the Bundle's OperationOutcome).
        outputs: the groups that produced a status Observation, with their resources.
        usable: False when no group could be derived (the API answers 422).
    """

    bundle: dict[str, Any]
    issues: list[Issue]
    outputs: list[GroupOutput]
    usable: bool

    @property
    def derived(self) -> list[Derived]:
        """The groups that produced a status Observation."""
        return [output.derived for output in self.outputs]

    def outcome(self) -> dict[str, Any]:
        """The OperationOutcome of the issues."""
        return outcome_resource(self.issues)


def _error_issue(group: SpecimenGroup, result: Her2Result) -> Issue:
    location = result.error_location or ""
    expression = group.field_paths.get(location) or group.field_paths.get(location.split(".")[0])
    if expression is None and group.used:
        expression = group.used[0].path
    assert result.error is not None
    reason = f"{ERROR_DIAGNOSTICS[result.error]} The specimen's status was not derived."
    return Issue(Severity.ERROR, "invalid", reason, expression, result.error)


def _set_aside_issue(group: SpecimenGroup, location: str) -> Issue:
    expression = group.field_paths.get(location)
    if expression is None and group.used:
        expression = group.used[0].path
    what = "blinded recount" if location == "ish_recount" else "ISH result"
    return Issue(
        Severity.WARNING,
        "incomplete",
        f"The {what} carries nothing usable; the IHC alone fixes the status whatever any "
        "ISH result could say, so the status was derived from the IHC.",
        expression,
    )


def evaluate_groups(
    reading: Reading, ruleset: RuleSet | None = None
) -> list[tuple[SpecimenGroup, Her2Result]]:
    """Run the rules on every group; groups of one subject are evaluated together."""
    by_subject: dict[str | None, list[SpecimenGroup]] = {}
    for group in reading.groups:
        by_subject.setdefault(group.subject, []).append(group)
    pairs: list[tuple[SpecimenGroup, Her2Result]] = []
    for groups in by_subject.values():
        results = evaluate_series([g.spec for g in groups], ruleset)
        pairs.extend(zip(groups, results, strict=True))
    return pairs


DEVICE_URL = full_url("Device", DEVICE_ID)
_IN_BUNDLE_DEVICE = {"reference": DEVICE_URL}


def _in_bundle(resource: dict[str, Any]) -> dict[str, Any]:
    """A copy whose references to the service's Device point at its Bundle entry.

    Inside a Bundle whose entries are ``urn:uuid`` full URLs a relative reference cannot
    be resolved (FHIR R4 Bundle, "Resolving references in Bundles"); the stored forms,
    which write-back plans from the same outputs, keep ``Device/her2-status-service``.
    """
    copy = dict(resource)
    if "device" in copy:
        copy["device"] = _IN_BUNDLE_DEVICE
    if "source" in copy:
        copy["source"] = _IN_BUNDLE_DEVICE
    if "agent" in copy:
        copy["agent"] = [{**agent, "who": _IN_BUNDLE_DEVICE} for agent in copy["agent"]]
    return copy


def build_outputs(derived: Derived, now: dt.datetime) -> GroupOutput:
    """The output resources of one derived group (contract sections 5-7)."""
    obs_url = full_url("Observation", derived.key)
    listing = therapy_list(derived, obs_url, now)
    targets = [obs_url] if listing is None else [obs_url, full_url("List", derived.key)]
    return GroupOutput(
        derived, status_observation(derived, now), listing, provenance(derived, targets, now)
    )


def derive(
    payload: object,
    now: dt.datetime,
    code_map: CodeMap | None = None,
    window: dt.timedelta = dt.timedelta(days=30),
    ruleset: RuleSet | None = None,
    limits: ReadLimits | None = None,
    max_issues: int | None = None,
) -> Derivation:
    """Derive HER2 status for every specimen group of a request.

    Args:
        payload: the request body (Parameters, Bundle or Observation), parsed with
            ``parse_float=Decimal``.
        now: the derivation time (``issued``, ``recorded``, ``date``).
        code_map: recognised codes, with a site's local additions.
        window: the grouping window of contract section 3.
        ruleset: the rule set to apply (default: the service's current one).
        limits: caps on the request's resources and elements (None: none).
        max_issues: the most issues reported; the rest are counted in a last issue.

    Returns:
        The derivation; ``usable`` is False when nothing could be derived.

    Raises:
        EnvelopeError: when the body is not a request the operation can read;
            ``RequestTooLarge`` when it is over a cap of ``limits``.
    """
    reading = read_inputs(payload, code_map, window, limits)
    issues = list(reading.issues)
    entries: list[tuple[str, dict[str, Any]]] = []
    outputs: list[GroupOutput] = []
    for group, result in evaluate_groups(reading, ruleset):
        # her2-rules.md section 3 item 7: an unusable ISH set aside is named, never silent.
        issues.extend(_set_aside_issue(group, location) for location in result.unusable_inputs)
        if result.error is not None:
            issues.append(_error_issue(group, result))
            continue
        output = build_outputs(Derived(group, result, therapies_for(result)), now)
        outputs.append(output)
        entries.append((full_url("Observation", output.key), _in_bundle(output.observation)))
        if output.listing is not None:
            entries.append((full_url("List", output.key), _in_bundle(output.listing)))
        entries.append(
            (full_url("Provenance", output.provenance["id"]), _in_bundle(output.provenance))
        )
    if not reading.groups:
        issues.append(
            Issue(
                Severity.ERROR,
                "not-found",
                "The request holds no usable HER2 IHC or ISH result.",
                None,
                ErrorCode.MISSING_DATA,
            )
        )
    issues = cap_issues(issues, max_issues)
    if outputs:
        # The service's Device travels in the Bundle, so a reader of the stateless answer
        # can resolve every output's reference to it (write-back stores it on the server).
        cited = outputs[0].derived.result.ruleset
        entries.append((DEVICE_URL, device(cited)))
    if issues:
        entries.append((full_url("OperationOutcome", str(now)), outcome_resource(issues)))
    return Derivation(collection(entries, now), issues, outputs, bool(outputs))


__all__ = ["Derivation", "GroupOutput", "build_outputs", "derive", "evaluate_groups"]
