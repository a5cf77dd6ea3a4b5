"""The command "answer this CDS hook": prefetch (or fetch), derive once, build the cards.

The patient's inputs come from the request's prefetch data; keys the EHR left out
(or answered with an OperationOutcome) are fetched from its ``fhirServer`` with its
``fhirAuthorization`` token — only when that server is allow-listed for the calling
issuer — by the same template queries, in parallel, under one deadline: a slow FHIR
server cannot hold the hook longer than ``timeout`` seconds (the unfinished fetches
are abandoned; their own timeouts end them).  When the data cannot be had the
answer is 412, as CDS Hooks 2.0 says.  The derivation is the one every entry point
uses (``Application.derive``), with the request caps.
"""

from __future__ import annotations

import datetime as dt
import re
import time
from collections.abc import Callable, Collection
from concurrent.futures import Executor, Future, wait
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from service.app.fhir_store import specimen_references
from service.bootstrap import Application
from service.cds.cards import CardContext, GroupResult, patient_view_cards
from service.cds.orders import order_cards
from service.cds.prefetch import Gathered, PrefetchError, gather
from service.cds.services import CdsService, prefetch_templates
from service.clients.errors import FhirClientError, FhirNotFound
from service.clients.fhir import FhirClient
from service.fhir.cds_orders import draft_orders
from service.her2 import Her2Result, load_catalog

_FHIR_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")
_ORDER_HOOKS = frozenset({"order-select", "order-sign"})


class HookRequestError(ValueError):
    """The hook request is malformed (400); the message is fixed text, never a value."""


class DataUnavailable(Exception):
    """The patient's data cannot be had (412); ``reason`` is a fixed word for the logs."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class HookCall:
    """One validated hook request.

    Attributes:
        service: the service called.
        hook: the hook (one of the service's).
        hook_instance: the call's ``hookInstance``.
        patient_id: ``context.patientId`` (a valid FHIR id).
        context: the hook's context object.
        prefetch: the request's ``prefetch`` (None: absent).
        fhir_server: the EHR's FHIR base URL, if given.
        fhir_token: the ``fhirAuthorization`` access token, if given (never logged).
    """

    service: CdsService
    hook: str
    hook_instance: str
    patient_id: str
    context: dict[str, Any]
    prefetch: object
    fhir_server: str | None
    fhir_token: str | None


def parse_call(body: object, service: CdsService) -> HookCall:
    """Check a hook request's shape for ``service``.

    Raises:
        HookRequestError: not an object, a hook this service does not answer, no
            ``hookInstance``, no valid ``context.patientId``, a malformed
            ``fhirServer`` or ``fhirAuthorization``.
    """
    if not isinstance(body, dict):
        raise HookRequestError("The request must be a JSON object.")
    hook = body.get("hook")
    if hook not in service.hooks:
        raise HookRequestError("This service does not answer that hook.")
    instance = body.get("hookInstance")
    if not isinstance(instance, str) or not 0 < len(instance) <= 128:
        raise HookRequestError("hookInstance is required.")
    context = body.get("context")
    if not isinstance(context, dict):
        raise HookRequestError("context is required.")
    patient_id = context.get("patientId")
    if not isinstance(patient_id, str) or not _FHIR_ID.fullmatch(patient_id):
        raise HookRequestError("context.patientId must be a FHIR id.")
    server = body.get("fhirServer")
    if server is not None and (not isinstance(server, str) or not server.startswith("http")):
        raise HookRequestError("fhirServer must be a URL.")
    token: str | None = None
    authorization = body.get("fhirAuthorization")
    if authorization is not None:
        if not isinstance(authorization, dict) or server is None:
            raise HookRequestError("fhirAuthorization needs fhirServer.")
        access = authorization.get("access_token")
        kind = authorization.get("token_type")
        if not isinstance(access, str) or not access or not isinstance(kind, str):
            raise HookRequestError("fhirAuthorization needs access_token and token_type.")
        if kind.lower() != "bearer":
            raise HookRequestError("fhirAuthorization.token_type must be Bearer.")
        token = access
    return HookCall(
        service,
        str(hook),
        instance,
        patient_id,
        context,
        body.get("prefetch"),
        server,
        token,
    )


class FhirFetcher:
    """Runs the missing prefetch queries against the EHR's FHIR server, under a deadline."""

    def __init__(self, executor: Executor, timeout: float, page_size: int = 100) -> None:
        self.executor = executor
        self.timeout = timeout
        self.page_size = page_size

    def _wait(self, futures: list[Future[Any]], deadline: float) -> list[Any]:
        done, pending = wait(futures, timeout=max(0.0, deadline - time.monotonic()))
        if pending:
            for future in pending:
                future.cancel()
            raise DataUnavailable("fhir-timeout")
        results = []
        for future in done:
            error = future.exception()
            if isinstance(error, FhirClientError):
                raise DataUnavailable("fhir-error")
            if error is not None:
                raise DataUnavailable("fhir-failure")
        for future in futures:
            results.append(future.result())
        return results

    def fetch(self, base_url: str, token: str, queries: Collection[str], into: Gathered) -> None:
        """Add the results of ``queries`` and the Specimens they reference to ``into``.

        Raises:
            DataUnavailable: a query failed, or the deadline passed.
        """
        deadline = time.monotonic() + self.timeout
        client = FhirClient(
            base_url,
            token,
            connect_timeout=min(self.timeout, 3.05),
            read_timeout=self.timeout,
            retries=0,
            page_size=self.page_size,
        )

        def run(query: str) -> list[dict[str, Any]]:
            resource_type, _, text = query.partition("?")
            return list(client.search(resource_type, dict(parse_qsl(text))))

        for found in self._wait([self.executor.submit(run, q) for q in queries], deadline):
            for resource in found:
                rid = resource.get("id")
                full_url = client.url(f"{resource.get('resourceType')}/{rid}") if rid else None
                into.add(resource, full_url)
        present = {
            f"Specimen/{e['resource'].get('id')}"
            for e in into.entries
            if e["resource"].get("resourceType") == "Specimen"
        }
        wanted = sorted(
            specimen_references([e["resource"] for e in into.entries], client.base_url) - present
        )

        def read(reference: str) -> dict[str, Any] | None:
            try:
                resource = client.read(reference)
            except FhirNotFound:
                return None
            # Only the Specimen asked for: a server's other answer is not taken in.
            if f"{resource.get('resourceType')}/{resource.get('id')}" != reference:
                return None
            return resource

        for ref, resource in zip(
            wanted,
            self._wait([self.executor.submit(read, r) for r in wanted], deadline),
            strict=True,
        ):
            if resource is not None:
                into.add(resource, client.url(ref))


@dataclass
class HookAnswer:
    """The hook's answer and what the metrics count."""

    body: dict[str, Any]
    results: tuple[Her2Result, ...]
    fetched: bool


class AnswerHook:
    """Answer one hook call (see the module)."""

    def __init__(
        self,
        application: Application,
        fetcher: FhirFetcher,
        view_url: str | None,
        codes: Collection[tuple[str, str]] | None = None,
    ) -> None:
        self.application = application
        self.fetcher = fetcher
        self.view_url = view_url
        self.templates = prefetch_templates(
            codes if codes is not None else application.derivation.code_map.kinds.keys()
        )

    def gather(self, call: HookCall, allows_server: Callable[[str], bool]) -> Gathered:
        """The patient's resources: prefetched, then fetched where missing.

        Raises:
            HookRequestError: malformed prefetch data.
            DataUnavailable: keys are missing and the FHIR server cannot give them.
        """
        try:
            gathered = gather(call.prefetch, self.templates, call.context)
        except PrefetchError as exc:
            raise HookRequestError(str(exc)) from None
        access = (
            call.fhir_server is not None
            and call.fhir_token is not None
            and allows_server(call.fhir_server)
        )
        if gathered.missing and not access:
            raise DataUnavailable("no-fhir-access")
        # Only what is missing is fetched (with the Specimens it references).
        if gathered.missing and call.fhir_server is not None and call.fhir_token is not None:
            self.fetcher.fetch(
                call.fhir_server, call.fhir_token, list(gathered.missing.values()), gathered
            )
        return gathered

    def __call__(
        self, call: HookCall, allows_server: Callable[[str], bool], now: dt.datetime
    ) -> HookAnswer:
        """The cards for this call.

        Raises:
            HookRequestError: malformed request data (400).
            DataUnavailable: the data cannot be had (412).
            EnvelopeError: the data are not readable FHIR; ``RequestTooLarge``
                when over a cap.
        """
        gathered = self.gather(call, allows_server)
        derivation = self.application.derive(gathered.bundle(), now)
        subject = f"Patient/{call.patient_id}"
        groups = [
            GroupResult(
                output.key,
                output.derived.result,
                output.derived.therapies,
                output.derived.group.specimen,
                output.derived.group.spec.collected.isoformat()
                if output.derived.group.spec.collected
                else output.derived.group.effective_text,
                output.derived.group.site,
            )
            for output in derivation.outputs
            if output.derived.group.subject == subject
        ]
        context = CardContext(call.hook_instance, call.patient_id, self.view_url)
        if call.hook in _ORDER_HOOKS:
            orders = draft_orders(call.context.get("draftOrders"))
            cards = order_cards(context, orders, groups, load_catalog())
        else:
            cards = patient_view_cards(context, groups)
        return HookAnswer({"cards": cards}, tuple(g.result for g in groups), bool(gathered.missing))


__all__ = [
    "AnswerHook",
    "DataUnavailable",
    "FhirFetcher",
    "HookAnswer",
    "HookCall",
    "HookRequestError",
    "parse_call",
]
