"""Shared fixtures: a migrated database file per test, the app, and its client."""

import pytest

from migrations import migrations
from server import create_app, storage


@pytest.fixture
def db_path(tmp_path):
    path = tmp_path / "hailong.db"
    db = storage.connect(path)
    migrations.apply(db)
    db.close()
    return path


@pytest.fixture
def db(db_path):
    database = storage.connect(db_path)
    yield database
    database.close()


@pytest.fixture
def app(db_path):
    return create_app({"TESTING": True, "DATABASE": str(db_path)})


@pytest.fixture
def client(app):
    return app.test_client()
