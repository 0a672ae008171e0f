"""Users, their roles and their API tokens (admins only)."""

from flask import Blueprint, current_app, redirect, render_template, request, url_for

from server.api.admin.schemas import RoleSchema, UserSchema, UserUpdateSchema
from server.auth import ROLES, current_actor, page_requires
from server.db import get_db
from server.manage import account, org, users
from server.web import attempt, form_data, form_id, page_errors

bp = Blueprint("web_users", __name__, url_prefix="/admin")


@bp.route("/users", methods=["GET", "POST"])
@page_requires("users.read")
def list_():
    db, actor = get_db(), current_actor()
    errors, message, status = {}, None, 200
    if request.method == "POST":
        data = form_data(["username", "full_name", "password", "email", "staff"])
        data["staff"] = data.get("staff") or None
        role = form_data(["role", "unit"])
        if role.get("role"):
            data["roles"] = [{"role": role["role"], "unit": role.get("unit") or None}]
        done, errors, message, status = attempt(
            lambda: users.create_user(db, actor, UserSchema().load(data), current_app.config))
        if done:
            return redirect(url_for("web_users.edit", username=done["username"]))
    return render_template("users.html", users=users.list_users(db, actor), roles=ROLES,
                           units=org.list_units(db, actor), errors=errors, message=message), status


@bp.route("/users/<username>", methods=["GET", "POST"])
@page_requires("users.read")
def edit(username):
    db, actor = get_db(), current_actor()
    users.get_user(db, actor, username)
    errors, message, status = {}, None, 200
    action = request.form.get("action")
    done = None
    if action == "save":
        data = form_data(["full_name", "email", "staff"], booleans=["active"])
        if "staff" in data:
            data["staff"] = data["staff"] or None
        if request.form.get("password"):
            data["password"] = request.form["password"]
        done, errors, message, status = attempt(
            lambda: users.update_user(db, actor, username, UserUpdateSchema().load(data), current_app.config))
    elif action == "grant":
        data = form_data(["role", "unit"])
        data["unit"] = data.get("unit") or None
        done, errors, message, status = attempt(
            lambda: users.add_role(db, actor, username, RoleSchema().load(data)))
    elif action == "revoke":
        done, errors, message, status = attempt(
            lambda: users.remove_role(db, actor, username, form_id("role_id")))
    elif action == "revoke_token":
        done, errors, message, status = attempt(
            lambda: account.revoke_token(db, actor, form_id("token_id"), username))
    if done:
        return redirect(url_for("web_users.edit", username=username))
    return render_template("user_edit.html", user=users.get_user(db, actor, username), roles=ROLES,
                           units=org.list_units(db, actor), tokens=account.list_tokens(db, actor, username),
                           errors=errors, message=message), status


page_errors(bp)
