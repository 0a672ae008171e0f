"""Rating-scale versions: the list, and a form to publish the next one (JSON, prefilled with the current)."""

import json

from flask import Blueprint, redirect, render_template, request, url_for
from marshmallow import ValidationError

from server.api.admin.schemas import ScaleSchema
from server.auth import current_actor, page_requires
from server.db import get_db
from server.errors import N_, Invalid
from server.manage import scales
from server.schemas import flat_messages
from server.web import attempt, page_errors

bp = Blueprint("web_scales", __name__, url_prefix="/admin")


def _editable(scale):
    """The part of a version an admin edits, as pretty JSON."""
    levels = [{k: level[k] for k in ("value", "label_vi", "label_en", "satisfied", "weight")} for level in scale["levels"]]
    return json.dumps({"levels": levels, "reasons": scale["reasons"]}, ensure_ascii=False, indent=2)


def _loaded(text, note):
    """The form's JSON through the API's schema; nested field errors flattened (``levels.0.value``)."""
    try:
        data = json.loads(text)
    except ValueError:
        raise Invalid(N_("The rating scale is not valid: see the fields."),
                      {"scale": [N_("Not valid JSON.")]}) from None
    if not isinstance(data, dict):
        raise Invalid(N_("The rating scale is not valid: see the fields."),
                      {"scale": [N_("A JSON object with levels and reasons.")]})
    try:
        return ScaleSchema().load({**data, "note": note})
    except ValidationError as exc:
        raise Invalid(N_("The rating scale is not valid: see the fields."), flat_messages(exc.messages)) from None


@bp.route("/scales", methods=["GET", "POST"])
@page_requires("units.read")
def list_():
    db, actor = get_db(), current_actor()
    errors, message, status = {}, None, 200
    versions = scales.list_scales(db, actor)
    text = _editable(versions[0])
    if request.method == "POST":
        text = request.form.get("scale", "")
        done, errors, message, status = attempt(
            lambda: scales.publish(db, actor, _loaded(text, request.form.get("note", "").strip())))
        if done:
            return redirect(url_for("web_scales.list_"))
    return render_template("scales.html", versions=versions, text=text, errors=errors, message=message,
                           can_write=actor.can("scales.write")), status


page_errors(bp)
