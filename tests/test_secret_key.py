"""SECRET_KEY: `hailong migrate` gives the instance a random one; `hailong serve` refuses the default."""

import os
import stat
import subprocess

from devtools.processes import BIN, Process, answers, free_port
from server import settings


def env_without_key(**extra):
    """This environment less any HAILONG_* the test run may carry, plus ``extra``."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("HAILONG_")}
    return {**base, **extra}


def run(*args, env, cwd=None):
    return subprocess.run([os.path.join(BIN, "hailong"), *args], capture_output=True, text=True, env=env,
                          cwd=cwd, timeout=120)


def test_migrate_writes_a_random_key_readable_by_its_owner_only(tmp_path):
    instance = tmp_path / "instance"
    done = run("migrate", env=env_without_key(HAILONG_INSTANCE=str(instance)))
    assert done.returncode == 0, done.stderr
    config = instance / "config.py"
    assert f"Wrote a random SECRET_KEY to {config} (readable by its owner only)." in done.stdout
    assert stat.S_IMODE(config.stat().st_mode) == 0o600
    key = settings.load(environ={"HAILONG_INSTANCE": str(instance)})["SECRET_KEY"]
    assert len(key) >= 64 and key != settings.DEFAULTS["SECRET_KEY"]
    again = run("migrate", env=env_without_key(HAILONG_INSTANCE=str(instance)))
    assert "SECRET_KEY" not in again.stdout
    assert settings.load(environ={"HAILONG_INSTANCE": str(instance)})["SECRET_KEY"] == key


def test_migrate_adds_a_key_to_an_existing_config_and_keeps_what_is_there(tmp_path):
    instance = tmp_path / "instance"
    instance.mkdir()
    (instance / "config.py").write_text("TIMEZONE = 'Asia/Bangkok'")  # no newline at the end
    (instance / "config.py").chmod(0o644)
    run("migrate", env=env_without_key(HAILONG_INSTANCE=str(instance)))
    loaded = settings.load(environ={"HAILONG_INSTANCE": str(instance)})
    assert loaded["TIMEZONE"] == "Asia/Bangkok" and loaded["SECRET_KEY"] != "dev"
    assert stat.S_IMODE((instance / "config.py").stat().st_mode) == 0o600


def test_migrate_never_replaces_a_key_set_in_config_or_the_environment(tmp_path):
    instance = tmp_path / "instance"
    instance.mkdir()
    (instance / "config.py").write_text("SECRET_KEY = 'chosen by the operator'\n")
    run("migrate", env=env_without_key(HAILONG_INSTANCE=str(instance)))
    assert (instance / "config.py").read_text() == "SECRET_KEY = 'chosen by the operator'\n"
    other = tmp_path / "other"
    run("migrate", env=env_without_key(HAILONG_INSTANCE=str(other), HAILONG_SECRET_KEY="from the environment"))
    assert not (other / "config.py").exists()


def test_migrate_of_a_database_elsewhere_makes_no_instance_folder_where_it_is_typed(tmp_path):
    done = run("--database", str(tmp_path / "db" / "hailong.db"), "migrate", env=env_without_key(), cwd=tmp_path)
    assert done.returncode == 0
    assert not (tmp_path / "instance").exists()
    assert "No SECRET_KEY written" in done.stdout and "HAILONG_SECRET_KEY" in done.stdout


def test_serve_refuses_the_default_key_in_one_line(db_path, tmp_path):
    result = run("--database", str(db_path), "serve", "--port", str(free_port()), env=env_without_key(), cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.strip() == (
        "Error: SECRET_KEY is the built-in default, so anyone could forge a session cookie: run `hailong migrate`"
        f" to write a random one into {tmp_path}/instance/config.py, or set HAILONG_SECRET_KEY"
        " (see docs/settings.md).")


def test_serve_starts_with_the_key_migrate_wrote_or_in_development(tmp_path):
    instance = tmp_path / "instance"
    env = env_without_key(HAILONG_INSTANCE=str(instance))
    run("migrate", env=env)
    for extra in ({}, {"HAILONG_DEVELOPMENT": "true", "HAILONG_INSTANCE": str(tmp_path / "dev")}):
        if extra:
            run("migrate", env=env_without_key(**extra))
            (tmp_path / "dev" / "config.py").unlink()  # no key at all: development allows it
        port = free_port()
        server = Process("hailong serve", [os.path.join(BIN, "hailong"), "serve", "--port", port, "--workers", 1],
                         base_env={**env, **extra}, port=port, ready=answers("/healthz"),
                         log_path=tmp_path / "serve.log")
        try:
            server.start()
        finally:
            server.stop()
