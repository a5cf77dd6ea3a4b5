"""Which Observations are inputs, how they hang together, and which belong to one specimen.

Classification (contract sections 1-2: codes, statuses), linking (panels with
``hasMember``, ``DiagnosticReport.result``) and grouping (contract section 3: the
same specimen, else the same report, else one subject within a time window).
Each step is one pass over the request: nothing here is quadratic in its size.
"""

from __future__ import annotations

from dataclasses import dataclass

from service.fhir.codes import ISH_VALUE_KINDS, SID_STATUS, Kind
from service.fhir.context import ReadContext
from service.fhir.elements import as_list, codings, effective
from service.fhir.envelope import Node
from service.fhir.facts import (
    IGNORED_STATUSES,
    USABLE_FINAL,
    USABLE_PRELIMINARY,
    WITHDRAWN,
    Fact,
)
from service.fhir.issues import Issue, Severity


@dataclass
class Classified:
    """The request's Observations sorted by what they are for.

    Attributes:
        inputs: HER2 IHC/ISH inputs (possibly broken: those fail their specimen).
        priors: earlier HER2 interpretations (context for rules section 10).
        withdrawn: inputs marked entered-in-error.
    """

    inputs: list[Fact]
    priors: list[Fact]
    withdrawn: list[Node]


def kind_of(ctx: ReadContext, node: Node) -> Kind | None:
    """What an Observation's code means, or None (unknown, or contradictory codings)."""
    kinds = {ctx.codes.kind_of(s, c) for s, c in codings(node.resource.get("code"))}
    kinds.discard(None)
    if len(kinds) > 1:
        ctx.warn(
            "Observation.code carries codings of different HER2 meanings; not used.",
            f"{node.path}.code",
            "code-invalid",
        )
        return None
    return next(iter(kinds), None)


def classify(ctx: ReadContext) -> Classified:
    """Sort the request's Observations into inputs, prior interpretations, withdrawn."""
    out = Classified([], [], [])
    for order, node in enumerate(ctx.env.nodes):
        if node.type != "Observation":
            if not node.valid:
                _skip_malformed(ctx, node)
            continue
        kind = kind_of(ctx, node)
        if kind is None:
            if not node.valid:
                _skip_malformed(ctx, node)
            else:
                ctx.inform("Not a HER2 IHC/ISH result; not used.", f"{node.path}.code")
            continue
        if kind is Kind.NOT_IHC_ISH:
            ctx.warn(
                "HER2-related test that is not IHC or ISH (e.g. serum HER2); "
                "never used for HER2 status.",
                f"{node.path}.code",
            )
            continue
        raw_status = node.resource.get("status")
        status = raw_status if isinstance(raw_status, str) else ""
        if kind is Kind.INTERPRETATION:
            if _is_own_output(node):
                ctx.inform("The service's own earlier result; skipped.", node.path)
            elif node.valid and status in USABLE_FINAL | USABLE_PRELIMINARY:
                out.priors.append(make_fact(ctx, node, kind, order))
            continue
        if status == WITHDRAWN:
            out.withdrawn.append(node)
            ctx.inform("Input marked entered-in-error; not used.", f"{node.path}.status")
            continue
        if status in IGNORED_STATUSES:
            ctx.inform(f"Input with status {status}; not used.", f"{node.path}.status")
            continue
        fact = make_fact(ctx, node, kind, order)
        if node.valid and status not in USABLE_FINAL | USABLE_PRELIMINARY:
            # Recorded on the node before its problems are reported, so that the
            # caller learns what is wrong, not only that the input cannot be read.
            node.problems.append(
                Issue(
                    Severity.ERROR,
                    "code-invalid",
                    "Observation.status is not an R4 status code.",
                    f"{node.path}.status",
                )
            )
        # A broken HER2 input fails its specimen closed; say exactly what is broken.
        ctx.issues.extend(node.problems)
        if status == "unknown":
            ctx.warn(
                "Input with status 'unknown': used, but the result is preliminary.",
                f"{node.path}.status",
            )
        fact.final = status in USABLE_FINAL
        out.inputs.append(fact)
    return out


def _skip_malformed(ctx: ReadContext, node: Node) -> None:
    ctx.issues.extend(
        Issue(Severity.WARNING, p.code, p.diagnostics + " (entry skipped)", p.expression)
        for p in node.problems
    )


def _is_own_output(node: Node) -> bool:
    return any(
        isinstance(i, dict) and i.get("system") == SID_STATUS
        for i in as_list(node.resource.get("identifier"))
    )


def make_fact(ctx: ReadContext, node: Node, kind: Kind, order: int) -> Fact:
    """A fact of an Observation: its subject, specimen, tissue and time."""
    resource = node.resource
    when, text = effective(resource)
    return Fact(
        node=node,
        kind=kind,
        order=order,
        subject=ctx.subject_key(resource.get("subject"), node),
        specimen=ctx.case_specimen(resource.get("specimen"), node),
        tissue=ctx.subject_key(resource.get("specimen"), node, "Specimen"),
        effective=when,
        effective_text=text,
    )


def link(ctx: ReadContext, facts: list[Fact]) -> list[Fact]:
    """Attach hasMember members to their panels, and reports to their results.

    Returns:
        The top-level facts (members are reached through their panel).
    """
    by_node = {id(f.node): f for f in facts}
    consumed: set[int] = set()
    for fact in facts:
        if fact.kind not in (Kind.ISH, Kind.ISH_PANEL):
            continue
        for index, member_ref in enumerate(as_list(fact.node.resource.get("hasMember"))):
            target, _ = ctx.env.resolve(member_ref, fact.node, "Observation")
            member: Fact | None = by_node.get(id(target)) if target is not None else None
            if member is None or member is fact or id(member.node) in consumed:
                if target is None:
                    ctx.warn(
                        "Panel member not included in the request; not read.",
                        f"{fact.node.path}.hasMember[{index}]",
                    )
                continue
            if member.kind not in ISH_VALUE_KINDS | {Kind.ISH}:
                continue
            consumed.add(id(member.node))
            fact.members.append(member)
    for report in ctx.env.of_type("DiagnosticReport"):
        if report.valid:
            _link_report(ctx, report, by_node)
    for fact in facts:
        for member in fact.members:
            member.specimen = member.specimen or fact.specimen
            member.tissue = member.tissue or fact.tissue
            member.report = member.report or fact.report
            member.subject = member.subject or fact.subject
    return [f for f in facts if id(f.node) not in consumed]


def _link_report(ctx: ReadContext, report: Node, by_node: dict[int, Fact]) -> None:
    report_key = f"DiagnosticReport/{report.id}" if report.id else report.path
    specimens = as_list(report.resource.get("specimen"))
    report_specimen = (
        ctx.subject_key(specimens[0], report, "Specimen") if len(specimens) == 1 else None
    )
    for result_ref in as_list(report.resource.get("result")):
        target, _ = ctx.env.resolve(result_ref, report, "Observation")
        result_fact = by_node.get(id(target)) if target is not None else None
        if result_fact is None:
            continue
        for part in (result_fact, *result_fact.members):
            part.report = part.report or report_key
            part.specimen = part.specimen or report_specimen
            part.tissue = part.tissue or report_specimen
            if part.subject is None:
                part.subject = ctx.subject_key(report.resource.get("subject"), report)


def group(ctx: ReadContext, facts: list[Fact]) -> list[tuple[str | None, str, list[Fact]]]:
    """Group facts per subject into specimen groups, in a deterministic order.

    Returns:
        ``(subject, group key, facts)`` per group, sorted by subject and key.
    """
    groups: dict[tuple[str | None, str], list[Fact]] = {}
    dated: dict[str | None, list[Fact]] = {}
    for fact in facts:
        if fact.specimen:
            groups.setdefault((fact.subject, f"specimen:{fact.specimen}"), []).append(fact)
        elif fact.report:
            groups.setdefault((fact.subject, f"report:{fact.report}"), []).append(fact)
        elif fact.effective is None:
            groups.setdefault((fact.subject, "undated"), []).append(fact)
        else:
            dated.setdefault(fact.subject, []).append(fact)
    for subject, subject_facts in dated.items():
        cluster: list[Fact] = []
        for fact in sorted(subject_facts, key=lambda f: f.sort_key):
            assert fact.effective is not None
            start = cluster[0].effective if cluster else None
            if start is not None and fact.effective - start > ctx.window:
                groups[(subject, _window_key(cluster))] = cluster
                cluster = []
            cluster.append(fact)
        if cluster:
            groups[(subject, _window_key(cluster))] = cluster
    return [
        (s, k, v) for (s, k), v in sorted(groups.items(), key=lambda i: (i[0][0] or "", i[0][1]))
    ]


def _window_key(cluster: list[Fact]) -> str:
    first = cluster[0].node
    return f"window:{first.reference() or first.path}"
