"""A civil servant's own page (``/me``, the ``staff`` role): their scores, votes' distribution, flags and grade.

It is the staff page HR sees, for the one staff record the account is
linked to (``Actor.staff_id``; the actions refuse anyone else's).
"""

from flask import Blueprint

from server.auth import current_actor, page_requires
from server.db import get_db
from server.manage import users
from server.web import page_errors
from server.web.scores import period_arg, render_staff

bp = Blueprint("web_me", __name__)


@bp.get("/me")
@page_requires("self.read")
def me():
    db, actor = get_db(), current_actor()
    return render_staff(db, actor, users.own_staff(db, actor)["code"], period_arg(), own=True)


page_errors(bp)
