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
@click.option("--role", type=click.Choice(["admin", "manager", "hr", "auditor", "staff"]), required=True,
              help="Role to grant; every role but admin and staff needs --unit; staff needs --staff.")
@click.option("--unit", "unit_code", help="Code of the unit the role covers (with its subtree).")
@click.option("--staff", "staff_code", help="Code of the staff record the account belongs to (its own account).")
@click.option("--email", default="", help="Where alerts and reports are sent.")
@click.option("--full-name", default="", help="Name shown on the pages.")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@click.pass_obj
def create(obj, username, role, unit_code, staff_code, email, full_name, password_stdin):
    """Create a user with one role; the password is asked for without echo.

    The first admin is made this way; later users can be made on the Users page.
    A civil servant's own account is linked to their staff record and holds the staff role.

    Example: hailong user create --username admin --role admin
    Example: hailong user create --username cb0001 --role staff --staff CB0001 --email nhung@example.vn
    """
    from server.manage.users import create_user

    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    data = {"username": username, "password": password, "full_name": full_name, "email": email,
            "staff": staff_code, "roles": [{"role": role, "unit": unit_code}]}
    created = create_user(obj.db(), cli_actor(), data, obj.config)
    roles = ", ".join(r["role"] + (f" on {r['unit']}" if r["unit"] else "") for r in created["roles"])
    click.echo(f"Created user {created['username']} ({roles}).")


@user.command()
@click.option("--username", required=True, help="The account to change.")
@click.option("--email", help="Where alerts and reports are sent ('' for none).")
@click.option("--staff", "staff_code", help="Link the account to this staff record (its own account).")
@click.option("--unlink-staff", is_flag=True, help="Remove the link to a staff record (revoke the staff role first).")
@click.pass_obj
def update(obj, username, email, staff_code, unlink_staff):
    """Change a user's e-mail address or the staff record their account is linked to.

    Example: hailong user update --username cb0001 --staff CB0001 --email nhung@example.vn
    """
    from server.manage.users import update_user

    if staff_code and unlink_staff:
        raise click.UsageError("Give --staff or --unlink-staff, not both.")
    data = {}
    if email is not None:
        data["email"] = email
    if staff_code or unlink_staff:
        data["staff"] = None if unlink_staff else staff_code
    if not data:
        raise click.UsageError("Nothing to change: give --email, --staff or --unlink-staff.")
    changed = update_user(obj.db(), cli_actor(), username, data, obj.config)
    click.echo(f"Updated user {changed['username']}: e-mail {changed['email'] or '-'},"
               f" staff record {changed['staff'] or '-'}.")


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
