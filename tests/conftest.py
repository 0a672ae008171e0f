"""Shared fixtures: a migrated database file per test, the app, and its client."""

import os
import subprocess

import pytest

from migrations import migrations
from server import create_app, storage


def pytest_generate_tests(metafunc):
    """Tests marked ``backends`` run once on SQLite and once on PostgreSQL (tests/postgres.py).

    ``@pytest.mark.backends("sqlite")`` on one test of a module marked ``backends`` keeps it on SQLite
    alone (a page's rendering or a pure check whose SQL the module's other tests run on both).
    """
    marker = metafunc.definition.get_closest_marker("backends")
    if marker and "backend" in metafunc.fixturenames:
        metafunc.parametrize("backend", list(marker.args) or ["sqlite", "postgresql"], indirect=True)


@pytest.fixture(scope="module")
def backend(request):
    """``"sqlite"`` (the default) or ``"postgresql"`` for tests marked ``backends``.

    Module-scoped so that module-scoped fixtures (``shared_server``) can follow it: pytest then runs a
    module's tests on SQLite first and on PostgreSQL after, one shared server each.
    """
    return getattr(request, "param", "sqlite")


@pytest.fixture
def db_path(tmp_path, backend, request):
    """The test's migrated database: a SQLite file, or (``backend`` postgresql) a PostgreSQL database's URL."""
    if backend == "postgresql":
        from tests.postgres import new_database

        cluster = request.getfixturevalue("postgresql_cluster")
        target = new_database(cluster, request.getfixturevalue("postgresql_template"), tmp_path)
        yield target
        release_pools(target)
        cluster.drop_database(target.name)  # ~10 MB each: a thousand would fill a small /tmp
        return
    path = tmp_path / "hailong.db"
    db = storage.connect(path)
    migrations.apply(db)
    db.close()
    yield path


def release_pools(target):
    """Close the pools this process opened on a test's PostgreSQL database (server/db.py) before it is
    dropped: their idle connections would otherwise stay, and reconnect to a dropped database, until the
    session ends."""
    from server import db as request_db

    request_db.close_pools(target)


@pytest.fixture
def empty_target(tmp_path, backend, request):
    """A database with nothing in it yet (for ``hailong migrate`` and the migrations): a SQLite path that does
    not exist, or (``backend`` postgresql) an empty PostgreSQL database's URL."""
    if backend == "postgresql":
        from tests.postgres import PostgresTarget

        cluster = request.getfixturevalue("postgresql_cluster")
        name = f"empty{os.getpid()}_{tmp_path.name[-40:]}".lower().replace("-", "_")
        yield PostgresTarget(cluster.create_database(name), tmp_path, name)
        cluster.drop_database(name)
        return
    yield tmp_path / "new.db"


@pytest.fixture
def db(db_path):
    database = storage.connect(db_path)
    yield database
    database.close()


@pytest.fixture
def app(db_path):
    return create_app({"TESTING": True, "DATABASE": str(db_path), "INSTANCE": str(db_path.parent)})


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def live_server(db_path, tmp_path):
    """A real ``hailong serve`` on a free port, over a migrated database with a small org."""
    from devtools.processes import Server
    from tests.live import seed_org

    seed_org(db_path, tmp_path)
    server = Server(db_path, log_path=tmp_path / "serve.log").start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def shared_server(tmp_path_factory, backend, request):
    """One real server for a whole test module (per backend); tests isolate themselves by device."""
    from devtools.processes import Server
    from tests.live import seed_org

    folder = tmp_path_factory.mktemp("shared_server")
    if backend == "postgresql":
        from tests.postgres import new_database

        cluster = request.getfixturevalue("postgresql_cluster")
        path = new_database(cluster, request.getfixturevalue("postgresql_template"), folder)
    else:
        path = folder / "hailong.db"
        database = storage.connect(path)
        migrations.apply(database)
        database.close()
    seed_org(path, folder)
    server = Server(path, log_path=folder / "serve.log").start()
    yield server
    server.stop()
    if backend == "postgresql":
        cluster.drop_database(path.name)


# Browser fixtures (``browser``, ``page``) for page tests: Debian Chromium + Playwright.
from tests.browser import browser, page  # noqa: E402,F401

# The throwaway PostgreSQL server of tests marked ``backends`` (tests/postgres.py).
from tests.postgres import postgresql_cluster, postgresql_template  # noqa: E402,F401


# People with roles (admin, manager, hr, auditor, nobody) over a small org, for
# the admin API and page tests: built once, copied per test (argon2 is slow).
@pytest.fixture(scope="session")
def people_template(tmp_path_factory):
    from tests.people import build

    folder = tmp_path_factory.mktemp("people")
    path = folder / "template.db"
    facts = build(path, folder)
    return path, facts


@pytest.fixture(scope="session")
def people_template_postgresql(postgresql_cluster, postgresql_template, tmp_path_factory):
    """The people database built once in PostgreSQL: a template database each test's copy is made from."""
    from tests.people import build_postgresql

    return build_postgresql(postgresql_cluster, postgresql_template, tmp_path_factory.mktemp("people_postgresql"))


@pytest.fixture
def people(backend, request, tmp_path):
    """``(db_path, facts)``: a fresh copy of the people database for one test (on PostgreSQL for
    ``backend`` postgresql: a database made from the template database)."""
    from tests.people import copy_db, copy_postgresql

    from server.ledger import keys

    keys.ensure_key(str(tmp_path))  # the log's signing key, in the copy's instance folder
    if backend == "postgresql":
        template, facts = request.getfixturevalue("people_template_postgresql")
        cluster = request.getfixturevalue("postgresql_cluster")
        target = copy_postgresql(cluster, template, tmp_path)
        yield target, facts
        release_pools(target)
        cluster.drop_database(target.name)
        return
    template, facts = request.getfixturevalue("people_template")
    yield copy_db(template, tmp_path / "people.db"), facts


@pytest.fixture
def admin_client(people):
    from tests.people import app_for

    path, facts = people
    return app_for(path).test_client()


@pytest.fixture(scope="module")
def kiosk_server(tmp_path_factory):
    """A real server for a kiosk test module: staff with PINs and a photo (tests/kiosk_live.py)."""
    from tests.kiosk_live import migrated_database, start_server

    folder = tmp_path_factory.mktemp("kiosk_server")
    live = start_server(migrated_database(folder), folder)
    yield live
    live.stop()


@pytest.fixture
def kiosk_client(tmp_path):
    """The kiosk's local service through Flask's test client, over an offline tablet (tests/kiosk_live.py)."""
    from tests.kiosk_live import kiosk_test_client, offline_tablet

    offline_tablet(tmp_path).close()
    with kiosk_test_client(tmp_path) as client:
        yield client


def _tracked_changes(checkout):
    """``git status --porcelain`` lines of tracked files, or None outside a git checkout."""
    try:
        done = subprocess.run(["git", "-C", checkout, "status", "--porcelain", "--untracked-files=no"],
                              capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return set(done.stdout.splitlines()) if done.returncode == 0 else None


@pytest.fixture(scope="session", autouse=True)
def the_checkout_stays_as_it_was():
    """A test run never changes tracked files: screenshots go to a temporary folder
    unless ``make screenshots`` asks for them (SCREENSHOTS_DIR), the only exception."""
    checkout = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    before = _tracked_changes(checkout)
    yield
    after = _tracked_changes(checkout)
    if before is None or after is None:
        return
    wanted = os.environ.get("SCREENSHOTS_DIR")
    wanted = os.path.relpath(os.path.abspath(wanted), checkout) + os.sep if wanted else None
    changed = sorted(line for line in after - before if not (wanted and line[3:].startswith(wanted)))
    if changed:
        pytest.fail("The test run changed tracked files (or they were edited meanwhile):\n" + "\n".join(changed),
                    pytrace=False)


@pytest.fixture
def mail_server():
    """A real SMTP server on a free port that keeps the messages it received (tests/smtp.py)."""
    from tests.smtp import MailServer

    server = MailServer().start()
    yield server
    server.stop()
