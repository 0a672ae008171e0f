"""One ``hailong jobs`` schedules among several machines on one PostgreSQL; the others stand by.

Every ``hailong jobs`` on PostgreSQL keeps one connection of its own for
the election (``server/storage/leader.py``): the one whose
``pg_try_advisory_lock`` succeeds leads and runs the scheduler; the others
try again every JOBS_LEADER_POLL_SECONDS. When the leader dies its
connection ends and PostgreSQL frees the lock, so a standby leads at its
next try. The leader checks the same way that it still holds the lock (a
PostgreSQL restart ends every session, and a standby may have taken it
since): if not, it stops its scheduler, lets the runs under way finish, and
stands by like the others until it holds the lock again. So at most one
scheduler runs at a time, whichever machine fails.

A machine that vanishes without closing its socket (power cut, cable) is
noticed by PostgreSQL's TCP keepalive, set per session on the lock
connection to JOBS_LEADER_POLL_SECONDS idle plus three probes; a leader that
cannot reach PostgreSQL any more cannot write either, so its jobs fail
instead of running twice.
"""

import logging

from server.storage import Error, connect, leader

log = logging.getLogger("hailong.jobs")


class Election:
    """This process's lock connection and what it knows of its role (``leading``)."""

    def __init__(self, database, poll_seconds):
        self.database = database
        self.poll_seconds = poll_seconds
        self.db = None
        self.leading = False
        self.failing = False  # the last try failed: its error was logged, the next ones are not (every poll)

    def try_lead(self):
        """Lead if the lock is free (connecting first if need be); True when this process leads now."""
        try:
            if self.db is None:
                self.db = connect(self.database)
                leader.keep_alive(self.db, max(3, self.poll_seconds))
            self.leading = leader.try_lead(self.db)
            if self.failing:
                log.info("the leader lock's connection works again")
                self.failing = False
        except Error as exc:
            self._drop(exc)
        return self.leading

    def still_leading(self):
        """Whether the lock is still ours; on a lost connection or lock, False and a fresh start next try."""
        try:
            if leader.holds(self.db):
                return True
            self._drop(None)
        except Error as exc:
            self._drop(exc)
        return False

    def close(self):
        """Give the lock up (a clean stop) so a standby leads at its next try."""
        if self.db is not None:
            try:
                if self.leading:
                    leader.release(self.db)
            except Error:
                pass  # the session is gone, and its lock with it
            self._drop(None)

    def _drop(self, error):
        if error is not None and not self.failing:
            log.warning("the leader lock's connection failed (trying again every %s s): %s", self.poll_seconds,
                        str(error).strip())
            self.failing = True
        self.leading = False
        if self.db is not None:
            try:
                self.db.close()
            except Error:
                pass
        self.db = None
