"""Reading a request body within the size limit, so that every client can read the 413.

A body announced larger than the limit (``Content-Length``) is refused before it
is read; a body without ``Content-Length`` (chunked) is counted while it is read
and refused as soon as it passes the limit.  Either way a bounded amount (up to
``DRAIN_FACTOR`` times the limit) is read and discarded before answering:
clients that send the whole body before reading the answer (Python's ``urllib``)
would otherwise see the connection reset instead of the 413, because closing a
socket with unread data makes the kernel send a reset.
"""

from __future__ import annotations

from typing import IO

from flask import request
from werkzeug.exceptions import RequestEntityTooLarge

DRAIN_FACTOR = 2
_CHUNK = 64 * 1024


def _drain(stream: IO[bytes], budget: int) -> None:
    while budget > 0:
        chunk = stream.read(min(_CHUNK, budget))
        if not chunk:
            return
        budget -= len(chunk)


def _read_up_to(stream: IO[bytes], most: int) -> bytes:
    """Read until end of body or ``most`` bytes, whichever comes first."""
    parts: list[bytes] = []
    total = 0
    while total < most:
        chunk = stream.read(min(_CHUNK, most - total))
        if not chunk:
            break
        parts.append(chunk)
        total += len(chunk)
    return b"".join(parts)


def read_limited(limit: int) -> bytes:
    """The request body, at most ``limit`` bytes.

    Raises:
        RequestEntityTooLarge: when the body is larger (after draining a bounded
            part of it, so that the client reads the answer).
    """
    stream: IO[bytes] = request.environ["wsgi.input"]
    length = request.content_length
    if length is not None:
        if length > limit:
            _drain(stream, min(length, DRAIN_FACTOR * limit))
            raise RequestEntityTooLarge()
        return _read_up_to(stream, length)
    if not request.environ.get("wsgi.input_terminated"):
        # No length and a server that does not end the stream: no body can be read safely.
        return b""
    body = _read_up_to(stream, limit + 1)
    if len(body) > limit:
        _drain(stream, DRAIN_FACTOR * limit - len(body))
        raise RequestEntityTooLarge()
    return body


__all__ = ["DRAIN_FACTOR", "read_limited"]
