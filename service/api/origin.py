"""The view's cross-site check: a form post must come from the service's own pages."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import request

from service.api.errors import ApiError
from service.api.logs import note


def same_origin() -> None:
    """Refuse (403) a form post that a browser says comes from another origin.

    Raises:
        ApiError: 403 when ``Origin`` (or, without it, ``Referer``) names another host.
    """
    origin = request.headers.get("Origin") or request.headers.get("Referer")
    if origin is None:
        return  # not a browser's cross-site post (browsers send Origin on every POST)
    parts = urlsplit(origin)
    # An opaque origin ("null": a sandboxed frame, a data: page) is another origin too.
    if origin == "null" or f"{parts.scheme}://{parts.netloc}" != request.host_url.rstrip("/"):
        note(view="cross-origin")
        raise ApiError.simple(403, "forbidden", "Cross-site form posts are not accepted.")


__all__ = ["same_origin"]
