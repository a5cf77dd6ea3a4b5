"""Rest-hook Subscriptions: the resource the service registers, and what a notification says.

HAPI (6.6.1 and later) sends, for a Subscription with payload
``application/fhir+json``: ``PUT {endpoint}/Observation/{id}`` with the resource on
create and update, ``DELETE {endpoint}/Observation/{id}`` on delete (only with its
send-delete extension), and an empty ``POST {endpoint}`` without a payload.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any, Final

from service.fhir.codes import CANONICAL
from service.fhir.references import parse_reference

SUBSCRIPTION_TAG: Final = {"system": f"{CANONICAL}/sid/subscription", "code": "her2-status-events"}
SUBSCRIPTION_ID: Final = "her2-status-events"
SEND_DELETES: Final = (
    "http://hapifhir.io/fhir/StructureDefinition/subscription-send-delete-messages"
)
SECRET_HEADER: Final = "X-Her2-Hook-Secret"
HOOK_PATH: Final = "/fhir-hook"

_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")
_TYPE = re.compile(r"[A-Z][A-Za-z]{0,63}")


class NotificationError(ValueError):
    """A notification's body is not what the Subscription sends (the message names no value)."""


@dataclass(frozen=True)
class Changed:
    """What a notification's resource says: its version and its patient (when relative)."""

    version: str
    patient_id: str | None


def valid_type(text: str) -> bool:
    """Whether ``text`` is a resource type by the FHIR grammar."""
    return _TYPE.fullmatch(text) is not None


def valid_id(text: str) -> bool:
    """Whether ``text`` is a logical id by the FHIR grammar."""
    return _ID.fullmatch(text) is not None


def patient_of(resource: dict[str, Any]) -> str | None:
    """The Patient id of ``subject`` when it is a relative ``Patient/id`` reference."""
    subject = resource.get("subject")
    ref = parse_reference(subject.get("reference") if isinstance(subject, dict) else None)
    if ref is None or ref.type != "Patient" or ref.base is not None:
        return None
    return ref.id


def read_changed(body: object, resource_type: str, resource_id: str) -> Changed:
    """Check a notification's resource against the URL it was sent to.

    Raises:
        NotificationError: not a JSON object, another type or id than the URL's, or
            a versionId that is not a FHIR id.
    """
    if not isinstance(body, dict):
        raise NotificationError("The notification body must be a FHIR resource.")
    if body.get("resourceType") != resource_type:
        raise NotificationError("The resource's type is not the one in the URL.")
    if "id" in body and body.get("id") != resource_id:
        raise NotificationError("The resource's id is not the one in the URL.")
    meta = body.get("meta")
    version = meta.get("versionId") if isinstance(meta, dict) else None
    if version is not None and (not isinstance(version, str) or not valid_id(version)):
        raise NotificationError("meta.versionId is not a valid FHIR id.")
    return Changed(version or "", patient_of(body))


def criteria(codes: Collection[tuple[str, str]]) -> str:
    """The Subscription criteria: Observations with any of ``codes``."""
    return "Observation?code=" + ",".join(f"{system}|{code}" for system, code in sorted(codes))


def subscription(
    codes: Collection[tuple[str, str]], endpoint: str, headers: list[str]
) -> dict[str, Any]:
    """The service's rest-hook Subscription (status ``requested``: the server activates it)."""
    return {
        "resourceType": "Subscription",
        "id": SUBSCRIPTION_ID,
        "meta": {"tag": [dict(SUBSCRIPTION_TAG)]},
        "status": "requested",
        "reason": "her2-status: derive the HER2 status when a HER2 IHC or ISH result changes",
        "criteria": criteria(codes),
        "channel": {
            "extension": [{"url": SEND_DELETES, "valueBoolean": True}],
            "type": "rest-hook",
            "endpoint": endpoint,
            "payload": "application/fhir+json",
            "header": headers,
        },
    }


def describe(resource: dict[str, Any]) -> dict[str, Any]:
    """What ``subscribe --status`` shows: never the channel's headers (they hold the secret)."""
    channel = resource.get("channel") if isinstance(resource.get("channel"), dict) else {}
    assert isinstance(channel, dict)
    return {
        "id": resource.get("id"),
        "status": resource.get("status"),
        "error": resource.get("error"),
        "criteria": resource.get("criteria"),
        "endpoint": channel.get("endpoint"),
        "payload": channel.get("payload"),
        "headers": len(channel.get("header") or []),
    }


__all__ = [
    "HOOK_PATH",
    "SECRET_HEADER",
    "SEND_DELETES",
    "SUBSCRIPTION_ID",
    "SUBSCRIPTION_TAG",
    "Changed",
    "NotificationError",
    "criteria",
    "describe",
    "patient_of",
    "read_changed",
    "subscription",
    "valid_id",
    "valid_type",
]
