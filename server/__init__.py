"""The hailong server: a Flask application factory; importing it does nothing."""

import os

from flask import Config, Flask

from server.settings import DEFAULTS

__version__ = "0.1.0"


def configure(config, test_config=None):
    """Defaults, then ``instance/config.py``, then ``HAILONG_*`` environment variables."""
    config.from_mapping(DEFAULTS)
    if test_config is None:
        config.from_pyfile("config.py", silent=True)
        config.from_prefixed_env("HAILONG")
    else:
        config.from_mapping(test_config)
    return config


def load_settings():
    """The settings ``create_app`` would use, without building the app.

    The CLI needs only these; skipping the blueprints keeps every command quick.
    """
    return configure(Config(os.path.abspath("instance")))


def create_app(test_config=None):
    """Build the app with its settings (see ``configure``) and every blueprint."""
    app = Flask(__name__, instance_path=os.path.abspath("instance"), instance_relative_config=True)
    configure(app.config, test_config)
    app.json.ensure_ascii = False
    app.json.sort_keys = False

    from server import auth, db, openapi, web
    from server.api import admin, devices, errors

    db.init_app(app)
    errors.init_app(app)
    auth.init_app(app)
    # Device API: bearer tokens of enrolled tablets.
    app.register_blueprint(devices.bp)
    # People: pages and the admin API, OpenAPI document and docs.
    admin.register(app)
    openapi.init_app(app)
    web.init_app(app)

    @app.get("/healthz")
    def healthz():
        return {"status": "ok", "version": __version__}

    return app
