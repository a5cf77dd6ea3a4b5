"""The FHIR ``AuditEvent`` of a Patient-level call, in the IHE BALP shape (``HER2_AUDIT=fhir``).

IHE Basic Audit Log Patterns (BALP, ``https://profiles.ihe.net/ITI/BALP``) define
AuditEvents for RESTful interactions on patient data.  The Patient-level
``$her2-status`` is a FHIR operation that reads one patient's results and answers
derived ones (and may write them back), so its event follows BALP's
``IHE.BasicAudit.PatientQuery``:

- ``type`` ``audit-event-type#rest``; ``subtype`` ``restful-interaction#operation``
  (the interaction the caller made; BALP's subtype slicing is open); ``action`` ``E``.
- ``outcome`` ``0`` success (2xx), ``4`` minor failure (4xx: refused, invalid,
  nothing usable, a lost write race), ``8`` serious failure (500, 502, 504), ``12``
  major failure (503: the service could not work at all).  BALP profiles fix
  ``outcome`` 0 ("failures are recorded differently"), so only a success claims the
  profile in ``meta.profile``; a failure keeps the same shape without the claim.
- agents: the client (DICOM ``110153`` Source Role ID), identified by its OAuth
  ``client_id`` as an identifier in the namespace of the token issuer, with its
  network address; the user (v3 ParticipationType ``IRCP`` information recipient)
  when the token has a ``sub``, identified the same way and the requestor (else
  the client is); the server (DICOM ``110152`` Destination Role ID): the service's
  Device, with the base URL it was called on.
- ``source``: observer the service's Device, type ``security-source-type#4``
  (application server).
- entities: the Patient (``audit-entity-type#1`` / ``object-role#1``), the query
  (``#2`` / ``#24``: the call rebuilt from validated values only, as text and
  base64), the ``X-Request-ID`` (BALP ``BasicAuditEntityType#XrequestId``), and
  each resource written by the call's transaction (its resource type /
  ``object-role#4``).

Never a clinical value, and never request text: the rebuilt call holds only the
method, the operation path with the (validated) patient id and ``persist``.
"""

from __future__ import annotations

import base64
import datetime as dt
import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from service.fhir.codes import DEVICE_ID

BALP = "https://profiles.ihe.net/ITI/BALP"
PATIENT_QUERY_PROFILE = f"{BALP}/StructureDefinition/IHE.BasicAudit.PatientQuery"
BALP_ENTITY_TYPE = f"{BALP}/CodeSystem/BasicAuditEntityType"
AUDIT_EVENT_TYPE = "http://terminology.hl7.org/CodeSystem/audit-event-type"
RESTFUL_INTERACTION = "http://hl7.org/fhir/restful-interaction"
OUTCOME = "http://terminology.hl7.org/CodeSystem/audit-event-outcome"
DCM = "http://dicom.nema.org/resources/ontology/DCM"
PARTICIPATION_TYPE = "http://terminology.hl7.org/CodeSystem/v3-ParticipationType"
SOURCE_TYPE = "http://terminology.hl7.org/CodeSystem/security-source-type"
ENTITY_TYPE = "http://terminology.hl7.org/CodeSystem/audit-entity-type"
OBJECT_ROLE = "http://terminology.hl7.org/CodeSystem/object-role"
NETWORK_TYPE = "http://hl7.org/fhir/network-type"
RESOURCE_TYPES = "http://hl7.org/fhir/resource-types"

SUCCESS, MINOR_FAILURE, SERIOUS_FAILURE, MAJOR_FAILURE = "0", "4", "8", "12"
_OUTCOME_DISPLAY = {
    SUCCESS: "Success",
    MINOR_FAILURE: "Minor failure",
    SERIOUS_FAILURE: "Serious failure",
    MAJOR_FAILURE: "Major failure",
}


@dataclass(frozen=True)
class AuditedCall:
    """What is known of one Patient-level call (validated values only).

    Attributes:
        patient_id: the path's patient id (a valid FHIR id).
        operation_path: the operation's path, e.g. ``/fhir/Patient/p1/$her2-status``.
        service_url: the base URL the service was called on (None: unknown).
        request_id: the ``X-Request-ID`` of the call.
        persist: whether it asked to write back (None: refused before that was read).
        client_id: the token's client (None: authentication off).
        subject: the token's ``sub`` (None: none).
        issuer: the token issuer, namespace of ``client_id`` and ``sub``.
        client_address: the caller's IP address (None: unknown).
        method: the HTTP method the operation was called with (``GET`` or ``POST``).
    """

    patient_id: str
    operation_path: str
    service_url: str | None = None
    request_id: str | None = None
    persist: bool | None = None
    client_id: str | None = None
    subject: str | None = None
    issuer: str | None = None
    client_address: str | None = None
    method: str = "POST"


def outcome_for(status: int) -> str:
    """The ``audit-event-outcome`` code of an HTTP status (see the module docstring)."""
    if status < 400:
        return SUCCESS
    if status < 500:
        return MINOR_FAILURE
    if status == 503:
        return MAJOR_FAILURE
    return SERIOUS_FAILURE


def _coding(system: str, code: str, display: str | None = None) -> dict[str, str]:
    coding = {"system": system, "code": code}
    if display is not None:
        coding["display"] = display
    return coding


def _who(issuer: str | None, value: str | None, unknown: str) -> dict[str, Any]:
    if value is None:
        return {"display": unknown}
    identifier = {"value": value}
    if issuer is not None:
        identifier = {"system": issuer, **identifier}
    return {"identifier": identifier}


def _ip_address(value: str | None) -> str | None:
    try:
        return str(ipaddress.ip_address(value or ""))
    except ValueError:
        return None


def query_text(call: AuditedCall) -> str:
    """The call rebuilt from validated values: method, path and ``persist`` only."""
    text = f"{call.method} {call.operation_path}"
    if call.persist is not None:
        text += f"\npersist={'true' if call.persist else 'false'}"
    return text


def _agents(call: AuditedCall) -> list[dict[str, Any]]:
    device = {"reference": f"Device/{DEVICE_ID}"}
    client: dict[str, Any] = {
        "type": {"coding": [_coding(DCM, "110153", "Source Role ID")]},
        "who": _who(call.issuer, call.client_id, "unidentified client (authentication off)"),
        "requestor": call.subject is None,
    }
    address = _ip_address(call.client_address)
    if address is not None:
        client["network"] = {"address": address, "type": "2"}
    server: dict[str, Any] = {
        "type": {"coding": [_coding(DCM, "110152", "Destination Role ID")]},
        "who": device,
        "requestor": False,
    }
    if call.service_url is not None:
        server["network"] = {"address": call.service_url, "type": "5"}
    agents = [client, server]
    if call.subject is not None:
        agents.append(
            {
                "type": {"coding": [_coding(PARTICIPATION_TYPE, "IRCP", "information recipient")]},
                "who": _who(call.issuer, call.subject, "unidentified user"),
                "requestor": True,
            }
        )
    return agents


def _entities(call: AuditedCall, written: Sequence[tuple[str, str]]) -> list[dict[str, Any]]:
    text = query_text(call)
    entities: list[dict[str, Any]] = [
        {
            "what": {"reference": f"Patient/{call.patient_id}"},
            "type": _coding(ENTITY_TYPE, "1", "Person"),
            "role": _coding(OBJECT_ROLE, "1", "Patient"),
        },
        {
            "type": _coding(ENTITY_TYPE, "2", "System Object"),
            "role": _coding(OBJECT_ROLE, "24", "Query"),
            "description": text,
            "query": base64.b64encode(text.encode()).decode("ascii"),
        },
    ]
    if call.request_id is not None:
        entities.append(
            {
                "what": {"identifier": {"value": call.request_id}},
                "type": _coding(BALP_ENTITY_TYPE, "XrequestId"),
            }
        )
    for resource_type, reference in written:
        entities.append(
            {
                "what": {"reference": reference},
                "type": _coding(RESOURCE_TYPES, resource_type, resource_type),
                "role": _coding(OBJECT_ROLE, "4", "Domain Resource"),
            }
        )
    return entities


def audit_event(
    call: AuditedCall,
    outcome: str,
    recorded: dt.datetime,
    written: Sequence[tuple[str, str]] = (),
) -> dict[str, Any]:
    """The AuditEvent of one Patient-level call.

    Args:
        call: who called, for which patient, how.
        outcome: an ``audit-event-outcome`` code (``outcome_for``).
        recorded: when the call was handled (aware).
        written: (resource type, reference) of each resource the same transaction
            writes; the reference is a ``urn:uuid`` fullUrl or ``Type/id``, which
            the server resolves.

    Returns:
        The AuditEvent (no id: the server assigns one).
    """
    event: dict[str, Any] = {"resourceType": "AuditEvent"}
    if outcome == SUCCESS:
        event["meta"] = {"profile": [PATIENT_QUERY_PROFILE]}
    event |= {
        "type": _coding(AUDIT_EVENT_TYPE, "rest", "Restful Operation"),
        "subtype": [_coding(RESTFUL_INTERACTION, "operation", "operation")],
        "action": "E",
        "recorded": recorded.astimezone(dt.UTC).isoformat().replace("+00:00", "Z"),
        "outcome": outcome,
        "outcomeDesc": _OUTCOME_DISPLAY[outcome],
        "agent": _agents(call),
        "source": {
            "observer": {"reference": f"Device/{DEVICE_ID}"},
            "type": [_coding(SOURCE_TYPE, "4", "Application Server")],
        },
        "entity": _entities(call, written),
    }
    return event


__all__ = ["AuditedCall", "audit_event", "outcome_for", "query_text"]
