"""The documented reverse proxies, for real, in front of a real ``hailong serve``.

nginx and Caddy are Debian's (installed when missing, ``tests/debian_packages.py``)
and run ``docs/examples/nginx-hailong.conf`` and ``docs/examples/Caddyfile``
themselves, with only their name, paths and ports replaced (and the Caddyfile's
line for a certificate of one's own taken in), so the files an operator
copies cannot drift from ones that work. The certificate comes from a private
CA made here with ``openssl``, as on a province's closed network: a tablet told about that CA (``SSL_CERT_FILE``,
as docs/operations.md says) enrolls and syncs through the proxy; one that is
not told refuses the server. A person signs in over HTTPS and keeps the Secure
session cookie; the server throttles and audits the browser's own address
(``TRUSTED_PROXIES = 1``), not the proxy's and not one the browser wrote itself.

Browsers here are loopback addresses other than 127.0.0.1 (every 127.x.y.z
is this machine): the proxy connects to gunicorn from 127.0.0.1, so an
address the server records could only have come through X-Forwarded-For.
One server stands behind both proxies (PUBLIC_URL unset: the enrollment
links are not what is tested here).
"""

import http.client
import json
import os
import pathlib
import re
import socket
import ssl
import subprocess
import types
import urllib.parse

import pytest

from devtools import processes
from migrations import migrations
from server import storage
from tests import debian_packages
from tests.live import BIN, issue_code, seed_org
from tests.people import PASSWORD, create_user

EXAMPLES = pathlib.Path(__file__).parent.parent / "docs" / "examples"
NAME = "localhost"  # the certificate's name: it resolves here without touching /etc/hosts


def filled_in(name, replacements):
    """docs/examples/``name`` with this test's values; each documented one must be found."""
    text = (EXAMPLES / name).read_text(encoding="utf-8")
    for documented, here in replacements:
        assert documented in text, f"{name} no longer says {documented!r}: update this test and the docs"
        text = text.replace(documented, here)
    return text


def nginx(folder, https_port, http_port, upstream_port):
    """nginx running the documented site, every file of its own in ``folder``."""
    program = debian_packages.ensure("nginx", "nginx", paths=("/usr/sbin/nginx",), service="nginx")
    (folder / "hailong.conf").write_text(filled_in("nginx-hailong.conf", (
        ("listen 443 ssl;", f"listen 127.0.0.1:{https_port} ssl;"),
        ("listen 80;", f"listen 127.0.0.1:{http_port};"),
        ("server 127.0.0.1:8000;", f"server 127.0.0.1:{upstream_port};"),
        ("hailong.example.gov.vn", NAME),
        ("/etc/ssl/hailong/", f"{folder}/"),
    )))
    (folder / "nginx.conf").write_text(nginx_config(folder, folder / "hailong.conf"))
    return [program, "-e", folder / "error.log", "-p", folder, "-c", folder / "nginx.conf"], {}


def caddy(folder, https_port, http_port, upstream_port):
    """Caddy running the documented Caddyfile with the province's own certificate, on this test's ports."""
    program = debian_packages.ensure("caddy", "caddy", service="caddy")
    (folder / "site.caddy").write_text(filled_in("Caddyfile", (
        ("# tls /etc/ssl/hailong/fullchain.pem /etc/ssl/hailong/privkey.pem",
         f"tls {folder}/fullchain.pem {folder}/privkey.pem"),
        ("127.0.0.1:8000", f"127.0.0.1:{upstream_port}"),
        ("hailong.example.gov.vn", NAME),
    )))
    # Global options only: the ports and where Caddy keeps its state, no admin endpoint to collide on.
    (folder / "Caddyfile").write_text(f"""{{
\tadmin off
\thttp_port {http_port}
\thttps_port {https_port}
\tdefault_bind 127.0.0.1
\tstorage file_system {folder}/caddy-data
\tskip_install_trust
}}
import {folder}/site.caddy
""")
    env = {"HOME": folder, "XDG_DATA_HOME": folder / "data", "XDG_CONFIG_HOME": folder / "config"}
    return [program, "run", "--adapter", "caddyfile", "--config", folder / "Caddyfile"], env


def nginx_config(folder, site):
    """The main nginx.conf around the site, as Debian's is, but with every file in ``folder``."""
    temp = "\n".join(f"    {kind}_temp_path {folder}/{kind};" for kind in ("client_body", "proxy", "fastcgi",
                                                                           "uwsgi", "scgi"))
    user = "user root root;" if os.geteuid() == 0 else ""  # the workers write temp files in a 0700 folder
    return f"""daemon off;
{user}
pid {folder}/nginx.pid;
error_log {folder}/error.log warn;
worker_processes 1;
events {{ worker_connections 64; }}
http {{
    access_log {folder}/access.log;
{temp}
    include {site};
}}
"""


def make_certificates(folder):
    """A private CA (ca.pem) and, signed by it, the server's certificate for NAME and 127.0.0.1."""
    def openssl(*args):
        subprocess.run(["openssl", *args], check=True, capture_output=True, cwd=folder)

    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
    openssl("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
            "-subj", "/CN=hailong test CA", "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    openssl("req", *ec, "-keyout", "privkey.pem", "-out", "server.csr", "-subj", f"/CN={NAME}")
    (folder / "server.ext").write_text(
        f"subjectAltName=DNS:{NAME},IP:127.0.0.1\nbasicConstraints=critical,CA:FALSE\n"
        "keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n"
        "subjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n")
    openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
            "-days", "2", "-extfile", "server.ext", "-out", "fullchain.pem")
    return folder / "ca.pem"


def listening(port):
    def check(process):
        try:
            socket.create_connection((processes.HOST, port), timeout=1).close()
            return True
        except OSError:
            return False

    check.waiting_for = f"listen on port {port}"
    return check


@pytest.fixture(scope="module")
def backend(tmp_path_factory):
    """One real server with TRUSTED_PROXIES = 1 for both proxies, and its private CA's certificates."""
    folder = tmp_path_factory.mktemp("backend")
    ca = make_certificates(folder)
    database = folder / "hailong.db"
    db = storage.connect(database)
    migrations.apply(db)
    for username in ("admin", "nginx", "caddy"):  # one account per proxy for the throttle's count
        create_user(db, username, "admin", None)
    db.close()
    seed_org(database, folder)
    https_ports = {proxy: processes.free_port() for proxy in ("nginx", "caddy")}
    server = processes.Server(database, log_path=folder / "serve.log", settings={
        "INSTANCE": folder, "TRUSTED_PROXIES": 1, "LOGIN_MAX_FAILURES_PER_ADDRESS": 2,
    }).start()
    yield types.SimpleNamespace(server=server, folder=folder, ca=ca, database=database, https_ports=https_ports)
    server.stop()


@pytest.fixture(scope="module", params=[nginx, caddy], ids=["nginx", "caddy"])
def proxied(request, backend):
    """The documented proxy in front of the backend, over HTTPS; each proxy's browsers have addresses of their own."""
    name = request.param.__name__
    https_port, http_port = backend.https_ports[name], processes.free_port()
    argv, env = request.param(backend.folder, https_port, http_port, backend.server.port)
    proxy = processes.Process(name, argv, env=env, log_path=backend.folder / f"{name}.log", port=http_port,
                              ready=listening(https_port))
    net = {"nginx": "127.0.1", "caddy": "127.0.2"}[name]
    with proxy:
        yield types.SimpleNamespace(**vars(backend), proxy=proxy, name=name, url=f"https://{NAME}:{https_port}",
                                    https_port=https_port, http_port=http_port,
                                    browser=f"{net}.5", forger=f"{net}.6", other=f"{net}.7",
                                    tls=ssl.create_default_context(cafile=str(backend.ca)))


def browse(proxied, method, path, source, form=None, cookie=None, headers=()):
    """One request from a browser at ``source`` through nginx; ``(status, headers, text)``."""
    conn = http.client.HTTPSConnection(NAME, proxied.https_port, context=proxied.tls, timeout=10,
                                       source_address=(source, 0))
    sent = {"Accept-Language": "en", "Referer": f"{proxied.url}/login", **dict(headers)}
    body = None
    if cookie:
        sent["Cookie"] = cookie
    if form is not None:
        body = urllib.parse.urlencode(form)
        sent["Content-Type"] = "application/x-www-form-urlencoded"
    try:
        conn.request(method, path, body=body, headers=sent)
        response = conn.getresponse()
        return response.status, response.headers, response.read().decode("utf-8", "replace")
    finally:
        conn.close()


def sign_in(proxied, source, username, password, headers=()):
    """The sign-in form as a browser fills it: its page, its CSRF token and cookie; ``(status, headers)``."""
    _, got, page = browse(proxied, "GET", "/login", source, headers=headers)
    cookie = got["Set-Cookie"].split(";")[0]
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    status, answer, _ = browse(proxied, "POST", "/login", source, cookie=cookie, headers=headers,
                               form={"username": username, "password": password, "csrf_token": token})
    return status, answer


def device(proxied, data_dir, *args, ca=True):
    """``hailong-device`` as the tablet runs it, told about the private CA (or not)."""
    env = {k: v for k, v in os.environ.items() if k not in ("SSL_CERT_FILE", "SSL_CERT_DIR")}
    if ca:
        env["SSL_CERT_FILE"] = str(proxied.ca)
    return subprocess.run([os.path.join(BIN, "hailong-device"), "--data-dir", str(data_dir), *args],
                          capture_output=True, text=True, env=env, timeout=60)


def rows(proxied, sql, *params):
    db = storage.connect(proxied.database)
    try:
        return [tuple(row) for row in db.execute(sql, params).fetchall()]
    finally:
        db.close()


def test_a_tablet_told_about_the_private_ca_enrolls_and_syncs_over_https(proxied, tmp_path):
    code = issue_code(proxied.database)
    refused = device(proxied, tmp_path / "untold", "enroll", "--server", proxied.url, "--code", code, ca=False)
    assert refused.returncode == 1 and "CERTIFICATE_VERIFY_FAILED" in refused.stderr
    assert "SSL_CERT_FILE" in refused.stderr and not (tmp_path / "untold" / "identity.json").exists()

    tablet = tmp_path / "tablet"
    enrolled = device(proxied, tablet, "enroll", "--server", proxied.url, "--code", code)
    assert enrolled.returncode == 0, enrolled.stderr
    assert device(proxied, tablet, "vote", "--staff", "NV001", "--rating", "4").returncode == 0
    synced = device(proxied, tablet, "sync")
    assert synced.returncode == 0, synced.stderr
    status = json.loads(device(proxied, tablet, "status", "--json").stdout)
    assert (status["server"], status["queue_depth"], status["ack_seq"]) == (proxied.url, 0, 1)
    assert rows(proxied, "SELECT seq, rating FROM votes WHERE device_id = ?", status["device_id"]) == [(1, 4)]


def test_a_person_signs_in_over_https_and_keeps_the_secure_session_cookie(proxied):
    status, answer = sign_in(proxied, proxied.browser, "admin", PASSWORD)
    assert status == 302, "sign-in through the proxy failed"
    cookie = answer["Set-Cookie"]
    assert cookie.startswith("hailong_session=") and "; Secure" in cookie and "; HttpOnly" in cookie
    status, headers, page = browse(proxied, "GET", "/account", proxied.browser, cookie=cookie.split(";")[0])
    assert status == 200 and "admin" in page
    # The server knows it was reached over HTTPS (X-Forwarded-Proto), so it asks browsers to stay there.
    assert headers["Strict-Transport-Security"].startswith("max-age=")


def test_plain_http_sends_browsers_to_https_and_metrics_stay_inside(proxied):
    conn = http.client.HTTPConnection(processes.HOST, proxied.http_port, timeout=10)
    conn.request("GET", "/login?next=/units", headers={"Host": NAME})
    response = conn.getresponse()
    location = response.headers["Location"]
    assert response.status in (301, 308) and location.startswith(f"https://{NAME}") and location.endswith(
        "/login?next=/units"), (response.status, location)
    conn.close()
    assert browse(proxied, "GET", "/metrics", proxied.browser)[0] == 403


def test_the_server_throttles_and_audits_the_browsers_own_address(proxied):
    # A browser that writes its own X-Forwarded-For gains nothing: the proxy replaces it.
    forger, forged, user = proxied.forger, {"X-Forwarded-For": "203.0.113.9"}, proxied.name
    assert sign_in(proxied, forger, user, "wrong password", forged)[0] == 401
    assert sign_in(proxied, forger, user, "wrong password", forged)[0] == 401
    assert sign_in(proxied, forger, user, PASSWORD, forged)[0] == 429  # LOGIN_MAX_FAILURES_PER_ADDRESS = 2
    # Everyone comes through the same proxy, yet another browser is not locked out with it.
    assert sign_in(proxied, proxied.other, user, PASSWORD)[0] == 302
    audit = rows(proxied, "SELECT action, address FROM audit_log WHERE object_id = ? AND action LIKE 'login%'"
                          " ORDER BY id", user)
    assert audit == [("login_failed", forger), ("login_failed", forger), ("login", proxied.other)]
