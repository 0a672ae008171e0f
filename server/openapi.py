"""``/api/openapi.json`` (OpenAPI 3, built by apispec from the marshmallow schemas) and ``/api/docs``.

The admin views carry ``@doc`` facts (server/api/admin/__init__.py); this
module walks the URL map, so a new endpoint shows up without editing here.
The docs page is rendered on the server from the same document: no CDN, no
JavaScript. It is in English, page chrome included, whatever the visitor's
language: the API, its field names and every text in the document are
English, and half-translated chrome around them read as two languages.
"""

import json
import re

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from flask import Blueprint, current_app, render_template
from flask_babel import force_locale
from markupsafe import Markup, escape
from marshmallow import validate

from device_client.protocol import INT64_MAX, INT64_MIN
from server.schemas import Integer, Text
from server.version import __version__

bp = Blueprint("openapi", __name__)

ERROR_SCHEMA = {
    "type": "object",
    "properties": {
        "error": {
            "type": "object",
            "properties": {
                "code": {"type": "string"},
                "message": {"type": "string"},
                "fields": {"type": "object", "additionalProperties": {"type": "array", "items": {"type": "string"}}},
            },
            "required": ["code", "message", "fields"],
        }
    },
}


# Path parameters as their URL converters take them (server/api/errors.py): anything else is a 404.
CONVERTER_SCHEMAS = {
    "Int64Converter": {"type": "integer", "minimum": 0, "maximum": INT64_MAX},
    "DateConverter": {"type": "string", "format": "date"},
}
# What every Text field refuses (server/schemas.py, the protocol's NO_CONTROL), as a JSON Schema pattern
# (ECMAScript: no \\Z; lone surrogates cannot reach a field, the JSON reader refuses them first).
TEXT_PATTERN = "^[^\\u0000-\\u001f\\u007f-\\u009f\\u202a-\\u202e\\u2066-\\u2069]*$"


def _field_limits(self, field, **kwargs):
    """apispec's properties for our own field types: the rules they add beyond their validators."""
    if isinstance(field, Text) and not any(isinstance(v, validate.Regexp) for v in field.validators):
        return {"pattern": TEXT_PATTERN}
    if isinstance(field, Integer):
        ranges = [v for v in field.validators if isinstance(v, validate.Range)]
        limits = {}
        if not any(v.min is not None for v in ranges):
            limits["minimum"] = INT64_MIN
        if not any(v.max is not None for v in ranges):
            limits["maximum"] = INT64_MAX
        return limits
    return {}


# Who may call: a person (a personal API token, or the browser session), an enrolled tablet, or anyone.
SECURITY = {"person": [{"token": []}, {"session": []}], "device": [{"device": []}], None: []}


def _schema_name(schema):
    name = schema.__name__ if isinstance(schema, type) else type(schema).__name__
    return name[:-6] if name.endswith("Schema") else name


def build_spec(app):
    plugin = MarshmallowPlugin(schema_name_resolver=_schema_name)
    spec = APISpec(
        title="hailong API",
        version=__version__,
        openapi_version="3.0.3",
        plugins=[plugin],
        info={"description": "Units, counters, staff, devices, users, audit log, raw votes (docs/api.md); "
                             "and the tablets' own endpoints, tagged device (docs/protocol.md)."},
    )
    spec.components.security_scheme("token", {"type": "http", "scheme": "bearer",
                                              "description": "Personal API token (hlu_...)"})
    spec.components.security_scheme("session", {"type": "apiKey", "in": "cookie", "name": "hailong_session"})
    spec.components.security_scheme("device", {"type": "http", "scheme": "bearer",
                                               "description": "An enrolled tablet's token (docs/protocol.md)"})
    plugin.converter.add_attribute_function(_field_limits)
    spec.components.schema("Error", ERROR_SCHEMA)
    paths = {}
    for rule in app.url_map.iter_rules():
        view = app.view_functions[rule.endpoint]
        facts = getattr(view, "openapi", None)
        if not facts:
            continue
        path = re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"{\1}", rule.rule)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            paths.setdefault(path, {})[method.lower()] = _operation(rule, view, facts)
    for path, operations in sorted(paths.items()):
        spec.path(path=path, operations=operations)
    return spec.to_dict()


def _operation(rule, view, facts):
    op = {
        "summary": facts["summary"],
        "tags": [facts["tag"] or "admin"],
        "security": SECURITY[facts.get("caller", "person")],
        "parameters": [
            {"name": arg, "in": "path", "required": True,
             "schema": dict(CONVERTER_SCHEMAS.get(type(rule._converters[arg]).__name__, {"type": "string"}))}
            for arg in sorted(rule.arguments)
        ],
        "responses": {},
    }
    permission = getattr(view, "permission", None)
    if permission:
        op["description"] = f"Needs a role granting `{permission}` (see docs/admin.md)."
    if facts["query"]:
        op["parameters"].append({"in": "query", "schema": facts["query"]})
    if facts["body"]:
        op["requestBody"] = {"required": True, "content": {"application/json": {"schema": facts["body"]}}}
    if facts.get("files"):
        files = facts["files"]
        upload = {"type": "object", "properties": {name: {"type": "string", "format": "binary"} for name in files}}
        if any(files.values()):
            upload["required"] = [name for name, required in files.items() if required]
        op["requestBody"] = {"required": any(files.values()), "content": {"multipart/form-data": {"schema": upload}}}
    ok = {"description": "OK"}
    if facts["response"]:
        schema = facts["response"]
        if facts["many"]:
            schema = {"type": "object", "properties": {facts["many"]: {"type": "array", "items": schema}}}
        ok["content"] = {"application/json": {"schema": schema}}
    if facts.get("produces"):  # a file (an export's zip), not JSON
        ok["content"] = {facts["produces"]: {"schema": {"type": "string", "format": "binary"}}}
    op["responses"][str(facts["status"])] = ok
    caller = facts.get("caller", "person")
    errors = [("400", "Invalid fields")]
    if caller == "person":
        errors += [("401", "Not signed in"), ("403", "Role does not allow"), ("404", "Not found or outside your scope")]
        if rule.methods & {"POST", "PUT", "PATCH", "DELETE"}:
            errors.append(("409", "Conflicts with what is stored (a code taken, the last admin, ...)"))
    elif caller == "device":
        errors.append(("401", "Not an enrolled device's token, or the device was revoked"))
    if "requestBody" in op:
        errors += [("413", "Body larger than MAX_CONTENT_LENGTH (a photo: PHOTO_MAX_BYTES)"),
                   ("415", "Body not in the media type described")]
    if facts.get("throttled"):
        errors.append(("429", "Too many wrong passwords (the sign-in throttle, LOGIN_MAX_FAILURES)"))
    errors += list(facts.get("answers", {}).items())
    errors.append(("414", "Request line longer than the server reads (gunicorn's limit_request_line, 4094 "
                          "bytes): answered by gunicorn, not in the JSON error shape"))
    errors.append(("503", "The database cannot take writes now (storage_full, storage_read_only, storage_busy): "
                          "nothing was changed; Retry-After says when to try again"))
    for status, text in sorted(errors):
        op["responses"][status] = {
            "description": text,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
        }
    return op


@bp.get("/api/openapi.json")
def openapi_json():
    return build_spec(current_app)


@bp.get("/api/docs")
def docs():
    spec = build_spec(current_app)
    with force_locale("en"):
        return render_template("api_docs.html", spec=spec, tags=_by_tag(spec["paths"]), english_only=True)


# --- The docs page: the document as people read it ---------------------------

REF = "#/components/schemas/"


def _by_tag(paths):
    """``[(tag, [(method, path, operation)])]`` in the order tags first appear."""
    tags = {}
    for path, operations in paths.items():
        for method, op in operations.items():
            tags.setdefault(op["tags"][0], []).append((method, path, op))
    return list(tags.items())


@bp.app_template_filter("code_spans")
def code_spans(text):
    """Escaped text with its `backticked` parts as <code>."""
    return Markup(re.sub(r"`([^`]+)`", r"<code>\1</code>", str(escape(text or ""))))


@bp.app_template_filter("schema_type")
def schema_type(schema):
    """A schema as a short readable type: a link for a named schema, 'array of …', 'object {a, b}'."""
    schema = schema or {}
    if "$ref" in schema:
        name = schema["$ref"].removeprefix(REF)
        text = Markup('<a href="#schema-{0}">{0}</a>').format(name)
    elif schema.get("type") == "array":
        text = Markup("array of ") + schema_type(schema.get("items"))
    elif schema.get("properties"):
        fields = Markup(", ").join(Markup("<code>{}</code>: ").format(name) + schema_type(prop)
                                   for name, prop in schema["properties"].items())
        text = Markup("object {") + fields + Markup("}")
    elif schema.get("additionalProperties"):
        text = Markup("object of ") + schema_type(schema["additionalProperties"])
    elif "enum" in schema:
        text = Markup("one of ") + Markup(", ").join(Markup("<code>{}</code>").format(v) for v in schema["enum"])
    else:
        text = escape(schema.get("type", "any"))
    return text + (Markup(" or null") if schema.get("nullable") else "")


def _range(low, high, unit=""):
    if low is not None and high is not None:
        return f"{low}–{high}{unit}"
    if high is not None:
        return f"at most {high}{unit}"
    return f"at least {low}{unit}" if low is not None else ""


@bp.app_template_filter("schema_limits")
def schema_limits(prop):
    """The checks a field's value must pass, in words (length, range, pattern)."""
    limits = [_range(prop.get("minLength"), prop.get("maxLength"), " characters"),
              _range(prop.get("minimum"), prop.get("maximum"))]
    limits = [limit for limit in limits if limit]
    if "default" in prop:
        limits.append(f"default {json.dumps(prop['default'], ensure_ascii=False)}")
    text = escape("; ".join(limits))
    if "pattern" in prop:
        text += Markup("{}matches <code>{}</code>").format("; " if limits else "", prop["pattern"])
    return text


def init_app(app):
    app.register_blueprint(bp)
