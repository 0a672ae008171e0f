"""``hailong scale``: publish a rating-scale version, list them, through the scales actions."""

import json

import click
from marshmallow import ValidationError

from server.commands import cli_actor
from server.errors import Invalid
from server.schemas import flat_messages
from server.manage import scales as scale_actions


@click.group()
def scale():
    """Rating-scale versions: the levels tablets show and the reasons citizens pick.

    Example: hailong scale publish docs/examples/scale-v2.json
    """


def _describe(found):
    levels = ", ".join(f"{level['value']} {level['label_vi']}{' ✓' if level['satisfied'] else ''}"
                       for level in found["levels"])
    return f"version {found['version']} ({found['created_at']}): {levels}; {len(found['reasons'])} reasons"


@scale.command("list")
@click.pass_obj
def list_(obj):
    """Every version, newest (current) first; ✓ marks the levels that count as satisfied.

    Example: hailong scale list
    """
    for found in scale_actions.list_scales(obj.db(), cli_actor()):
        click.echo(_describe(found) + f"; {found['votes']} votes" + (" (current)" if found["current"] else ""))


@scale.command("publish")
@click.argument("file", type=click.File("r", encoding="utf-8"))
@click.pass_obj
def publish(obj, file):
    """Publish the next version from FILE (JSON: levels with value, label_vi, label_en, satisfied and an
    optional weight 0-100; reasons with code, label_vi, label_en; an optional note). See docs/admin.md.

    Example: hailong scale publish docs/examples/scale-v2.json
    """
    from server.api.admin.schemas import ScaleSchema

    try:
        data = ScaleSchema().load(json.load(file))
    except json.JSONDecodeError as exc:
        raise Invalid(f"{file.name} is not JSON: {exc}.") from None
    except ValidationError as exc:
        raise Invalid("The rating scale is not valid: see the fields.", flat_messages(exc.messages)) from None
    published = scale_actions.publish(obj.db(), cli_actor(), data)
    click.echo(f"Published {_describe(published)}. Tablets get it with their next configuration; votes keep "
               "the version they were cast with.")
