"""A stand-in for the server's device API, for what the real server cannot be made to do.

It answers the calls of docs/protocol.md a tablet makes (configuration,
heartbeat, batches) on 127.0.0.1, with a configuration a test chooses (a
``heartbeat_seconds`` the real server does not send yet, or a failing
configuration next to working batches), and records what the tablet sent.
"""

import http.server
import json
import threading
import time

from device_client import protocol

CONFIG = {
    "device_id": "dev-stub0001",
    "counter": {"code": "DN-TT-Q1", "name": "Quầy 1"},
    "unit": {"code": "DN-TT", "name": "Trung tâm", "path": []},
    "staff": [{"code": "NV001", "full_name": "Nguyễn Thị Hồng Nhung", "title": "Chuyên viên"}],
    "scale": {"version": 1, "levels": [{"value": 4, "label_vi": "Rất hài lòng", "label_en": "Very satisfied",
                                        "negative": False}], "reasons": []},
    "config_version": "stub",
}


class DeviceApi:
    def __init__(self, heartbeat_seconds=None, config_fails=False):
        self.config = dict(CONFIG)
        if heartbeat_seconds is not None:
            self.config["heartbeat_seconds"] = heartbeat_seconds
        self.config_fails = config_fails
        self.heartbeats, self.batches = [], []
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def identity(self):
        """An ``identity.json`` record for a tablet of this server."""
        return {"server": self.url, "device_id": CONFIG["device_id"], "token": "t", "counter": "DN-TT-Q1"}

    def close(self):
        self.server.shutdown()
        self.server.server_close()

    def _handler(self):
        api = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def answer(self, body, status=200):
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                if api.config_fails:
                    self.answer({"error": {"code": "internal_error", "message": "Server fault.", "fields": {}}}, 500)
                else:
                    self.answer({**api.config, "server_time": protocol.format_utc()})

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                if self.path.endswith("/heartbeat"):
                    api.heartbeats.append(time.monotonic())
                    self.answer({"server_time": protocol.format_utc(), "ack_seq": 0})
                    return
                items = body.get("votes", body.get("events", []))
                api.batches.append((self.path, items))
                results = [{"index": i, "id": item["id"], "seq": item["seq"], "status": "accepted"}
                           for i, item in enumerate(items)]
                self.answer({"server_time": protocol.format_utc(), "ack_seq": max(i["seq"] for i in items),
                             "results": results})

            def log_message(self, *args):
                pass

        return Handler
