"""Texts other libraries put on our pages, marked here so the catalogs carry their translations.

marshmallow's own field messages and Flask-WTF's CSRF failures are English
texts those libraries choose; ``server.web.translate`` looks them up in the
catalog like ours. Messages with numbers in them (``Length must be between 1
and 200.``) cannot be looked up, so our schemas give those validators fixed
``error=`` texts instead (server/api/admin/schemas.py).
tests/test_admin_catalogs.py checks that each text here is still the
library's exact wording.
"""

from server.errors import N_

# (class, error key) → marshmallow's message, for the fields our forms load.
MARSHMALLOW = {
    ("Field", "required"): N_("Missing data for required field."),
    ("Field", "null"): N_("Field may not be null."),
    ("Field", "validator_failed"): N_("Invalid value."),
    ("String", "invalid"): N_("Not a valid string."),
    ("String", "invalid_utf8"): N_("Not a valid utf-8 string."),
    ("Integer", "invalid"): N_("Not a valid integer."),
    ("Boolean", "invalid"): N_("Not a valid boolean."),
    ("List", "invalid"): N_("Not a valid list."),
    ("Nested", "type"): N_("Invalid type."),
    ("Dict", "invalid"): N_("Not a valid mapping type."),
    ("Schema", "type"): N_("Invalid input type."),
    ("Schema", "unknown"): N_("Unknown field."),
    ("Regexp", "default_message"): N_("String does not match expected pattern."),
}

# Flask-WTF's reasons for refusing a form (an expired session, a stale tab).
CSRF = (
    N_("The CSRF token is missing."),
    N_("The CSRF token has expired."),
    N_("The CSRF token is invalid."),
    N_("The CSRF session token is missing."),
    N_("The CSRF tokens do not match."),
    N_("The referrer header is missing."),
    N_("The referrer does not match the host."),
)
