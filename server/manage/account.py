"""Sign-in, sessions, throttling, password changes and personal API tokens.

Session and token secrets are random; only their SHA-256 is stored, as for
device tokens. Every outcome that matters (sign-ins, failures, refusals,
password changes, tokens) is written to the audit log.
"""

import datetime as dt
import secrets

from server import audit
from server.manage.actor import Actor
from server.manage.passwords import check_strength, hash_password, verify_password
from server.errors import N_, Invalid, NotFound, invalid
from server.storage import accounts, now_utc, timestamp, write_transaction
from server.storage.devices import hash_secret

TOKEN_PREFIX = "hlu_"


class LoginRefused(Exception):
    """Sign-in refused; ``status`` is 401 (wrong credentials) or 429 (throttled)."""

    def __init__(self, status, message):
        super().__init__(message)
        self.status = status
        self.message = message


def login(db, username, password, address, config):
    """Check credentials under the throttle; returns ``(session_secret, user)``.

    Raises ``LoginRefused``. Unknown usernames and wrong passwords give the
    same message and count the same, so neither reveals which accounts exist.
    """
    username = username.strip().lower()
    now = now_utc()
    window = timestamp(now - dt.timedelta(minutes=config["LOGIN_LOCK_MINUTES"]))
    anonymous = Actor(kind="anonymous", name=username or "-", address=address)
    by_user, by_address = accounts.login_failures_since(db, username, address, window)
    if by_user >= config["LOGIN_MAX_FAILURES"] or by_address >= config["LOGIN_MAX_FAILURES_PER_ADDRESS"]:
        with write_transaction(db):
            audit.record(db, anonymous, "login_throttled", "user", username)
        which = "this account" if by_user >= config["LOGIN_MAX_FAILURES"] else "this address"
        raise LoginRefused(
            429,
            f"Too many failed sign-ins for {which}. Try again in {config['LOGIN_LOCK_MINUTES']} minutes.",
        )
    user = accounts.user_by_username(db, username)
    ok = verify_password(user["password_hash"] if user else None, password)
    if not ok or not user["active"]:
        with write_transaction(db):
            accounts.record_login_failure(db, username, address, timestamp(now))
            audit.record(db, anonymous, "login_failed", "user", username)
        raise LoginRefused(401, "Wrong username or password.")
    secret = secrets.token_urlsafe(32)
    with write_transaction(db):
        accounts.clear_login_failures(db, username)
        accounts.insert_session(
            db, hash_secret(secret), user["id"], address, timestamp(now), _expiry(now, now, config)
        )
        actor = Actor(kind="user", name=username, address=address, user_id=user["id"])
        audit.record(db, actor, "login", "user", username)
    return secret, user


def _expiry(created, now, config):
    idle = now + dt.timedelta(minutes=config["SESSION_IDLE_MINUTES"])
    hard = created + dt.timedelta(hours=config["SESSION_MAX_HOURS"])
    return timestamp(min(idle, hard))


def actor_for_session(db, secret, address, config):
    """The signed-in user of a live session, sliding its idle expiry; None when expired."""
    from device_client.protocol import parse_time

    row = accounts.session_by_hash(db, hash_secret(secret))
    now = now_utc()
    if row is None or row["ended_at"] or parse_time(row["expires_at"]) <= now:
        return None
    user = accounts.user_by_id(db, row["user_id"])
    if not user["active"]:
        return None
    if (now - parse_time(row["last_seen_at"])).total_seconds() > 30:
        with write_transaction(db):
            accounts.touch_session(
                db, row["id"], timestamp(now), _expiry(parse_time(row["created_at"]), now, config)
            )
    return Actor(
        kind="user",
        name=user["username"],
        address=address,
        user_id=user["id"],
        roles=accounts.roles_of(db, user["id"]),
        session_id=row["id"],
    )


def logout(db, actor):
    with write_transaction(db):
        accounts.end_session(db, actor.session_id, timestamp())
        audit.record(db, actor, "logout", "user", actor.name)


def change_password(db, actor, current, new, config):
    """Change the actor's own password; other sessions of theirs end. Raises ``Invalid``."""
    user = accounts.user_by_id(db, actor.user_id)
    if not verify_password(user["password_hash"], current):
        raise invalid("current_password", N_("Wrong password."), N_("The current password is wrong."))
    problems = check_strength(new, config["PASSWORD_MIN_LENGTH"])
    if problems:
        raise Invalid(N_("The new password is too weak."), {"new_password": problems})
    now = timestamp()
    with write_transaction(db):
        accounts.set_password(db, user["id"], hash_password(new), now)
        accounts.end_sessions_of(db, user["id"], now, keep_id=actor.session_id)
        audit.record(db, actor, "password_changed", "user", user["username"])


# --- Personal API tokens ----------------------------------------------------


def create_token(db, actor, name, days, config):
    """A new token for the actor's own account: ``(secret, row)``; the secret is shown once."""
    days = days or config["API_TOKEN_DEFAULT_DAYS"]
    if days > config["API_TOKEN_MAX_DAYS"]:
        raise invalid("days", N_("At most %(days)s days.", days=config["API_TOKEN_MAX_DAYS"]),
                      N_("The token lives too long."))
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    now = now_utc()
    expires = timestamp(now + dt.timedelta(days=days))
    with write_transaction(db):
        token_id = accounts.insert_token(
            db, actor.user_id, name, hash_secret(secret), secret[:10], timestamp(now), expires
        )
        row = accounts.token_by_id(db, token_id)
        audit.record(db, actor, "token_created", "api_token", token_id, after=_public(row))
    return secret, _public(row)


def _public(row):
    return {k: row[k] for k in ("id", "name", "prefix", "created_at", "expires_at", "revoked_at",
                                "last_used_at")}


def revoke_token(db, actor, token_id):
    """Revoke one of the actor's own tokens (an admin may revoke anyone's). 404 otherwise."""
    row = accounts.token_by_id(db, token_id)
    if row is None or (row["user_id"] != actor.user_id and not actor.is_admin):
        raise NotFound(N_("No such token."))
    with write_transaction(db):
        accounts.revoke_token(db, token_id, timestamp())
        audit.record(db, actor, "token_revoked", "api_token", token_id, before=_public(row),
                     after=_public(accounts.token_by_id(db, token_id)))
    return _public(accounts.token_by_id(db, token_id))


def list_tokens(db, actor):
    return accounts.tokens_of(db, actor.user_id)


def actor_for_token(db, secret, address):
    """The owner of a live personal token, as an Actor of kind "token"; None otherwise."""
    from device_client.protocol import parse_time

    row = accounts.token_by_hash(db, hash_secret(secret))
    if row is None or row["revoked_at"] or parse_time(row["expires_at"]) <= now_utc():
        return None
    user = accounts.user_by_id(db, row["user_id"])
    if not user["active"]:
        return None
    if not row["last_used_at"] or row["last_used_at"][:16] != timestamp()[:16]:
        with write_transaction(db):
            accounts.mark_token_used(db, row["id"], timestamp())
    return Actor(
        kind="token",
        name=user["username"],
        address=address,
        user_id=user["id"],
        roles=accounts.roles_of(db, user["id"]),
        token_id=row["id"],
    )
