"""The tablet's HTTP client: an error answer cut off mid-body is a lost reply, never a crash.

Found by the fault campaign on PostgreSQL (``make chaos``): a 503 whose body
the fault proxy cut raised ``http.client.IncompleteRead`` from inside the
client's ``HTTPError`` handler, past the handlers meant for it, and ended a
``hailong-device run`` process. A raw socket answers here exactly as the
proxy's ``cut`` does: the status line and headers, part of the body, close.
"""

import socket
import threading

import pytest

from device_client import transport


def _answer_cut(status):
    """A one-shot server on 127.0.0.1 that answers ``status`` with a JSON body cut short; returns its URL."""
    listener = socket.create_server(("127.0.0.1", 0))
    body = b'{"error": {"code": "busy", "message": "the database cannot take writes now"}}'

    def serve():
        with listener:
            conn, _ = listener.accept()
            with conn:
                conn.recv(65536)
                conn.sendall(f"HTTP/1.1 {status} Error\r\nContent-Type: application/json\r\n"
                             f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode() + body[:20])

    threading.Thread(target=serve, daemon=True).start()
    return f"http://127.0.0.1:{listener.getsockname()[1]}/api/v1/votes/batch"


@pytest.mark.parametrize("status", [503, 409])
def test_an_error_answer_cut_off_mid_body_is_unreachable_so_the_tablet_retries(status):
    with pytest.raises(transport.Unreachable, match=f"server answered {status}, its answer cut off"):
        transport.call("POST", _answer_cut(status), {"votes": []}, token="t", timeout=5)
