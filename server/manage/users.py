"""User accounts and their roles (admins only).

An account may be linked to one staff record (``users.staff_id``): that
civil servant's own account. The ``staff`` role, held without a unit, lets it
see only that person (``Actor.staff_id``); it is granted only to a linked
account, and the link is removed only once the role is gone. Only admins
make, link and change accounts (``users.write``): an account is a
credential, and HR's reach over staff records does not extend to who may
sign in as them.
"""

import re

from server import audit
from server.manage.passwords import check_strength, hash_password
from server.errors import N_, Invalid, NotFound
from server.manage import conflict, require, unknown_field
from server.storage import accounts, org, timestamp, write_transaction
from server.storage import staff as staff_storage

# What a username may be: the pages, the API (its schema) and the CLI accept
# only this, and sign-in refuses anything else before counting or logging it.
USERNAME_PATTERN = r"^[a-z0-9][a-z0-9._-]{1,63}\Z"
USERNAME_RE = re.compile(USERNAME_PATTERN)
USERNAME_RULE = N_("Lowercase letters, digits, . _ - (2 to 64).")
# Where alerts and reports go: one @, no spaces, a dot in the domain; "" for none.
EMAIL_PATTERN = r"^(|[^@\s]+@[^@\s]+\.[^@\s]+)\Z"
EMAIL_RE = re.compile(EMAIL_PATTERN)
EMAIL_RULE = N_("An e-mail address like name@example.vn, or empty.")


def _check_email(data):
    if len(data.get("email") or "") > 200 or not EMAIL_RE.fullmatch(data.get("email") or ""):
        raise unknown_field("email", EMAIL_RULE)


def _public(db, user):
    return {
        "id": user["id"],
        "username": user["username"],
        "full_name": user["full_name"],
        "active": bool(user["active"]),
        "email": user["email"],
        "staff": (accounts.linked_staff(db, user["staff_id"]) or {}).get("code"),
        "created_at": user["created_at"],
        "roles": [
            {"id": r["id"], "role": r["role"], "unit": r["unit_code"]} for r in accounts.roles_of(db, user["id"])
        ],
    }


def list_users(db, actor):
    require(actor, "users.read")
    return [_public(db, u) for u in accounts.list_users(db)]


def user_named(db, username):
    """The user row; ``NotFound`` when there is none."""
    user = accounts.user_by_username(db, username or "")
    if user is None:
        raise NotFound(N_("No user with this username."))
    return user


def get_own(db, actor):
    """The actor's own account and roles (anyone signed in)."""
    return _public(db, accounts.user_by_id(db, actor.user_id))


def own_staff(db, actor):
    """The staff record a ``staff``-role account belongs to: ``{id, code, full_name, unit_id, unit}``."""
    require(actor, "self.read")
    found = accounts.linked_staff(db, actor.staff_id)
    if found is None:
        raise NotFound(N_("This account is not linked to a staff record."))
    return found


def get_user(db, actor, username):
    require(actor, "users.read")
    return _public(db, user_named(db, username))


def _role_unit(db, role):
    if role["role"] == "admin":
        if role.get("unit"):
            raise unknown_field("roles", N_("The admin role covers everything; give no unit."))
        return None
    if role["role"] == "staff":
        if role.get("unit"):
            raise unknown_field("roles", N_("The staff role covers the linked staff member only; give no unit."))
        return None
    unit = org.unit_by_code(db, role.get("unit") or "")
    if unit is None:
        raise unknown_field("roles", N_("The %(role)s role needs an existing unit.", role=role["role"]))
    return unit["id"]


def _staff_to_link(db, code, user_id=None):
    """The staff id for ``code`` (None for no link); the record must exist and have no other account."""
    if not code:
        return None
    found = staff_storage.by_codes(db, [code]).get(code)
    if found is None:
        raise unknown_field("staff", N_("No staff member with this code."))
    holder = accounts.user_by_staff(db, found["id"])
    if holder is not None and holder["id"] != user_id:
        raise conflict("staff", N_("This staff member already has an account: %(username)s.",
                                   username=holder["username"]))
    return found["id"]


def _no_staff_role_without_link(roles, staff_id):
    if staff_id is None and any(role == "staff" for role, _unit in roles):
        raise unknown_field("roles", N_("The staff role needs the account linked to a staff record."))


def create_user(db, actor, data, config):
    """Create an account with its roles, e-mail address and staff link (``data["staff"]``, a staff code).

    The username's shape and the password's strength are checked; the
    ``staff`` role needs a linked staff record without another account.
    """
    require(actor, "users.write")
    if not USERNAME_RE.fullmatch(data["username"]):
        raise unknown_field("username", USERNAME_RULE)
    _check_email(data)
    problems = check_strength(data["password"], config["PASSWORD_MIN_LENGTH"], data["username"])
    if problems:
        raise Invalid(N_("The password is too weak."), {"password": problems})
    if accounts.user_by_username(db, data["username"]):
        raise conflict("username", N_("This username is taken."))
    units = [(r["role"], _role_unit(db, r)) for r in data.get("roles", [])]
    staff_id = _staff_to_link(db, data.get("staff"))
    _no_staff_role_without_link(units, staff_id)
    now = timestamp()
    with write_transaction(db):
        user_id = accounts.insert_user(db, data["username"], data.get("full_name", ""),
                                       hash_password(data["password"]), now)
        if data.get("email") or staff_id is not None:
            accounts.update_user(db, user_id, data.get("full_name", ""), 1, now, data.get("email", ""))
            accounts.link_staff(db, user_id, staff_id, now)
        for role, unit_id in units:
            accounts.add_role(db, user_id, role, unit_id, now)
        after = _public(db, accounts.user_by_id(db, user_id))
        audit.record(db, actor, "create", "user", data["username"], after=after)
    return after


def _admins_left(db, without_user=None, without_role=None):
    return sum(
        1
        for u in accounts.list_users(db)
        if u["active"] and u["id"] != without_user
        for r in accounts.roles_of(db, u["id"])
        if r["role"] == "admin" and r["id"] != without_role
    )


def update_user(db, actor, username, data, config):
    """Rename, (de)activate, set a new password or e-mail address, link or unlink a staff record.

    ``data["staff"]``: a staff code links the account to that record (which
    must have no other account); None unlinks it, refused while the account
    holds the ``staff`` role.

    A new password or a deactivation ends the user's sessions and revokes
    every token of theirs; reactivating brings none back.
    """
    require(actor, "users.write")
    user = user_named(db, username)
    before = _public(db, user)
    if "password" in data:
        problems = check_strength(data["password"], config["PASSWORD_MIN_LENGTH"], user["username"])
        if problems:
            raise Invalid(N_("The password is too weak."), {"password": problems})
    _check_email(data)
    staff_id = user["staff_id"]
    if "staff" in data:
        staff_id = _staff_to_link(db, data["staff"], user["id"])
        held = [(r["role"], r["unit_id"]) for r in accounts.roles_of(db, user["id"])]
        if staff_id is None and any(role == "staff" for role, _ in held):
            raise conflict("staff", N_("Remove the staff role before unlinking the staff record."))
    now = timestamp()
    revoked = 0
    with write_transaction(db):
        if data.get("active") is False:  # checked inside the transaction that deactivates, under the lock
            accounts.lock_admins(db)
            if _admins_left(db, without_user=user["id"]) == 0:
                raise conflict("active", N_("The last active admin cannot be deactivated."))
        accounts.update_user(db, user["id"], data.get("full_name", user["full_name"]),
                             int(data.get("active", bool(user["active"]))), now,
                             data.get("email", user["email"]))
        if staff_id != user["staff_id"]:
            accounts.link_staff(db, user["id"], staff_id, now)
        if "password" in data:
            accounts.set_password(db, user["id"], hash_password(data["password"]), now)
        if "password" in data or data.get("active") is False:
            accounts.end_sessions_of(db, user["id"], now)
            revoked = accounts.revoke_tokens_of(db, user["id"], now)
        after = _public(db, accounts.user_by_id(db, user["id"]))
        changes = {**after, "password_changed": "password" in data, "tokens_revoked": revoked}
        audit.record(db, actor, "update", "user", username, before=before, after=changes)
    return after


def add_role(db, actor, username, data):
    require(actor, "users.write")
    user = user_named(db, username)
    unit_id = _role_unit(db, {"role": data["role"], "unit": data.get("unit")})
    _no_staff_role_without_link([(data["role"], unit_id)], user["staff_id"])
    with write_transaction(db):
        role_id = accounts.add_role(db, user["id"], data["role"], unit_id, timestamp())
        if role_id is None:
            raise conflict("role", N_("The user already has this role on this unit."))
        audit.record(db, actor, "grant_role", "user", username, unit_id,
                     after={"role": data["role"], "unit": data.get("unit")})
    return _public(db, accounts.user_by_id(db, user["id"]))


def remove_role(db, actor, username, role_id):
    require(actor, "users.write")
    user = user_named(db, username)
    role = accounts.role_by_id(db, role_id)
    if role is None or role["user_id"] != user["id"]:
        raise NotFound(N_("This user has no such role."))
    unit = org.unit_path(db, role["unit_id"])[-1]["code"] if role["unit_id"] else None
    with write_transaction(db):
        if role["role"] == "admin":  # checked inside the transaction that removes it, under the lock
            accounts.lock_admins(db)
            if _admins_left(db, without_role=role_id) == 0:
                raise conflict("role", N_("The last admin role cannot be removed."))
        accounts.remove_role(db, role_id)
        audit.record(db, actor, "revoke_role", "user", username, role["unit_id"],
                     before={"role": role["role"], "unit": unit})
    return _public(db, accounts.user_by_id(db, user["id"]))
