"""The caller's own account: who am I, password change, personal API tokens."""

from flask import Blueprint

from server.api.admin import body, config, db, doc, dump
from server.api.admin.schemas import PasswordChangeSchema, TokenSchema, UserSchema
from server.auth import api_requires, current_actor
from server.manage import account as service
from server.manage.users import get_own

bp = Blueprint("admin_account", __name__, url_prefix="/api/v1/me")


@bp.get("")
@api_requires(None)
@doc("The signed-in user and their roles", response=UserSchema, tag="account")
def me():
    return get_own(db(), current_actor())


@bp.post("/password")
@api_requires(None)
@doc("Change your own password (signed-in session only, not a token): ends your other sessions and revokes "
     "all your tokens", body=PasswordChangeSchema, status=204, tag="account", throttled=True)
def change_password():
    data = body(PasswordChangeSchema)
    service.change_password(db(), current_actor(), data["current_password"], data["new_password"], config())
    return "", 204


@bp.get("/tokens")
@api_requires(None)
@doc("Your personal API tokens (never their secrets)", response=TokenSchema, many="tokens", tag="account")
def tokens():
    return {"tokens": dump(TokenSchema, service.list_tokens(db(), current_actor()), many=True)}


@bp.post("/tokens")
@api_requires(None)
@doc("Create a personal API token with your password (signed-in session only, not a token); the secret is "
     "in the answer once", body=TokenSchema, response=TokenSchema, status=201, tag="account", throttled=True)
def create_token():
    data = body(TokenSchema)
    secret, row = service.create_token(db(), current_actor(), data["name"], data.get("days"), config(),
                                       password=data["password"])
    return {**dump(TokenSchema, row), "token": secret}, 201


@bp.delete("/tokens/<int:token_id>")
@api_requires(None)
@doc("Revoke one of your tokens", response=TokenSchema, tag="account")
def revoke_token(token_id):
    return dump(TokenSchema, service.revoke_token(db(), current_actor(), token_id))
