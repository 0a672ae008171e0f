"""A civil servant's own page (``/me``), where the staff role lands after signing in.

A minimal page until the evaluation pages give it the person's scores,
flags and objections; it shows whose account this is.
"""

from flask import Blueprint, render_template

from server.auth import current_actor, page_requires
from server.db import get_db
from server.manage import users
from server.web import page_errors

bp = Blueprint("web_me", __name__)


@bp.get("/me")
@page_requires("self.read")
def me():
    db, actor = get_db(), current_actor()
    return render_template("me.html", staff=users.own_staff(db, actor))


page_errors(bp)
