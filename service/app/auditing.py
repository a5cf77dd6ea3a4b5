"""Where the AuditEvent of a Patient-level call goes (``HER2_AUDIT=fhir``).

- **With the write-back**: when the call writes, its AuditEvent (outcome success,
  naming every resource written) is one more entry of the same transaction: both
  are stored, or neither is.  A transaction that fails therefore leaves no
  AuditEvent claiming success; the failure is then recorded alone (below).
- **Alone**: when nothing is written (``persist`` false, a result identical to the
  stored one, a refusal or an error), the AuditEvent is created on its own, in a
  transaction of one entry, after the answer is known.  That write can fail (the
  FHIR server is down, the patient does not exist there, the service lacks the
  ``AuditEvent.c`` scope): the caller still gets the answer, and the failure is one
  ERROR line on ``her2.audit`` (``write_alone`` raises; the API logs).  The
  service's Device, which the AuditEvent names as its source, is written first if
  missing.

Planning stays pure: ``audit_entry`` only builds the entry.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from service.fhir.audit_event import AuditedCall, audit_event

Entry = dict[str, Any]


def written_references(entries: Sequence[Entry]) -> list[tuple[str, str]]:
    """How the AuditEvent names each resource a transaction writes: (type, reference).

    A conditional update (``Type?identifier=…``) is named by its entry's ``urn:uuid``
    fullUrl, which the server resolves to the id it writes; a write to ``Type/id``
    by that reference.
    """
    references = []
    for entry in entries:
        url = str(entry["request"]["url"])
        reference = entry["fullUrl"] if "?" in url else url
        references.append((str(entry["resource"]["resourceType"]), str(reference)))
    return references


def audit_entry(
    call: AuditedCall, outcome: str, now: dt.datetime, written: Sequence[Entry] = ()
) -> Entry:
    """The transaction entry that creates the call's AuditEvent.

    Args:
        call: the call.
        outcome: its ``audit-event-outcome`` code.
        now: the derivation time (``recorded``).
        written: the other entries of the same transaction (named as entities).
    """
    return {
        "resource": audit_event(call, outcome, now, written_references(written)),
        "request": {"method": "POST", "url": "AuditEvent"},
    }


__all__ = ["audit_entry", "written_references"]
