"""A small JSON-over-HTTP client on the standard library (no requests on tablets)."""

import http.client
import json
import ssl
import urllib.error
import urllib.request


class Unreachable(Exception):
    """The server could not be reached or its answer was cut off: safe to retry."""


# What a tablet says when it does not trust the server's certificate: on a
# province's closed network that is usually a private CA nobody told it about.
UNTRUSTED_HINT = ("the tablet does not trust the server's certificate; if it comes from the province's own"
                  " certificate authority, give the tablet that CA (SSL_CERT_FILE, docs/operations.md)")


def _unreachable(exc):
    """``Unreachable`` for a failed connection, saying so when the certificate was the cause."""
    reason = getattr(exc, "reason", exc)
    if isinstance(reason, ssl.SSLCertVerificationError):
        return Unreachable(f"{reason}: {UNTRUSTED_HINT}")
    return Unreachable(str(reason))


class ServerError(Exception):
    """The server answered with an error (JSON error shape)."""

    def __init__(self, status, body, retry_after=None):
        error = (body or {}).get("error", {}) if isinstance(body, dict) else {}
        super().__init__(f"{status} {error.get('code', '')}: {error.get('message', '')}".strip())
        self.status = status
        self.code = error.get("code")
        self.message = error.get("message", "")
        self.fields = error.get("fields", {})
        self.retry_after = retry_after


def call(method, url, body=None, token=None, timeout=15.0):
    """Send a JSON request; return the decoded JSON answer of a 2xx response."""
    data = None if body is None else json.dumps(body, ensure_ascii=False).encode("utf-8")
    request = urllib.request.Request(url, data=data, method=method)
    request.add_header("Accept", "application/json")
    if data is not None:
        request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            raw = response.read()
            return json.loads(raw)
    except urllib.error.HTTPError as exc:
        try:
            payload = json.loads(exc.read())
        except http.client.HTTPException as cut:
            # The error's answer was cut off mid-body (IncompleteRead): a lost reply like any other, whatever
            # its status said. Raised from this handler it would escape the ones below and end the sync loop.
            raise Unreachable(f"server answered {exc.code}, its answer cut off ({type(cut).__name__})") from None
        except (ValueError, OSError):
            payload = None
        retry_after = exc.headers.get("Retry-After") if exc.headers else None
        if exc.code >= 500 and payload is None:
            raise Unreachable(f"server answered {exc.code}") from None
        raise ServerError(exc.code, payload, _seconds(retry_after)) from None
    except (urllib.error.URLError, OSError, ValueError) as exc:
        # ValueError: a body cut off mid-way is not JSON; treat like a lost reply.
        raise _unreachable(exc) from None
    except Exception as exc:  # http.client.IncompleteRead, RemoteDisconnected, ...
        raise Unreachable(f"{type(exc).__name__}: {exc}") from None


def _seconds(value):
    try:
        return max(0.0, float(value))
    except (TypeError, ValueError):
        return None


def fetch(url, token=None, timeout=15.0):
    """GET raw bytes (a staff photo); same errors as ``call``."""
    request = urllib.request.Request(url, method="GET")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.read()
    except urllib.error.HTTPError as exc:
        raise ServerError(exc.code, None) from None
    except Exception as exc:
        raise _unreachable(exc) from None
