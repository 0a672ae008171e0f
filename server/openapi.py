"""``/api/openapi.json`` (OpenAPI 3, built by apispec from the marshmallow schemas) and ``/api/docs``.

The admin views carry ``@doc`` facts (server/api/admin/__init__.py); this
module walks the URL map, so a new endpoint shows up without editing here.
The docs page is rendered on the server from the same document: no CDN, no
JavaScript.
"""

import re

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from flask import Blueprint, current_app, render_template

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


def _schema_name(schema):
    name = schema.__name__ if isinstance(schema, type) else type(schema).__name__
    return name[:-6] if name.endswith("Schema") else name


def build_spec(app):
    spec = APISpec(
        title="hailong admin API",
        version=__version__,
        openapi_version="3.0.3",
        plugins=[MarshmallowPlugin(schema_name_resolver=_schema_name)],
        info={"description": "Units, counters, staff, devices, users, audit log, raw votes. "
                             "See docs/api.md."},
    )
    spec.components.security_scheme("token", {"type": "http", "scheme": "bearer",
                                              "description": "Personal API token (hlu_...)"})
    spec.components.security_scheme("session", {"type": "apiKey", "in": "cookie", "name": "hailong_session"})
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
        "security": [{"token": []}, {"session": []}],
        "parameters": [
            {"name": arg, "in": "path", "required": True, "schema": {"type": "string"}}
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
    ok = {"description": "OK"}
    if facts["response"]:
        schema = facts["response"]
        if facts["many"]:
            schema = {"type": "object", "properties": {facts["many"]: {"type": "array", "items": schema}}}
        ok["content"] = {"application/json": {"schema": schema}}
    op["responses"][str(facts["status"])] = ok
    for status, text in (("400", "Invalid fields"), ("401", "Not signed in"), ("403", "Role does not allow"),
                         ("404", "Not found or outside your scope")):
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
    return render_template("api_docs.html", spec=spec)


def init_app(app):
    app.register_blueprint(bp)
