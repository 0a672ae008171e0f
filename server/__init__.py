"""The hailong server: a Flask application factory; importing it does nothing."""

import os

from flask import Flask

from server.settings import DEFAULTS

__version__ = "0.1.0"


def create_app(test_config=None):
    """Build the app: defaults, then ``instance/config.py``, then ``HAILONG_*`` env vars."""
    app = Flask(__name__, instance_path=os.path.abspath("instance"), instance_relative_config=True)
    app.config.from_mapping(DEFAULTS)
    if test_config is None:
        app.config.from_pyfile("config.py", silent=True)
        app.config.from_prefixed_env("HAILONG")
    else:
        app.config.from_mapping(test_config)
    app.json.ensure_ascii = False
    app.json.sort_keys = False

    from server import db, errors
    from server.api import devices, votes

    db.init_app(app)
    errors.init_app(app)
    app.register_blueprint(devices.bp)
    app.register_blueprint(votes.bp)
    from server.api.sessions import bp as sessions_bp; app.register_blueprint(sessions_bp)  # noqa: E702

    from server import auth, openapi, web; auth.init_app(app); openapi.init_app(app); web.init_app(app)  # noqa: E702
    from server.api import admin as admin_api; admin_api.register(app)  # noqa: E702

    @app.get("/healthz")
    def healthz():
        return {"status": "ok", "version": __version__}

    return app
