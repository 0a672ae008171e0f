"""``hailong jobs`` on a full or read-only disk: one readable warning a run, and the next run at its turn.

APScheduler logs a job that raised with its whole traceback and runs it
again at its next turn, which is what should happen: the job's transaction
was rolled back (``write_transaction``), its work is still waiting, and it
is done once the disk is put right, with no restart. But a full disk makes
every job fail every few seconds, and a traceback each time buries the one
line the operator needs. So a job error that ``storage.health`` recognises
is logged as that one line, at WARNING; every other error keeps its traceback.
"""

import logging

from server.storage import health

# APScheduler's executors log "Job ... raised an exception" under this name.
EXECUTOR_LOGGER = "apscheduler.executors"


class StorageErrorsInOneLine(logging.Filter):
    """Turns a job's storage error (full, read-only, busy) into one warning line without a traceback."""

    def __init__(self, database):
        super().__init__()
        self.database = database

    def filter(self, record):
        error = record.exc_info[1] if record.exc_info else None
        kind = health.classify(error, self.database) if error is not None else None
        if kind:
            original = record.getMessage()
            record.msg = "%s: the database cannot take writes now (%s: %s); nothing was changed, it runs again " \
                         "at its next turn"
            record.args = (original, kind.replace("_", "-"), error)
            record.exc_info = record.exc_text = None
            record.levelno, record.levelname = logging.WARNING, logging.getLevelName(logging.WARNING)
        return True


def install(database):
    """Filter APScheduler's job errors for ``database`` (call once, before the scheduler starts)."""
    for name in (EXECUTOR_LOGGER, f"{EXECUTOR_LOGGER}.default"):
        logging.getLogger(name).addFilter(StorageErrorsInOneLine(database))
