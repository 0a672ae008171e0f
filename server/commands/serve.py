"""``hailong serve``: the web app under gunicorn."""

import functools
import logging
import os

import click
from gunicorn.app.base import BaseApplication

from server import settings, storage
from server.monitoring import logs, multiprocess
from server.storage import health

HTTPS_HOW = 'docs/admin.md, "HTTPS and the reverse proxy"'


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

    Refuses the default SECRET_KEY unless DEVELOPMENT is on. Browsers on
    other machines sign in only over HTTPS: a TLS reverse proxy goes in front.
    Example: hailong serve --host 0.0.0.0 --port 8000
    """
    problem = settings.serving_problem(obj.config)
    if problem:
        raise settings.SettingsError(problem)
    logs.configure(obj.config)
    check_database(obj)
    multiprocess.prepare()  # before any worker imports prometheus_client: /metrics sums every worker
    options = {
        "bind": f"{host}:{port}",
        "workers": workers or (os.cpu_count() or 1) + 1,
        "threads": threads,
        "worker_class": "gthread",
        "keepalive": 30,
        "graceful_timeout": 10,
        "accesslog": None,  # server/web/monitoring.py logs each request with its id, route and user
        "errorlog": "-",
        "loglevel": obj.config["LOGGING_LEVEL"].lower(),
        "logconfig_dict": logs.dict_config(obj.config),  # gunicorn's own lines as JSON too
        "child_exit": multiprocess.child_exit,
        "on_exit": multiprocess.on_exit,
    }
    say = functools.partial(logs.say, obj.config, "hailong.serve")
    say(f"hailong serving on http://{host}:{port} ({options['workers']} workers)")
    for line in sign_in_notice(obj.config):
        say(line)
    _Gunicorn(options, dict(obj.config)).run()


def check_database(obj):
    """Refuse, readably, to serve an unmigrated database; serve one that cannot take writes now.

    A machine may come back with its disk full or mounted read-only (SQLite
    cannot even open a WAL database on a read-only disk). Refusing to start
    would leave tablets with a refused connection and people with the
    proxy's bare 502; serving answers them 503 with the reason, /readyz says
    what is wrong, and requests succeed by themselves once the disk is put
    right. Whether migrations are current is then unknown: the warning says so.
    """
    try:
        obj.db().close()
    except storage.Error as exc:
        kind = health.classify(exc, obj.config["DATABASE"])
        if kind not in (health.FULL, health.READ_ONLY):
            raise
        logs.say(obj.config, "hailong.serve", f"Warning: the database {storage.describe(obj.config['DATABASE'])} cannot take writes "
                 f"now ({kind.replace('_', '-')}: {exc}); serving anyway: requests answer 503 until it can, "
                 "and its migrations could not be checked.", logging.WARNING)


def sign_in_notice(config):
    """What the start-up lines say about signing in: HTTPS needed, or loudly, why it is not."""
    if config["DEVELOPMENT"]:
        return ["DEVELOPMENT is on: sign-in works over plain HTTP and the default SECRET_KEY is accepted."
                " Never in production."]
    if config["INSECURE_HTTP_TRIAL"]:
        bar = "!" * 78
        return [bar,
                "WARNING: INSECURE_HTTP_TRIAL is on. Sign-in works over plain HTTP, so passwords and session"
                " cookies cross the network unencrypted, readable by anyone on it.",
                f"For a trial on a closed LAN only: turn it off and put HTTPS in front before real use ({HTTPS_HOW}).",
                bar]
    proxies = config["TRUSTED_PROXIES"]
    behind = (f"TRUSTED_PROXIES={proxies}: the client's address is what the nearest proxy forwards" if proxies
              else "TRUSTED_PROXIES=0: the client's address is the connection's")
    return [f"Sign-in needs HTTPS: browsers keep the session cookie only over https:// (or from this machine),"
            f" so put a TLS reverse proxy in front ({HTTPS_HOW}); {behind}."]
