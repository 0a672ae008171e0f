"""What the kiosk page can ask of the tablet, on one ``Tablet`` guarded by a lock.

The page's requests arrive on server threads; the lock keeps them from
interleaving transactions on the tablet's SQLite connection. Each method is
one step of the citizen's or the staff member's flow, and raises
``KioskError`` with a code the page understands.
"""

import threading
import time

from device_client import staff, store
from device_client.tablet import Tablet, VoteError


class KioskError(Exception):
    def __init__(self, status, code, message, **extra):
        super().__init__(message)
        self.status, self.code, self.message, self.extra = status, code, message, extra


def _refused(exc):
    """A refused PIN, with what the page may show: the same for a wrong PIN and an unknown code."""
    return KioskError(403, exc.code, str(exc), locked_until=exc.locked_until, attempts_left=exc.attempts_left)


class Kiosk:
    def __init__(self, data_dir):
        self.tablet = Tablet(data_dir)
        self.lock = threading.Lock()

    def close(self):
        self.tablet.close()

    def settings(self):
        return staff.settings(self.tablet)

    def state(self):
        """Everything the page shows besides its own flow: who, where, online, queue."""
        with self.lock:
            tablet = self.tablet
            config = tablet.config or {}
            session = staff.current(tablet)
            summary = store.queue_summary(tablet.conn, "votes")
            limits = staff.settings(tablet)
            who = staff.person(tablet, session["staff"]) if session else None
            last_vote = store.get_meta(tablet.conn, "last_vote_at", 0)
            return {
                "config_version": config.get("config_version"),
                "open": who is not None,
                "staff": who and {
                    "code": who["code"],
                    "full_name": who["full_name"],
                    "title": who["title"],
                    # The photo's hash, so a new photo gets a new URL past the browser cache.
                    "photo": who.get("photo_sha256") if staff.photo_path(tablet, who["code"]) else None,
                },
                "counter": config.get("counter"),
                "unit": {"name": (config.get("unit") or {}).get("name")},
                "online": bool(store.get_meta(tablet.conn, "last_sync_at"))
                and store.get_meta(tablet.conn, "last_error") is None,
                "queue": summary["queue_depth"],
                # A vote before then is recorded with the rapid_repeat mark (and thanked as usual).
                "next_vote_in": max(0.0, last_vote + limits["vote_interval_seconds"] - time.time()),
                "kiosk": limits,
            }

    def vote(self, key, rating, reasons):
        """Record the citizen's vote for the signed-in staff member; idempotent on ``key``.

        A vote within the vote interval of the previous one is recorded too,
        marked ``rapid_repeat``: the page thanks the citizen the same way.
        """
        with self.lock:
            session = staff.current(self.tablet)
            if session is None:
                raise KioskError(409, "closed", "Nobody is signed in at this counter.")
            try:
                vote = self.tablet.record_vote(
                    session["staff"], rating, reasons, key=key,
                    min_interval=staff.settings(self.tablet)["vote_interval_seconds"],
                )
            except VoteError as exc:
                raise KioskError(400, "invalid_vote", str(exc)) from None
            return {"seq": vote["seq"], "id": vote.get("id")}

    def sign_in(self, code, pin):
        with self.lock:
            try:
                session = staff.sign_in(self.tablet, code, pin)
            except staff.SignInError as exc:
                raise _refused(exc) from None
            except VoteError as exc:  # a roster entry the server's rules would refuse in an event
                raise KioskError(400, "invalid_event", str(exc)) from None
            return {"staff": session["staff"]}

    def sign_out(self, pin):
        """The signed-in person's own sign-out, with their PIN (anyone can open the staff panel)."""
        with self.lock:
            try:
                return {"staff": staff.sign_out_with_pin(self.tablet, pin)}
            except staff.SignInError as exc:
                raise _refused(exc) from None

    def touch(self):
        with self.lock:
            staff.touch(self.tablet)

    def photo(self, code):
        with self.lock:
            return staff.photo_path(self.tablet, code)
