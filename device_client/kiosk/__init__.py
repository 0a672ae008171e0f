"""The counter kiosk: the page citizens tap, served by the tablet itself on 127.0.0.1.

``create_app`` builds a small Flask app over one ``Tablet`` (its own SQLite
connection); ``KioskServer`` runs it in a thread of ``hailong-device run``, so
the page works with no network and every vote goes through
``Tablet.record_vote``, committed before the page says "thank you".
"""

import socket
import sys
import threading

from flask import Flask, request
from flask_babel import Babel
from werkzeug.serving import WSGIRequestHandler, make_server

LANGUAGES = ("vi", "en")
LOCAL_HOSTS = ("127.0.0.1", "localhost")
# The page, its script, styles, fonts and photos all come from the tablet;
# its script is one file (data it needs sits in JSON <script> blocks, which
# never run). Anything else is refused, and no other page may frame it.
CONTENT_SECURITY_POLICY = "; ".join([
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self'",
    "font-src 'self'",
    "connect-src 'self'",
    "form-action 'self'",
    "base-uri 'none'",
    "frame-ancestors 'none'",
])
HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}


def select_locale():
    lang = request.args.get("lang")
    return lang if lang in LANGUAGES else "vi"


def create_app(data_dir, test_config=None):
    from device_client.kiosk import views
    from device_client.kiosk.service import Kiosk

    app = Flask(__name__)
    # The page sends a few hundred bytes at most; a larger body is refused (413) unread.
    app.config.from_mapping(BABEL_DEFAULT_LOCALE="vi", SEND_FILE_MAX_AGE_DEFAULT=3600, MAX_CONTENT_LENGTH=16 * 1024)
    app.config.from_mapping(test_config or {})
    app.json.ensure_ascii = False
    Babel(app, locale_selector=select_locale)
    app.extensions["kiosk"] = Kiosk(data_dir)

    @app.before_request
    def only_local_names():
        # Bound to 127.0.0.1 already; refusing other Host names also stops
        # DNS-rebinding pages from driving the kiosk from a browser.
        if request.host.rsplit(":", 1)[0] not in LOCAL_HOSTS:
            return _refuse(403, "forbidden", "Local use only.")
        return None

    @app.before_request
    def only_json_from_the_page_itself():
        """Every POST is JSON from the kiosk's own page.

        Any page open in the tablet's browser can send a form or a
        ``text/plain`` POST to 127.0.0.1 without asking (no CORS preflight);
        JSON from another origin needs a preflight the kiosk never grants. The
        browser also says where a request comes from (``Origin``,
        ``Sec-Fetch-Site``): when it does, it must be this page. Clients
        outside a browser (the bench, tests) send neither.
        """
        if request.method in ("GET", "HEAD", "OPTIONS"):
            return None
        if request.mimetype != "application/json":
            return _refuse(415, "unsupported_media_type", "Send the body as application/json.")
        origin = request.headers.get("Origin")
        site = request.headers.get("Sec-Fetch-Site")
        if (origin is not None and origin != request.host_url.rstrip("/")) or site not in (None, "same-origin"):
            return _refuse(403, "cross_origin", "Only the kiosk page may send this.")
        return None

    @app.after_request
    def secure(response):
        for name, value in HEADERS.items():
            response.headers.setdefault(name, value)
        # Who is signed in, the queue: never kept. Static files and photos set their own.
        if "Cache-Control" not in response.headers:
            response.headers["Cache-Control"] = "no-store"
        return response

    app.register_blueprint(views.bp)
    return app


def _refuse(status, code, message):
    return {"error": {"code": code, "message": message, "fields": {}}}, status


class _Handler(WSGIRequestHandler):
    # Headers and body go out in separate writes; with Nagle's algorithm the
    # body waits for the browser's delayed ACK, which costs the tap ~10 ms.
    disable_nagle_algorithm = True

    def log_request(self, *args, **kwargs):
        pass  # a line per poll would bury the sync loop's log


class KioskServer:
    """The kiosk app on a werkzeug server thread; ``stop`` shuts it down cleanly."""

    def __init__(self, data_dir, port=8765, host="127.0.0.1"):
        self.app = create_app(data_dir)
        # Bind here, so a busy port is an OSError the caller handles (werkzeug
        # itself would print and exit the whole process, sync loop included).
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            if sys.platform != "win32":  # on Windows it would let two servers share the port
                listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            listener.bind((host, port))
            listener.listen(64)
            self.server = make_server(
                host, port, self.app, threaded=True, request_handler=_Handler, fd=listener.fileno()
            )
        finally:
            listener.close()  # werkzeug holds its own duplicate of the socket
        self.url = f"http://{host}:{self.server.socket.getsockname()[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, name="kiosk", daemon=True)

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        self.server.shutdown()
        self.thread.join(timeout=5)
        self.app.extensions["kiosk"].close()
