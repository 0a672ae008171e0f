"""The load bench's HTTP client for tablets: one asyncio connection per request, as ``device_client`` makes them.

A real tablet calls the server through ``urllib`` (``device_client/transport.py``):
a new connection for every request, closed after the answer. Hundreds of
tablets are simulated in one asyncio loop in one process, so this is the
smallest client that does the same: it writes the request with
``Connection: close`` and reads the answer to the end of the connection
(decoding a chunked body if the server sends one). The pre-built bodies of the
bench go out as they are; nothing is re-encoded on the way.
"""

import asyncio


class HttpError(Exception):
    """The connection failed or the answer could not be read: the request did not complete."""


async def request(host, port, method, path, body=None, headers=None, timeout=30.0):
    """``(status, body bytes)`` of one request on a connection of its own."""
    try:
        return await asyncio.wait_for(_exchange(host, port, method, path, body, headers or {}), timeout)
    except asyncio.TimeoutError:
        raise HttpError(f"no complete answer within {timeout:g} s") from None
    except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
        raise HttpError(f"{type(exc).__name__}: {exc}") from None


async def _exchange(host, port, method, path, body, headers):
    reader, writer = await asyncio.open_connection(host, port)
    try:
        lines = [f"{method} {path} HTTP/1.1", f"Host: {host}:{port}", "Connection: close",
                 "Accept: application/json"]
        lines += [f"{name}: {value}" for name, value in headers.items()]
        if body is not None:
            lines += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + (body or b""))
        raw = await reader.read()  # the server closes the connection after the answer
    finally:
        writer.close()
    head, sep, rest = raw.partition(b"\r\n\r\n")
    if not sep:
        raise ValueError(f"cut-off answer ({len(raw)} bytes)")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    status = int(status_line.split(" ", 2)[1])
    fields = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in header_lines)}
    if fields.get("transfer-encoding", "").lower() == "chunked":
        rest = _dechunk(rest)
    elif "content-length" in fields and len(rest) != int(fields["content-length"]):
        raise ValueError(f"body of {len(rest)} bytes, Content-Length {fields['content-length']}")
    return status, rest


def _dechunk(data):
    out, at = [], 0
    while True:
        end = data.index(b"\r\n", at)
        size = int(data[at:end].split(b";")[0], 16)
        if size == 0:
            return b"".join(out)
        out.append(data[end + 2:end + 2 + size])
        at = end + 2 + size + 2
