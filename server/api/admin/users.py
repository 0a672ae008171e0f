"""Users, their roles and their API tokens (admins only)."""

from flask import Blueprint

from server.api.admin import body, config, db, doc, dump
from server.api.admin.schemas import RoleSchema, TokenSchema, UserSchema, UserUpdateSchema
from server.auth import api_requires, current_actor
from server.manage import account, users

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


@bp.get("/users/<username>/tokens")
@api_requires("users.read")
@doc("A user's personal API tokens (never their secrets)", response=TokenSchema, many="tokens", tag="users")
def tokens(username):
    return {"tokens": dump(TokenSchema, account.list_tokens(db(), current_actor(), username), many=True)}


@bp.delete("/users/<username>/tokens/<int:token_id>")
@api_requires("users.write")
@doc("Revoke one of a user's tokens", response=TokenSchema, tag="users")
def revoke_token(username, token_id):
    return dump(TokenSchema, account.revoke_token(db(), current_actor(), token_id, username))
