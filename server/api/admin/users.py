"""Users and their roles (admins only)."""

from flask import Blueprint

from server.api.admin import body, config, db, doc
from server.api.admin.schemas import RoleSchema, UserSchema, UserUpdateSchema
from server.auth import api_requires, current_actor
from server.manage import users

bp = Blueprint("admin_users", __name__, url_prefix="/api/v1")


@bp.get("/users")
@api_requires("users.read")
@doc("Every user with their roles", response=UserSchema, many="users", tag="users")
def list_():
    return {"users": users.list_users(db(), current_actor())}


@bp.post("/users")
@api_requires("users.write")
@doc("Create a user with roles", body=UserSchema, response=UserSchema, status=201, tag="users")
def create():
    return users.create_user(db(), current_actor(), body(UserSchema), config()), 201


@bp.get("/users/<username>")
@api_requires("users.read")
@doc("One user", response=UserSchema, tag="users")
def get(username):
    return users.get_user(db(), current_actor(), username)


@bp.patch("/users/<username>")
@api_requires("users.write")
@doc("Rename, (de)activate or reset the password of a user", body=UserUpdateSchema, response=UserSchema,
     tag="users")
def update(username):
    return users.update_user(db(), current_actor(), username, body(UserUpdateSchema), config())


@bp.post("/users/<username>/roles")
@api_requires("users.write")
@doc("Grant a role on a unit (admin: no unit)", body=RoleSchema, response=UserSchema, status=201, tag="users")
def grant(username):
    return users.add_role(db(), current_actor(), username, body(RoleSchema)), 201


@bp.delete("/users/<username>/roles/<int:role_id>")
@api_requires("users.write")
@doc("Take a role away", response=UserSchema, tag="users")
def revoke(username, role_id):
    return users.remove_role(db(), current_actor(), username, role_id)
