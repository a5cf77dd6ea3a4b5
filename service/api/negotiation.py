"""Content negotiation of the FHIR endpoints: JSON only, and saying so.

The service speaks FHIR JSON only.  XML was tried with fhir.resources (R4B, through
lxml): its XML writer does not keep decimals exact (``1.20`` becomes ``1.2``, ``1``
becomes ``1.0``), which contract section 2 forbids, and its reader fails on unknown
elements or a missing namespace with a ``KeyError`` rather than a validation error,
and cannot read its own output back from text.  So:

- ``_format`` (which overrides ``Accept``) or ``Accept`` asking for nothing JSON: 406;
- a body that is not JSON (``application/fhir+xml`` included): 415 (``read_body``).

Both answers are OperationOutcomes in JSON, the one format the service has.

One exception: the two ``$her2-status`` operations also answer the decision view
(HTML, ``service.api.html``) to a request that prefers ``text/html``.
"""

from __future__ import annotations

from typing import Final

from flask import request

from service.api.errors import ApiError
from service.api.html import HTML_ENDPOINTS, prefers_html, start_html
from service.api.responses import ACCEPTED_TYPES

# FHIR's _format shorthand and the JSON media types (R4 http.html#mime-type).
_FORMAT_JSON: Final = frozenset({"json", *ACCEPTED_TYPES})
_ANY_JSON: Final = frozenset({*ACCEPTED_TYPES, "*/*", "application/*"})


def require_json_answer() -> None:
    """Refuse (406) a request whose ``_format`` or ``Accept`` excludes FHIR JSON.

    Raises:
        ApiError: 406 with an OperationOutcome.
    """
    if request.endpoint in HTML_ENDPOINTS and prefers_html():
        start_html()
        return
    requested = request.args.get("_format")
    if requested is not None:
        # A parameter value may carry "+" decoded as a space (application/fhir json).
        mime = requested.split(";", 1)[0].strip().lower().replace(" ", "+")
        if mime not in _FORMAT_JSON:
            raise ApiError.simple(
                406,
                "not-supported",
                "Only JSON is supported: use _format=json (or leave it out).",
            )
        return
    if not request.accept_mimetypes:
        return  # no Accept (or an empty one): anything will do
    # Media-type parameters (fhirVersion=4.0, charset) do not change the format, but
    # werkzeug's best_match would refuse application/fhir+json;fhirVersion=4.0.
    for value, quality in request.accept_mimetypes:
        mime = value.split(";", 1)[0].strip().lower()
        if quality > 0 and mime in _ANY_JSON:
            return
    raise ApiError.simple(
        406,
        "not-supported",
        "Only application/fhir+json is supported; XML is not (see the README).",
    )
