"""Who may be rated at this counter, and on which days, from the cached configuration.

The server sends the counter's roster (docs/protocol.md, "Configuration"):
its unit's staff, who may serve any day (``"assignments": null``), and
staff seconded from other units for spans of local dates
(``[{"from": "2026-12-01", "to": null}, ...]``, both ends included). The
tablet refuses a tap for anyone else, as the server would.
"""

import datetime as dt


def serving(config, code, day=None):
    """The roster entry of staff ``code`` if they may serve on ``day`` (``YYYY-MM-DD``; today), else None."""
    day = day or dt.date.today().isoformat()
    for person in (config or {}).get("staff", []):
        if person["code"] == code and _on(person.get("assignments"), day):
            return person
    return None


def _on(assignments, day):
    if assignments is None:
        return True
    return any(span["from"] <= day and (span["to"] is None or day <= span["to"]) for span in assignments)
