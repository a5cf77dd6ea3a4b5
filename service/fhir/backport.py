"""Topic-based (R4 Subscriptions Backport IG) notification Bundles: what changed, and of what kind.

A notification is a Bundle of type ``history`` whose first entry is a Parameters
(SubscriptionStatus): ``type`` is ``handshake``, ``heartbeat``, ``event-notification``
or ``query-status``; each ``notification-event`` part names a ``focus`` reference
(``Observation/id`` or ``Observation/id/_history/vid``); with full-resource payloads
the changed resources follow as entries.  Only the shapes are read here; the HAPI
test server (6.6.1) sends rest-hook notifications, not these (see the README).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from service.fhir.references import parse_reference
from service.fhir.subscription import NotificationError, patient_of, valid_id

KINDS: Final = frozenset({"handshake", "heartbeat", "event-notification", "query-status"})


@dataclass(frozen=True)
class Focus:
    """One changed resource of an event notification."""

    resource_type: str
    resource_id: str
    version: str
    patient_id: str | None


@dataclass(frozen=True)
class BackportNotification:
    """The kind of a notification and the resources it says changed."""

    kind: str
    focus: tuple[Focus, ...] = ()


def is_backport(body: object) -> bool:
    """Whether ``body`` looks like a Backport notification (a history Bundle)."""
    return (
        isinstance(body, dict)
        and body.get("resourceType") == "Bundle"
        and body.get("type") == "history"
    )


def _parameters(body: dict[str, Any]) -> list[dict[str, Any]]:
    entries = body.get("entry")
    if not isinstance(entries, list) or not entries or not isinstance(entries[0], dict):
        raise NotificationError("The notification Bundle has no SubscriptionStatus entry.")
    status = entries[0].get("resource")
    if not isinstance(status, dict) or status.get("resourceType") != "Parameters":
        raise NotificationError("The first entry of the notification is not a Parameters.")
    parameters = status.get("parameter")
    if not isinstance(parameters, list):
        raise NotificationError("The SubscriptionStatus has no parameters.")
    return [p for p in parameters if isinstance(p, dict)]


def _included(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The full resources of the notification by ``Type/id``."""
    found: dict[str, dict[str, Any]] = {}
    for entry in body.get("entry", [])[1:]:
        resource = entry.get("resource") if isinstance(entry, dict) else None
        if isinstance(resource, dict) and isinstance(resource.get("id"), str):
            found[f"{resource.get('resourceType')}/{resource['id']}"] = resource
    return found


def _focus(part: list[Any], included: dict[str, dict[str, Any]]) -> Focus:
    for item in part:
        if not isinstance(item, dict) or item.get("name") != "focus":
            continue
        value = item.get("valueReference")
        ref = parse_reference(value.get("reference") if isinstance(value, dict) else None)
        if ref is None:
            break
        resource = included.get(ref.relative, {})
        meta = resource.get("meta") if isinstance(resource.get("meta"), dict) else {}
        version = ref.version or (meta or {}).get("versionId") or ""
        if not isinstance(version, str) or (version and not valid_id(version)):
            raise NotificationError("A focus carries an invalid version.")
        return Focus(ref.type, ref.id, version, patient_of(resource) if resource else None)
    raise NotificationError("A notification event has no valid focus reference.")


def read_backport(body: dict[str, Any]) -> BackportNotification:
    """The kind and the focus resources of a Backport notification Bundle.

    Raises:
        NotificationError: not the Backport shape (the message names no value).
    """
    parameters = _parameters(body)
    kind = next((p.get("valueCode") for p in parameters if p.get("name") == "type"), None)
    if kind not in KINDS:
        raise NotificationError("The notification type is missing or unknown.")
    if kind != "event-notification":
        return BackportNotification(str(kind))
    included = _included(body)
    focus = []
    for parameter in parameters:
        if parameter.get("name") == "notification-event":
            part = parameter.get("part")
            focus.append(_focus(part if isinstance(part, list) else [], included))
    return BackportNotification(str(kind), tuple(focus))


__all__ = ["KINDS", "BackportNotification", "Focus", "is_backport", "read_backport"]
