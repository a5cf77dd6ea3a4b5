"""SMART scopes (v2 ``context/Type.cruds``; v1 ``.read``/``.write``/``.*`` as equivalents).

Only ``system/`` and ``patient/`` contexts on ``Observation`` (or ``*``) count.  A v2
scope with a query (``patient/Observation.rs?category=…``) grants a subset of the
Observations only, and the operation reads and writes all HER2 results: it grants
nothing here (conservative).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum

_SCOPE = re.compile(r"(?P<context>patient|user|system)/(?P<type>[A-Za-z]+|\*)\.(?P<perms>[^?\s]+)")
_V2 = re.compile(r"c?r?u?d?s?")
_V1 = {"read": "rs", "write": "cud", "*": "cruds"}


class Access(Enum):
    """What an operation needs, as SMART permission letters on Observation."""

    READ = "rs"
    WRITE = "cu"


def _permissions(perms: str) -> str:
    if perms in _V1:
        return _V1[perms]
    if perms and _V2.fullmatch(perms):
        return perms
    return ""


_IDENTITY = re.compile(r"[A-Za-z0-9._:@/\-]{1,128}")


def _identity(raw: object) -> str | None:
    # From a verified token, but still only a plain identifier reaches the audit log.
    return raw if isinstance(raw, str) and _IDENTITY.fullmatch(raw) else None


@dataclass(frozen=True)
class Grant:
    """What a valid token allows.

    Attributes:
        system: permission letters on Observation at system level.
        patient: permission letters on Observation for the token's patient.
        patient_id: the token's ``patient`` claim (None: no patient context).
        client_id: the calling client (``client_id``, else ``azp``), for the audit record.
        subject: the token's ``sub``, for the audit record.
    """

    system: frozenset[str] = frozenset()
    patient: frozenset[str] = frozenset()
    patient_id: str | None = None
    client_id: str | None = None
    subject: str | None = None

    @classmethod
    def from_claims(cls, claims: dict[str, object]) -> Grant:
        """The grant of a token's ``scope`` (space-separated; a list is accepted too)."""
        raw = claims.get("scope", claims.get("scp"))
        words: list[str] = []
        if isinstance(raw, str):
            words = raw.split()
        elif isinstance(raw, list):
            words = [w for w in raw if isinstance(w, str)]
        letters: dict[str, set[str]] = {"system": set(), "patient": set()}
        for word in words:
            match = _SCOPE.fullmatch(word)
            if match is None or match["type"] not in ("Observation", "*"):
                continue
            if match["context"] in letters:
                letters[match["context"]].update(_permissions(match["perms"]))
        patient = claims.get("patient")
        return cls(
            frozenset(letters["system"]),
            frozenset(letters["patient"]),
            patient if isinstance(patient, str) and patient else None,
            _identity(claims.get("client_id", claims.get("azp"))),
            _identity(claims.get("sub")),
        )

    def allows(self, access: Access, patient_id: str) -> bool:
        """Whether the grant allows ``access`` to the Observations of ``patient_id``."""
        needed = set(access.value)
        if needed <= self.system:
            return True
        return self.patient_id == patient_id and needed <= self.patient
