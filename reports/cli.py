"""`flask reports …`: the project office's batch printing."""
import click
from flask import Blueprint

bp = Blueprint("reports_cli", __name__, cli_group="reports")


@bp.cli.command("village-summaries")
@click.option("--district", "district_id", type=int, required=True, help="District id.")
@click.option("--out", "out", type=click.Path(dir_okay=False, writable=True), required=True,
              help="The PDF file to write.")
@click.option("--as-of", "as_of", type=click.DateTime(formats=["%Y-%m-%d"]), default=None,
              help="The day the figures are taken on (default today).")
@click.option("--from", "start", type=click.DateTime(formats=["%Y-%m-%d"]), default=None,
              help="First day of the period (default: from the start).")
@click.option("--language", type=click.Choice(["en", "ru"]), default="ru", show_default=True)
@click.option("--printed-by", default=None, help="The name printed in the footer.")
def village_summaries(district_id, out, as_of, start, language, printed_by):
    """All village summaries of a district in one PDF, for the project office's printing."""
    from reports import summaries, summary_pdf
    from shg.extensions import db
    from shg.registry.models import District
    district = db.session.get(District, district_id)
    if district is None:
        raise click.BadParameter(f"no district {district_id}", param_hint="--district")
    as_of, start = (as_of.date() if as_of else None), (start.date() if start else None)
    if start and as_of and start > as_of:
        raise click.BadParameter("the period ends before it starts", param_hint="--from")
    ids = summaries.village_ids_of_district(district_id)
    data = summary_pdf.village_summaries_pdf(ids, as_of=as_of, start=start, language=language,
                                             printed_by=printed_by or "flask reports")
    with open(out, "wb") as fh:
        fh.write(data)
    click.echo(f"{len(ids)} village summaries of {district.name} written to {out}")
