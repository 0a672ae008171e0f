"""Security headers on every answer of the server: pages, admin API, device API, errors alike.

The pages load their styles, script and icon from this server and nothing
else, and run no inline script (a confirmation question is a ``data-confirm``
attribute read by ``static/confirm.js``), so the policy can forbid everything
that is not ours. Answers that set a header themselves keep it (the
enrollment link's page sends no referrer at all; static files and photos say
how long they may be cached).
"""

from flask import request

CONTENT_SECURITY_POLICY = "; ".join([
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self'",
    "connect-src 'self'",
    "font-src 'self'",
    "form-action 'self'",
    "base-uri 'none'",
    "frame-ancestors 'none'",
])
# A year, the usual value; no includeSubDomains: the server does not know
# what else runs under its domain.
HSTS = "max-age=31536000"
HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    # For browsers that do not know frame-ancestors yet.
    "X-Frame-Options": "DENY",
    # Not no-referrer: over HTTPS Flask-WTF refuses a form whose Referer is
    # missing, so the pages' own forms must send it (only to this site).
    "Referrer-Policy": "same-origin",
}


def secure(response):
    for name, value in HEADERS.items():
        response.headers.setdefault(name, value)
    # Signed-in pages, API answers (a new token, an enrollment's device token)
    # and everything else made per request: never kept by a browser or proxy.
    # Static files and photos set their own Cache-Control and keep it.
    if "Cache-Control" not in response.headers:
        response.headers["Cache-Control"] = "no-store"
    # request.is_secure honours the proxy's X-Forwarded-Proto once the
    # server trusts that proxy (TRUSTED_PROXIES).
    if request.is_secure:
        response.headers["Strict-Transport-Security"] = HSTS
    return response


def init_app(app):
    app.after_request(secure)
