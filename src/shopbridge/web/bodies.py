"""Request bodies read with a limit: a body past it is refused before it is read whole."""

from __future__ import annotations

from starlette.requests import Request


class TooLarge(Exception):
    """The body is larger than the limit (the message says so, for a 413)."""


async def read_body(request: Request, limit: int) -> bytes:
    """The whole body, if it is at most `limit` bytes; TooLarge as soon as it is known to be
    larger (from Content-Length, or while streaming a body sent without one)."""
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.strip().isdigit() or int(declared) > limit):
        raise TooLarge(f"the body is larger than {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise TooLarge(f"the body is larger than {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)
