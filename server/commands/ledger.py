"""``hailong checkpoint`` and ``hailong keys show``: the tamper-evident log from the command line."""

import click

from server.commands import cli_actor
from server.ledger import leaves
from server.manage import ledger as ledger_actions

TREES = tuple(leaves.TREES)


@click.command()
@click.option("--tree", type=click.Choice([*TREES, "all"]), default="all", show_default=True,
              help="Which log to sign a checkpoint of.")
@click.pass_obj
def checkpoint(obj, tree):
    """Append the newest votes, sign-in events or audit entries to their log and sign a checkpoint of it now.

    Prints each signed note, as an auditor keeps it (docs/verify.md). The jobs
    process signs them on its own (LOG_CHECKPOINT_MINUTES, at least daily).

    Example: hailong checkpoint --tree votes
    """
    db = obj.db()
    try:
        for name in TREES if tree == "all" else (tree,):
            row = ledger_actions.publish_checkpoint(db, cli_actor(), obj.config, name)
            click.echo(f"Checkpoint {row['id']} of the {name} log: {row['size']} entries, at {row['at']}.")
            click.echo(row["note"], nl=False)
    finally:
        db.close()


@click.group()
def keys():
    """The server's own signing key (INSTANCE/log-key), which signs checkpoints and export manifests.

    Example: hailong keys show
    """


@keys.command("show")
@click.pass_obj
def show(obj):
    """Print the server's public key, its id, and the verifier key line auditors keep.

    The private key never leaves INSTANCE/log-key (made by `hailong migrate`).

    Example: hailong keys show
    """
    db = obj.db()
    try:
        key = ledger_actions.server_key(db, cli_actor(), obj.config)
    finally:
        db.close()
    click.echo(f"log name:     {key['name']}")
    click.echo(f"public key:   {key['public_key']}")
    click.echo(f"key id:       {key['key_id']}")
    click.echo(f"verifier key: {key['verifier_key']}")
