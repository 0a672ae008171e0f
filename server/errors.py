"""What can go wrong in an action, as plain exceptions any caller can turn into its own form.

Actions (``server/manage/``, ``server/sync/``) raise these; the JSON API turns
them into its error shape with an HTTP status (``server/api/errors.py``), the
pages into a message beside the form (``server/web/``), and the CLI into one
``Error: ...`` line (``server/cli.py``). Nothing here knows about HTTP.

Messages are English; those meant for people are built with ``N_`` so the
pages can look up their translation by the template and fill in the values.
"""


class Message(str):
    """An English message that keeps its template and values for translation.

    It *is* the formatted English text (the API and the CLI use it as it is);
    ``template`` and ``values`` let a page ask the catalog for the same words
    in Vietnamese.
    """

    def __new__(cls, template, **values):
        message = super().__new__(cls, template % values if values else template)
        message.template, message.values = template, values
        return message


def N_(template, **values):  # noqa: N802  (gettext's own name for "mark, translate later")
    """Mark a message for the catalogs (``pybabel extract -k N_``) without translating it here."""
    return Message(template, **values)


class ActionError(Exception):
    """Base of the domain errors: a message, a stable code, and messages per field."""

    code = "error"

    def __init__(self, message, fields=None, code=None):
        super().__init__(message)
        self.message = message
        self.fields = fields or {}
        if code:
            self.code = code


class NotFound(ActionError):
    """No such object, or one outside the actor's scope: the two look the same."""

    code = "not_found"


class Forbidden(ActionError):
    """The actor's roles do not allow this action at all; ``permission`` names what was missing."""

    code = "forbidden"
    permission = None


class Conflict(ActionError):
    """The request is well-formed but clashes with what is stored (a taken code, votes)."""

    code = "conflict"


class Invalid(ActionError):
    """Bad input: ``fields`` says which field and why."""

    code = "validation_error"


class Throttled(ActionError):
    """Too many failed password attempts for this account or address; try again later."""

    code = "too_many_attempts"


def invalid(field, message, summary=None):
    """``Invalid`` for one field; the field's message is the summary unless one is given."""
    return Invalid(summary or message, {field: [message]})


def describe(error):
    """One readable line: the message and each field's messages that say more (the CLI's form)."""
    fields = "; ".join(
        f"{name}: {' '.join(map(str, messages))}"
        for name, messages in error.fields.items()
        if list(messages) != [error.message]
    )
    return f"{error.message}{' (' + fields + ')' if fields else ''}"


class Unavailable(ActionError):
    """The database cannot take writes now: its disk is full, it is read-only, or a writer holds it too long.

    Not the request's fault and not a bug: nothing was changed, and the same
    request succeeds once the machine is put right, without a restart. The
    API answers 503 with ``Retry-After`` (a tablet keeps its votes and sends
    them again), a page says so in the reader's language, the CLI prints one
    ``Error:`` line, a job logs it and runs at its next turn.
    ``server.storage.health.classify`` tells which kind a driver error is.
    """

    code = "storage_unavailable"
    # kind: (code, message, seconds a client should wait before trying again)
    KINDS = {
        "full": ("storage_full", N_("The server's disk is full, so nothing could be saved. "
                                    "Nothing was changed: try again later."), 60),
        "read_only": ("storage_read_only", N_("The server's database is read-only, so nothing could be saved. "
                                              "Nothing was changed: try again later."), 60),
        "busy": ("storage_busy", N_("The server's database is busy with other changes. "
                                    "Nothing was changed: try again in a moment."), 5),
    }

    def __init__(self, kind):
        code, message, self.retry_after = self.KINDS[kind]
        super().__init__(message, code=code)
        self.kind = kind
