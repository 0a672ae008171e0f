"""``hailong user create`` and ``hailong user token``: people, from the command line."""

import sys

import click

from server.commands import cli_actor, local_time


@click.group()
def user():
    """User accounts for the admin pages and API.

    Example: hailong user create --username admin --role admin
    """


@user.command()
@click.option("--username", required=True, help="Login name: lowercase letters, digits, . _ -")
@click.option("--role", type=click.Choice(["admin", "manager", "hr", "auditor"]), required=True,
              help="Role to grant; every role but admin needs --unit.")
@click.option("--unit", "unit_code", help="Code of the unit the role covers (with its subtree).")
@click.option("--full-name", default="", help="Name shown on the pages.")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@click.pass_obj
def create(obj, username, role, unit_code, full_name, password_stdin):
    """Create a user with one role; the password is asked for without echo.

    The first admin is made this way; later users can be made on the Users page.
    Example: hailong user create --username admin --role admin
    """
    from server.manage.users import create_user

    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    data = {"username": username, "password": password, "full_name": full_name,
            "roles": [{"role": role, "unit": unit_code}]}
    created = create_user(obj.db(), cli_actor(), data, obj.config)
    roles = ", ".join(r["role"] + (f" on {r['unit']}" if r["unit"] else "") for r in created["roles"])
    click.echo(f"Created user {created['username']} ({roles}).")


@user.command()
@click.option("--username", required=True, help="Whose token it is; it acts with their roles.")
@click.option("--name", required=True, help="What the token is for, e.g. 'nightly export'.")
@click.option("--days", type=click.IntRange(min=1), help="Lifetime (default API_TOKEN_DEFAULT_DAYS).")
@click.pass_obj
def token(obj, username, name, days):
    """Create a personal API token for USERNAME and print it once (the operator's tool; audited as cli).

    People make their own on their account page, with their password.

    Example: hailong user token --username auditor1 --name "monthly export" --days 30
    """
    from server.manage.account import create_token

    secret, info = create_token(obj.db(), cli_actor(), name, days, obj.config, username=username)
    click.echo(secret)
    click.echo(f"Token {info['id']} for {username}, valid until {local_time(info['expires_at'], obj.config)}."
               " It is shown only once.", err=True)
