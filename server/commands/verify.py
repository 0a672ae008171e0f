"""``hailong verify BUNDLE``: check an export bundle exactly as the auditor's standalone verifier does.

A thin wrapper: the checks are ``tools/verify.py``'s, one file an auditor
can copy and run without hailong (docs/verify.md), so the server and the
auditor can never disagree about what a bundle proves.
"""

import sys

import click

from tools import verify as verifier


@click.command("verify")
@click.argument("bundle", type=click.Path(exists=True))
@click.option("--checkpoint", "checkpoints", multiple=True, type=click.Path(exists=True, dir_okay=False),
              help="A checkpoint note you kept from earlier (repeatable): it must be consistent with the bundle's.")
@click.option("--key", help="The server's key as `hailong keys show` prints it, or a file holding it (default: "
              "this instance's own key when it has one, else the key the bundle names, with a warning).")
@click.option("--jobs", type=click.IntRange(min=1), help="Processes checking signatures (default: one per CPU).")
@click.pass_obj
def verify(obj, bundle, checkpoints, key, jobs):
    """Check an export bundle: signatures, the log's proofs, sequences, checkpoints.

    One line per finding, naming the file and row (leaf_index, vote_id,
    device and seq) or the checkpoint (size, time), then a summary. Exit
    status 0 when everything holds, 1 when something fails, 2 when the
    bundle cannot be read. The same checks as `python tools/verify.py`.

    Example: hailong verify hailong-votes-20261128T020000Z.zip --checkpoint kept-2026-11-01.txt
    """
    if key is None:
        key = _own_key(obj.config)
    status, _ = verifier.verify(bundle, checkpoints, key, jobs or verifier.default_jobs(), out=click.echo)
    sys.exit(status)


def _own_key(config):
    """This instance's verifier key, when it has a log key (a server checking its own exports)."""
    from server.ledger import keys

    try:
        return keys.verifier_key(config["LOG_NAME"], keys.load_key(config["INSTANCE"]))
    except keys.KeyFileError:
        return None
