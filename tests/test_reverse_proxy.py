"""The documented nginx configuration, for real, in front of a real ``hailong serve``.

nginx is Debian's (installed when missing, ``tests/debian_packages.py``) and
runs ``docs/examples/nginx-hailong.conf`` itself, with only its name, paths and
ports replaced, so the file an operator copies cannot drift from one that
works. The certificate comes from a private CA made here with ``openssl``, as
on a province's closed network: a tablet told about that CA (``SSL_CERT_FILE``,
as docs/operations.md says) enrolls and syncs through the proxy; one that is
not told refuses the server. A person signs in over HTTPS and keeps the Secure
session cookie; the server throttles and audits the browser's own address
(``TRUSTED_PROXIES = 1``), not the proxy's and not one the browser wrote itself.

Browsers here are loopback addresses other than 127.0.0.1 (every 127.x.y.z
is this machine): nginx connects to gunicorn from 127.0.0.1, so an address
the server records could only have come through X-Forwarded-For.
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

SITE = pathlib.Path(__file__).parent.parent / "docs" / "examples" / "nginx-hailong.conf"
NAME = "localhost"  # the certificate's name: it resolves here without touching /etc/hosts
BROWSER, FORGER, OTHER = "127.0.0.5", "127.0.0.6", "127.0.0.7"


def site_config(folder, https_port, http_port, upstream_port):
    """docs/examples/nginx-hailong.conf with this test's name, paths and ports; each must be found."""
    text = SITE.read_text(encoding="utf-8")
    for documented, here in (
        ("listen 443 ssl;", f"listen 127.0.0.1:{https_port} ssl;"),
        ("listen 80;", f"listen 127.0.0.1:{http_port};"),
        ("server 127.0.0.1:8000;", f"server 127.0.0.1:{upstream_port};"),
        ("hailong.example.gov.vn", NAME),
        ("/etc/ssl/hailong/", f"{folder}/"),
    ):
        assert documented in text, f"{SITE.name} no longer says {documented!r}: update this test and the docs"
        text = text.replace(documented, here)
    return text


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
def proxied(tmp_path_factory):
    """A real server with TRUSTED_PROXIES = 1 behind the documented nginx site, over HTTPS."""
    nginx = debian_packages.ensure("nginx", "nginx", paths=("/usr/sbin/nginx",))
    folder = tmp_path_factory.mktemp("proxy")
    ca = make_certificates(folder)
    database = folder / "hailong.db"
    db = storage.connect(database)
    migrations.apply(db)
    for username in ("admin", "admin2"):
        create_user(db, username, "admin", None)
    db.close()
    seed_org(database, folder)
    https_port, http_port = processes.free_port(), processes.free_port()
    public = f"https://{NAME}:{https_port}"
    server = processes.Server(database, log_path=folder / "serve.log", settings={
        "INSTANCE": folder, "TRUSTED_PROXIES": 1, "PUBLIC_URL": public, "LOGIN_MAX_FAILURES_PER_ADDRESS": 2,
    }).start()
    (folder / "hailong.conf").write_text(site_config(folder, https_port, http_port, server.port))
    (folder / "nginx.conf").write_text(nginx_config(folder, folder / "hailong.conf"))
    proxy = processes.Process("nginx", [nginx, "-e", folder / "error.log", "-p", folder, "-c", folder / "nginx.conf"],
                              log_path=folder / "nginx.out", port=http_port, ready=listening(https_port))
    try:
        proxy.start()
        yield types.SimpleNamespace(server=server, proxy=proxy, folder=folder, ca=ca, url=public,
                                    https_port=https_port, http_port=http_port, database=database,
                                    tls=ssl.create_default_context(cafile=str(ca)))
    finally:
        proxy.stop()
        server.stop()


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
    status, answer = sign_in(proxied, BROWSER, "admin", PASSWORD)
    assert status == 302, "sign-in through the proxy failed"
    cookie = answer["Set-Cookie"]
    assert cookie.startswith("hailong_session=") and "; Secure" in cookie and "; HttpOnly" in cookie
    status, headers, page = browse(proxied, "GET", "/account", BROWSER, cookie=cookie.split(";")[0])
    assert status == 200 and "admin" in page
    # The server knows it was reached over HTTPS (X-Forwarded-Proto), so it asks browsers to stay there.
    assert headers["Strict-Transport-Security"].startswith("max-age=")


def test_plain_http_sends_browsers_to_https_and_metrics_stay_inside(proxied):
    conn = http.client.HTTPConnection(processes.HOST, proxied.http_port, timeout=10)
    conn.request("GET", "/login?next=/units", headers={"Host": NAME})
    response = conn.getresponse()
    assert (response.status, response.headers["Location"]) == (301, f"https://{NAME}/login?next=/units")
    conn.close()
    assert browse(proxied, "GET", "/metrics", BROWSER)[0] == 403


def test_the_server_throttles_and_audits_the_browsers_own_address(proxied):
    # A browser that writes its own X-Forwarded-For gains nothing: nginx replaces it.
    forged = {"X-Forwarded-For": "203.0.113.9"}
    assert sign_in(proxied, FORGER, "admin2", "wrong password", forged)[0] == 401
    assert sign_in(proxied, FORGER, "admin2", "wrong password", forged)[0] == 401
    assert sign_in(proxied, FORGER, "admin2", PASSWORD, forged)[0] == 429  # LOGIN_MAX_FAILURES_PER_ADDRESS = 2
    # Everyone comes through the same proxy, yet another browser is not locked out with it.
    assert sign_in(proxied, OTHER, "admin2", PASSWORD)[0] == 302
    audit = rows(proxied, "SELECT action, address FROM audit_log WHERE object_id = 'admin2' AND action LIKE 'login%'"
                          " ORDER BY id")
    assert audit == [("login_failed", FORGER), ("login_failed", FORGER), ("login", OTHER)]
