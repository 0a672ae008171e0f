"""The actions: every change to the organisation, devices and people, checked against who asks.

Each function takes ``(db, actor, ...)``, checks the actor's permission and
unit scope, writes in one transaction with its audit entry, and returns
plain dicts. The pages, the JSON API and the ``hailong`` CLI all call these,
so a rule lives in one place. Failures are domain errors
(``server/errors.py``); objects outside the actor's scope are answered
exactly like objects that do not exist, so nothing leaks.
"""

from server.errors import N_, Conflict, Forbidden, NotFound, invalid


def not_found(message):
    return NotFound(message)


def forbid(permission=None):
    error = Forbidden(N_("Your roles do not allow this."))
    error.permission = permission  # for the audit entry of the denial (server/auth), never shown
    return error


def require(actor, permission):
    if not actor.can(permission):
        raise forbid(permission)


def unknown_field(field, message):
    return invalid(field, message)


def conflict(field, message):
    return Conflict(message, {field: [message]})
