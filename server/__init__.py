"""The hailong server: a Flask application factory; importing it does nothing."""

from flask import Flask

from server import settings


def create_app(test_config=None):
    """Build the app with its settings and every blueprint.

    Without ``test_config`` the settings are read as ``settings.load`` reads
    them (defaults, ``<INSTANCE>/config.py``, ``HAILONG_*``); with it, they
    are the defaults and that mapping only (``hailong serve`` passes the
    settings it already read, tests pass their own). Either way they are
    checked, and a bad one raises ``settings.SettingsError``.
    """
    if test_config is None:
        config = settings.load()
    else:
        config = settings.check({**settings.DEFAULTS, **test_config})
    app = Flask(__name__, instance_path=config["INSTANCE"])
    app.config.from_mapping(config)
    app.json.ensure_ascii = False
    app.json.sort_keys = False

    from server import auth, db, openapi, web
    from server.api import admin, devices, errors
    from server.web import headers, monitoring

    db.init_app(app)
    errors.init_app(app)
    auth.init_app(app)
    # Device API: bearer tokens of enrolled tablets.
    app.register_blueprint(devices.bp)
    # People: pages and the admin API, OpenAPI document and docs.
    admin.register(app)
    openapi.init_app(app)
    web.init_app(app)
    # After every blueprint: every answer, the API's and the errors' included.
    headers.init_app(app)
    # /healthz, /readyz, /metrics; every request's id, timing and log line (its hook runs first).
    monitoring.init_app(app)
    return app
