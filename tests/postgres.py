"""A throwaway PostgreSQL for the tests, and the ``backend`` parameter that runs a test on both databases.

One server per test session (per xdist worker), made with Debian's
``initdb`` and ``pg_ctl`` in a temporary folder (``devtools/postgres.py``)
and stopped at the end; Debian's ``postgresql`` package is installed first
when it is missing, as Chromium is. Each test gets a database of its own,
copied from a migrated template, so tests never see each other's rows.

A test module runs on both backends with ``pytestmark = pytest.mark.backends``
(or the mark on one test): its ``db_path`` (and what is built on it: ``db``,
``app``, ``live_server``, ...) is a SQLite file once and a PostgreSQL
database once; the test id says which (``[sqlite]``, ``[postgresql]``).
"""

import itertools
import os

import pytest

from tests import debian_packages

_names = itertools.count(1)


class PostgresTarget(str):
    """A ``postgresql://`` URL that also answers ``.parent`` (the test's folder) as a SQLite ``Path`` does."""

    def __new__(cls, url, folder, name):
        target = super().__new__(cls, url)
        target.parent = folder
        target.name = name
        return target


def ensure_installed():
    from devtools import postgres

    # Always through debian_packages, whose lock keeps a worker from using a PostgreSQL that another
    # worker's apt has only half installed.
    debian_packages.ensure("initdb", "postgresql", service="postgresql", paths=("/usr/lib/postgresql/*/bin/initdb",))
    if postgres.bin_dir() is None:
        pytest.fail("apt-get installed postgresql but no /usr/lib/postgresql/*/bin/initdb was found")


@pytest.fixture(scope="session")
def postgresql_cluster(tmp_path_factory):
    """The session's PostgreSQL server (stopped and removed at the end)."""
    ensure_installed()
    from devtools.postgres import Cluster

    cluster = Cluster().start()
    yield cluster
    cluster.remove()


@pytest.fixture(scope="session")
def postgresql_template(postgresql_cluster):
    """A migrated database, the template of every test's database."""
    from migrations import migrations
    from server import storage
    from server.storage import partitions

    postgresql_cluster.create_database("hailong_template")
    db = storage.connect(postgresql_cluster.url("hailong_template"))
    migrations.apply(db)
    partitions.ensure(db)
    db.close()
    return "hailong_template"


def new_database(cluster, template, folder):
    """A fresh migrated database for one test, as a ``PostgresTarget``."""
    name = f"t{os.getpid()}_{next(_names)}"
    url = cluster.create_database(name, template=template)
    return PostgresTarget(url, folder, name)
