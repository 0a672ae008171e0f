"""``hailong report``: a unit's monthly report as an HTML file; and the monthly mail step of ``hailong jobs``."""

import click

from server.commands import cli_actor
from server.manage import reports


def _app(config):
    from server import create_app

    return create_app(dict(config))


def queue_monthly_reports(db, settings, now):
    """The jobs step: last month's report to each unit's managers, rendered with the page's template."""
    from server.web.reports import render_mail

    app = _app(settings)
    return reports.queue_monthly_reports(db, settings, now, lambda report: render_mail(app, report))


@click.command("report")
@click.option("--unit", "unit_code", required=True, help="Code of the unit (its subtree is included).")
@click.option("--period", required=True, help="The month, e.g. 2026-10.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, writable=True),
              help="Write the HTML to this file (default: print it).")
@click.option("--lang", type=click.Choice(["vi", "en"]), default="vi", show_default=True)
@click.pass_obj
def report(obj, unit_code, period, output, lang):
    """Write a unit's monthly report (the printable page the managers are mailed) as one HTML file.

    Example: hailong report --unit DN-TT --period 2026-10 -o dn-tt-2026-10.html
    """
    from server.web.reports import render_html

    data = reports.unit_report(obj.db(), cli_actor(), unit_code, period, obj.config)
    html = render_html(_app(obj.config), data, lang)
    if output:
        with open(output, "w", encoding="utf-8") as handle:
            handle.write(html)
        click.echo(f"Wrote the {period} report of {unit_code} to {output}.", err=True)
    else:
        click.echo(html)
