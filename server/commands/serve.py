"""``hailong serve``: the web app under gunicorn."""

import os

import click
from gunicorn.app.base import BaseApplication


class _Gunicorn(BaseApplication):
    """Gunicorn serving the app built from the settings the command already read and checked."""

    def __init__(self, options, config):
        self.options = options
        self.config = config
        super().__init__()

    def load_config(self):
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self):
        from server import create_app

        return create_app(self.config)


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--workers", type=click.IntRange(min=1), help="Worker processes (default: cores + 1).")
@click.option("--threads", default=2, show_default=True, type=click.IntRange(min=1))
@click.pass_obj
def serve(obj, host, port, workers, threads):
    """Serve the API and pages with gunicorn (migrate first).

    Example: hailong serve --host 0.0.0.0 --port 8000
    """
    obj.db().close()  # refuses, readably, to serve an unmigrated database
    options = {
        "bind": f"{host}:{port}",
        "workers": workers or (os.cpu_count() or 1) + 1,
        "threads": threads,
        "worker_class": "gthread",
        "keepalive": 30,
        "graceful_timeout": 10,
        "accesslog": None,
        "errorlog": "-",
        "loglevel": "warning",
    }
    click.echo(f"hailong serving on http://{host}:{port} ({options['workers']} workers)")
    _Gunicorn(options, dict(obj.config)).run()
