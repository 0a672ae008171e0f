"""Sign-in, sessions, throttling, password changes and personal API tokens.

Session and token secrets are random; only their SHA-256 is stored, as for
device tokens. Every outcome that matters (sign-ins, failures, refusals,
password changes, tokens) is written to the audit log.

Every password guess – a sign-in, the current password of a password
change, the password re-entered to make a token – goes through one throttle
(``reserve_attempt``), counted per account and per address.
"""

import datetime as dt
import secrets

from server import audit
from server.errors import N_, Conflict, Forbidden, Invalid, NotFound, Throttled, invalid
from server.manage import require
from server.manage.actor import Actor
from server.manage.passwords import check_strength, hash_password, verify_password
from server.manage.users import USERNAME_RE, user_named
from server.storage import accounts, now_utc, timestamp, write_transaction
from server.storage.devices import hash_secret

TOKEN_PREFIX = "hlu_"
WRONG_CREDENTIALS = N_("Wrong username or password.")


class LoginRefused(Exception):
    """Sign-in refused; ``status`` is 401 (wrong credentials) or 429 (throttled)."""

    def __init__(self, status, message):
        super().__init__(message)
        self.status = status
        self.message = message


# --- The throttle -------------------------------------------------------------


def reserve_attempt(db, username, address, config):
    """Take one of the password guesses the throttle allows, before the password is checked.

    Returns the id of a failure row written now; the caller deletes it when
    the password turns out right. Counting the window's failures and writing
    this one happen in one ``BEGIN IMMEDIATE`` transaction (on PostgreSQL under
    an advisory lock: ``accounts.lock_login_failures``), so parallel
    guesses queue on the write lock and each sees the others: 30 at once get
    exactly ``LOGIN_MAX_FAILURES``, where counting first and writing after the
    (slow) password check let every request in flight pass. Raises
    ``Throttled``; refused attempts are counted on one audit entry per
    account or address and window, not logged one by one.
    """
    now = now_utc()
    since = timestamp(now - dt.timedelta(minutes=config["LOGIN_LOCK_MINUTES"]))
    window = dt.timedelta(minutes=config["LOGIN_LOCK_MINUTES"])
    with write_transaction(db):
        accounts.lock_login_failures(db)  # PostgreSQL: queue the attempts as BEGIN IMMEDIATE does on SQLite
        # Forgetting old failures here, in the transaction every attempt opens
        # anyway, keeps the table one window long whether or not ``hailong
        # jobs`` runs, for a range delete on an index per attempt.
        accounts.prune_login_failures(db, since)
        by_user, by_address = accounts.login_failures_since(db, username, address, since)
        limit = ("address" if by_address >= config["LOGIN_MAX_FAILURES_PER_ADDRESS"]
                 else "account" if by_user >= config["LOGIN_MAX_FAILURES"] else None)
        if limit is None:
            return accounts.record_login_failure(db, username, address, timestamp(now))
        # One entry per throttled account or address and window, counting the refused attempts
        # (the failures that led to the lock were each logged as login_failed).
        key = address if limit == "address" else username
        audit.record_repeated(db, Actor(kind="anonymous", name=username, address=address), "login_throttled",
                              "user" if limit == "account" else "address", key, f"login_throttled|{limit}|{key}",
                              window, after={"limit": limit}, now=now)
    raise Throttled(N_("Too many failed sign-ins. Try again in %(minutes)s minutes.",
                       minutes=config["LOGIN_LOCK_MINUTES"]))


def confirm_password(db, actor, user, password, field, purpose, config):
    """Check a signed-in user's password again, under the throttle. Raises ``Invalid`` or ``Throttled``.

    A wrong one is audited as ``<purpose>_failed`` and counts like a failed
    sign-in, so a stolen session cannot guess the password faster than the
    sign-in page allows.
    """
    failure_id = reserve_attempt(db, user["username"], actor.address or "-", config)
    if verify_password(user["password_hash"], password):
        with write_transaction(db):
            accounts.delete_login_failure(db, failure_id)
        return
    with write_transaction(db):
        audit.record(db, actor, f"{purpose}_failed", "user", user["username"])
    raise invalid(field, N_("Wrong password."), N_("The password you entered is wrong."))


def _need_session(actor):
    """Password changes and new tokens need a person at a signed-in page, never a token."""
    if actor.kind != "user":
        raise Forbidden(N_("Only a signed-in session can do this, with the password entered again;"
                           " an API token cannot."))


# --- Sign-in and sessions -----------------------------------------------------


def login(db, username, password, address, config):
    """Check credentials under the throttle; returns ``(session_secret, user)``.

    Raises ``LoginRefused``. Unknown usernames and wrong passwords give the
    same message and count the same, so neither reveals which accounts exist.
    A name no account could have (too long, wrong characters) is refused
    before anything is counted or logged.
    """
    username = username.strip().lower()
    if not USERNAME_RE.fullmatch(username):
        raise LoginRefused(401, WRONG_CREDENTIALS)
    try:
        failure_id = reserve_attempt(db, username, address, config)
    except Throttled as exc:
        raise LoginRefused(429, exc.message) from None
    user = accounts.user_by_username(db, username)
    ok = verify_password(user["password_hash"] if user else None, password)
    if not ok or not user["active"]:
        with write_transaction(db):
            audit.record(db, Actor(kind="anonymous", name=username, address=address), "login_failed", "user",
                         username)
        raise LoginRefused(401, WRONG_CREDENTIALS)
    secret = secrets.token_urlsafe(32)
    now = now_utc()
    with write_transaction(db):
        accounts.delete_login_failure(db, failure_id)
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
    roles = accounts.roles_of(db, user["id"])
    return Actor(
        kind="user",
        name=user["username"],
        address=address,
        user_id=user["id"],
        roles=roles,
        session_id=row["id"],
        staff_id=own_staff_id(user, roles),
    )


def logout(db, actor):
    with write_transaction(db):
        accounts.end_session(db, actor.session_id, timestamp())
        audit.record(db, actor, "logout", "user", actor.name)


def change_password(db, actor, current, new, config):
    """Change the signed-in user's own password: their other sessions end and every token is revoked.

    Needs a session (not a token) and the current password, which counts
    against the sign-in throttle. Raises ``Forbidden``, ``Invalid``, ``Throttled``.
    """
    _need_session(actor)
    user = accounts.user_by_id(db, actor.user_id)
    problems = check_strength(new, config["PASSWORD_MIN_LENGTH"], user["username"])
    if problems:
        raise Invalid(N_("The new password is too weak."), {"new_password": problems})
    confirm_password(db, actor, user, current, "current_password", "password_change", config)
    now = timestamp()
    with write_transaction(db):
        accounts.set_password(db, user["id"], hash_password(new), now)
        accounts.end_sessions_of(db, user["id"], now, keep_id=actor.session_id)
        revoked = accounts.revoke_tokens_of(db, user["id"], now)
        audit.record(db, actor, "password_changed", "user", user["username"], after={"tokens_revoked": revoked})


# --- Personal API tokens ----------------------------------------------------


def create_token(db, actor, name, days, config, password=None, username=None):
    """A new personal API token: ``(secret, row)``; the secret is shown once.

    A signed-in user makes one for themselves after entering their password
    again, so neither a borrowed session nor a token can mint a long-lived
    credential. The CLI (``hailong user token``, the operator's tool) makes
    one for ``username``. Raises ``Forbidden``, ``Invalid``, ``Throttled``,
    ``NotFound``, ``Conflict``.
    """
    if actor.kind == "cli":
        owner = user_named(db, username)
    else:
        _need_session(actor)
        owner = accounts.user_by_id(db, actor.user_id)
    days = days or config["API_TOKEN_DEFAULT_DAYS"]
    if days > config["API_TOKEN_MAX_DAYS"]:
        raise invalid("days", N_("At most %(days)s days.", days=config["API_TOKEN_MAX_DAYS"]),
                      N_("The token lives too long."))
    if not owner["active"]:
        raise Conflict(N_("This account is deactivated."), {"username": [N_("This account is deactivated.")]})
    if actor.kind != "cli":
        confirm_password(db, actor, owner, password or "", "password", "token_create", config)
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    now = now_utc()
    expires = timestamp(now + dt.timedelta(days=days))
    with write_transaction(db):
        token_id = accounts.insert_token(
            db, owner["id"], name, hash_secret(secret), secret[:10], timestamp(now), expires
        )
        row = accounts.token_by_id(db, token_id)
        audit.record(db, actor, "token_created", "api_token", token_id,
                     after={**_public(row), "user": owner["username"]})
    return secret, _public(row)


def _public(row):
    return {k: row[k] for k in ("id", "name", "prefix", "created_at", "expires_at", "revoked_at",
                                "last_used_at")}


def _owner_id(db, actor, username, permission):
    """Whose tokens: the actor's own (``username`` None), or a named user's for an admin."""
    if username is None:
        return actor.user_id
    require(actor, permission)
    return user_named(db, username)["id"]


def list_tokens(db, actor, username=None):
    """The actor's own tokens, or (admins) ``username``'s; never their secrets."""
    return accounts.tokens_of(db, _owner_id(db, actor, username, "users.read"))


def revoke_token(db, actor, token_id, username=None):
    """Revoke one of the actor's own tokens, or (admins) one of ``username``'s. 404 for any other."""
    owner_id = _owner_id(db, actor, username, "users.write")
    row = accounts.token_by_id(db, token_id)
    if row is None or owner_id is None or row["user_id"] != owner_id:
        raise NotFound(N_("No such token."))
    with write_transaction(db):
        accounts.revoke_token(db, token_id, timestamp())
        after = _public(accounts.token_by_id(db, token_id))
        owner = accounts.user_by_id(db, row["user_id"])["username"]
        audit.record(db, actor, "token_revoked", "api_token", token_id, before=_public(row),
                     after={**after, "user": owner})
    return after


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
    roles = accounts.roles_of(db, user["id"])
    return Actor(
        kind="token",
        name=user["username"],
        address=address,
        user_id=user["id"],
        roles=roles,
        token_id=row["id"],
        staff_id=own_staff_id(user, roles),
    )


def own_staff_id(user, roles):
    """The staff record a ``staff``-role account sees (its linked one); None without that role.

    A link alone grants nothing: an admin who is also a civil servant sees
    their own record through the role, not through the link.
    """
    if user["staff_id"] is not None and any(r["role"] == "staff" for r in roles):
        return user["staff_id"]
    return None
