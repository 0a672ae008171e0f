"""The request's database connection: opened on first use, closed at teardown."""

from flask import current_app, g

from server import storage


def get_db():
    if "db" not in g:
        g.db = storage.connect(
            current_app.config["DATABASE"], current_app.config["BUSY_TIMEOUT_MS"]
        )
    return g.db


def close_db(exc=None):
    db = g.pop("db", None)
    if db is not None:
        db.close()


def init_app(app):
    app.teardown_appcontext(close_db)
