"""The printed village, district and programme summaries: layout only.

Values come from ``reports.summaries.summary`` (which takes them from each figure's own
function); here they are only formatted, in the reader's language, through ``reports.pdf``.
"""
from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Iterable, Optional

from flask_babel import format_date
from flask_babel import gettext as _

from reports import charts, pdf
from reports.summaries import Summary, summary
from shg.labels import label


def title_of(s: Summary) -> str:
    return {"village": _("Village summary: %(name)s", name=s.name),
            "district": _("District summary: %(name)s", name=s.name),
            "country": _("Programme summary: %(name)s", name=s.name)}[s.level]


def _period(s: Summary) -> str:
    if s.start:
        return _("Period: %(start)s to %(end)s", start=pdf.day(s.start), end=pdf.day(s.as_of))
    return _("Period: everything recorded up to %(end)s", end=pdf.day(s.as_of))


def _tonnes(value: Decimal) -> str:
    return pdf.number(value.quantize(Decimal("0.001")))


def _usd(value) -> str:
    """The USD value, or a dash and a note while a harvest lacks its exchange rate."""
    if value.amount is not None:
        return pdf.money(value.amount, "USD")
    return _("%(amount)s (rates missing for %(count)s harvests)",
             amount=pdf.money(value.converted, "USD"), count=len(value.lacking))


def _local(values: dict) -> str:
    return ", ".join(pdf.money(v, c) for c, v in values.items()) or "—"


def headline(s: Summary) -> str:
    """The paragraph in the style of the published results, from the data."""
    parts = [_("%(groups)s SHGs with %(families)s families (%(women)s women) in %(villages)s "
               "pilot villages.", groups=pdf.number(s.groups), families=pdf.number(s.members),
               women=pdf.percent(s.share_women) if s.share_women is not None else "—",
               villages=pdf.number(s.pilot_villages))]
    h = s.harvest.total
    if h.recipients:
        if h.harvested == h.recipients:
            parts.append(_("%(recipients)s SHG members from %(villages)s villages received "
                           "seeds, and every one of those families harvested a crop.",
                           recipients=pdf.number(h.recipients), villages=pdf.number(h.villages)))
        else:
            parts.append(_("%(recipients)s SHG members from %(villages)s villages received "
                           "seeds, and %(harvested)s of those families (%(share)s) harvested "
                           "a crop.", recipients=pdf.number(h.recipients),
                           villages=pdf.number(h.villages), harvested=pdf.number(h.harvested),
                           share=pdf.percent(h.share_harvested)))
    if h.harvests:
        if h.value_usd.amount is not None:
            parts.append(_("Together they harvested %(tonnes)s tonnes, with an estimated market "
                           "value of USD %(usd)s.", tonnes=_tonnes(h.volume_t),
                           usd=pdf.number(h.value_usd.amount)))
        else:
            parts.append(_("Together they harvested %(tonnes)s tonnes.",
                           tonnes=_tonnes(h.volume_t)))
    for currency, f in s.loans.items():
        if f.disbursed_count:
            parts.append(_("%(count)s loans of %(amount)s were disbursed; %(outstanding)s is "
                           "outstanding, PAR30 %(par)s.", count=pdf.number(f.disbursed_count),
                           amount=pdf.money(f.disbursed_amount, currency),
                           outstanding=pdf.money(f.gross_outstanding, currency),
                           par=pdf.percent(f.par30)))
    return " ".join(parts)


def _place_facts(s: Summary) -> list:
    words = {"district": _("District"), "region": _("Region"), "country": _("Country")}
    pairs = [(words[level], name) for level, name in s.parents]
    if s.level == "village":
        pairs.append((_("Pilot village since"),
                      pdf.day(s.pilot_joined_on) if s.pilot_joined_on else _("Not a pilot village")))
    else:
        pairs.append((_("Villages (pilot villages)"),
                      f"{pdf.number(s.villages)} ({pdf.number(s.pilot_villages)})"))
    return pairs


def _membership(s: Summary) -> list:
    m = s.migration
    destinations = ", ".join(
        _("%(country)s: %(households)s households, %(people)s people", country=label(code),
          households=pdf.number(n), people=pdf.number(m.people_by_destination.get(code, 0)))
        for code, n in m.households_by_destination.items()) or "—"
    return [
        pdf.heading(_("Groups and families"), 2),
        pdf.facts([(_("Groups (active)"), f"{pdf.number(s.groups)} ({pdf.number(s.active_groups)})"),
                   (_("Member families"), pdf.number(s.members)),
                   (_("Women"), f"{pdf.number(s.women)} ({pdf.percent(s.share_women)})"),
                   (_("Households"), pdf.number(m.households)),
                   (_("Households with migrants"),
                    f"{pdf.number(m.with_migrants)} ({pdf.percent(m.share_with_migrants)})"),
                   ], columns=2),
        pdf.para(_("Where the migrants work: %(destinations)s", destinations=destinations),
                 "small"),
    ]


def _meetings(s: Summary) -> list:
    flowables = [
        pdf.heading(_("Meetings and savings"), 2),
        pdf.facts([(_("Meetings held"), pdf.number(s.meetings)),
                   (_("Mean attendance"), pdf.percent(s.attendance_rate)),
                   (_("Savings paid in, period"), pdf.money(s.savings, s.currency)),
                   (_("Savings balance"), pdf.money(s.savings_balance, s.currency))], columns=2),
    ]
    if s.attendance_months:
        months = s.attendance_months[-18:]
        rates = [Decimal(a) / Decimal(p) if p else Decimal(0) for _m, p, a in months]
        flowables.append(charts.bar_chart(
            [format_date(m, "MMM yy") for m, _p, _a in months], [r * 100 for r in rates],
            title=_("Attendance by month"), value_labels=[pdf.percent(r) for r in rates]))
    return flowables


def _seeds_and_harvests(s: Summary) -> list:
    h = s.harvest
    flowables = [pdf.heading(_("Seeds and harvests"), 2)]
    if s.seeds:
        flowables.append(pdf.table(
            [_("Crop"), _("Unit"), _("Quantity delivered"), _("Families")],
            [[line.crop, line.unit, pdf.number(line.quantity), pdf.number(line.recipients)]
             for line in s.seeds], col_widths=(0.4, 0.2, 0.2, 0.2), numeric_cols=(2, 3)))
    flowables.append(pdf.spacer(2))
    flowables.append(pdf.table(
        ["", _("All"), _("Women"), _("Men")],
        [[_("Families that received seeds")] + [pdf.number(r.recipients) for r in (h.total, h.female, h.male)],
         [_("Families that harvested")] + [pdf.number(r.harvested) for r in (h.total, h.female, h.male)],
         [_("Share of recipients that harvested")] + [pdf.percent(r.share_harvested) for r in (h.total, h.female, h.male)],
         [_("Harvest, tonnes")] + [_tonnes(r.volume_t) for r in (h.total, h.female, h.male)],
         [_("Value, local currency")] + [_local(r.value_local) for r in (h.total, h.female, h.male)],
         [_("Value, USD")] + [_usd(r.value_usd) for r in (h.total, h.female, h.male)]],
        col_widths=(0.34, 0.22, 0.22, 0.22), numeric_cols=(1, 2, 3)))
    crops = [(name, r) for name, r in s.harvest_by_crop if r.harvests]
    if crops:
        flowables.append(charts.horizontal_bars(
            [name for name, _r in crops],
            [r.value_usd.converted for _n, r in crops], title=_("Harvest value by crop, USD"),
            value_labels=[pdf.number(r.value_usd.converted) for _n, r in crops]))
    return flowables


def _loans(s: Summary) -> list:
    flowables = [pdf.heading(_("Loans"), 2)]
    if not s.loans:
        return flowables + [pdf.para(_("No loans disbursed."))]
    currencies = list(s.loans)
    rows = [
        [_("Loans disbursed in the period")] + [pdf.number(s.loans[c].disbursed_count) for c in currencies],
        [_("Amount disbursed")] + [pdf.money(s.loans[c].disbursed_amount) for c in currencies],
        [_("Active loans")] + [pdf.number(s.loans[c].active_loans) for c in currencies],
        [_("Outstanding principal")] + [pdf.money(s.loans[c].gross_outstanding) for c in currencies],
        [_("PAR30")] + [pdf.percent(s.loans[c].par30) for c in currencies],
        [_("On-time repayment rate")] + [pdf.percent(s.loans[c].on_time_rate) for c in currencies],
        [_("Collection rate")] + [pdf.percent(s.loans[c].collection_rate) for c in currencies],
        [_("Written off")] + [f"{pdf.number(s.loans[c].written_off_count)} / "
                              f"{pdf.money(s.loans[c].written_off_amount)}" for c in currencies],
    ]
    width = 0.6 / len(currencies)
    flowables.append(pdf.table([""] + currencies, rows, col_widths=[0.4] + [width] * len(currencies),
                               numeric_cols=range(1, len(currencies) + 1)))
    for currency, f in s.loans.items():
        if f.gross_outstanding:
            names = [label(b) for b in f.buckets]
            flowables.append(charts.horizontal_bars(
                names, [v[1] for v in f.buckets.values()],
                title=_("Outstanding principal by days late, %(currency)s", currency=currency),
                value_labels=[f"{pdf.money(v[1])} ({pdf.number(v[0])})" for v in f.buckets.values()]))
    return flowables


def _rows_table(s: Summary) -> list:
    title = {"group": _("Groups"), "village": _("Villages"), "district": _("Districts")}[s.row_level]
    single = len(s.loans) <= 1  # one currency: amounts without its code, as the header says
    header = [title, _("Groups"), _("Families"), _("Women"), _("Meetings"), _("Attendance"),
              _("Savings"), _("Harvest, t"), _("USD"), _("Outstanding"), _("PAR30")]
    widths = [0.2, 0.06, 0.07, 0.07, 0.07, 0.08, 0.1, 0.07, 0.08, 0.12, 0.08]
    rows = []
    for row in s.rows:
        h = row.harvest
        outstanding = "; ".join(pdf.money(f.gross_outstanding, None if single else c)
                                for c, f in row.loans.items() if f.gross_outstanding) or "—"
        par = "; ".join(pdf.percent(f.par30) for f in row.loans.values()
                        if f.par30 is not None) or "—"
        name = row.name if row.status in (None, "active") else f"{row.name} ({label(row.status)})"
        rows.append([name, pdf.number(row.groups), pdf.number(row.members),
                     pdf.percent(row.share_women), pdf.number(row.activity.meetings),
                     pdf.percent(row.activity.attendance_rate),
                     pdf.money(row.activity.savings_balance),
                     _tonnes(h.volume_t) if h else "—",
                     pdf.number(h.value_usd.converted) if h and h.harvests else "—",
                     outstanding, par])
    if s.row_level == "group":  # a group is one group: no column for it
        header, widths = header[:1] + header[2:], [0.26] + widths[2:]
        rows = [r[:1] + r[2:] for r in rows]
    if single and s.loans:
        header[-2] = _("Outstanding, %(currency)s", currency=next(iter(s.loans)))
    header[header.index(_("Savings"))] = _("Savings, %(currency)s", currency=s.currency)
    return [pdf.cond_page_break(40), pdf.heading(title, 2),
            pdf.table(header, rows, col_widths=widths, numeric_cols=range(1, len(header)),
                      font_size=6.5)]


def story(s: Summary) -> list:
    """The flowables of one summary (the caller builds the document)."""
    flowables = [pdf.heading(title_of(s), 0), pdf.small(_period(s)),
                 pdf.facts(_place_facts(s), columns=2), pdf.spacer(2)]
    if s.level != "village":
        flowables.append(pdf.para(headline(s)))
    flowables += _membership(s) + _meetings(s) + _seeds_and_harvests(s) + _loans(s)
    flowables += _rows_table(s)
    return flowables


def summary_pdf(level: str, place_id: int, *, as_of: Optional[date] = None,
                start: Optional[date] = None, printed_by: Optional[str] = None,
                language: Optional[str] = None) -> bytes:
    """The summary of a village, district or country as a PDF, in ``language``."""
    made = {}

    def build():  # in the reader's language: crop names are chosen by it
        made["summary"] = summary(level, place_id, as_of, start)
        return story(made["summary"])

    return pdf.build_pdf(build, title=lambda: title_of(made["summary"]),
                         as_of=as_of or _today(), printed_by=printed_by, language=language)


def _today() -> date:
    from shg.timeutil import today
    return today()


def village_summaries_pdf(village_ids: Iterable[int], *, as_of: Optional[date] = None,
                          start: Optional[date] = None, printed_by: Optional[str] = None,
                          language: Optional[str] = None) -> bytes:
    """Several village summaries in one PDF (the district's batch): each starts a page,
    with its own running title and pages counted from 1."""
    ids = list(village_ids)

    def build():
        flowables = []
        for index, village_id in enumerate(ids):
            s = summary("village", village_id, as_of, start)
            flowables += pdf.section(title_of(s), first=index == 0)
            flowables += story(s)
        return flowables or [pdf.para(_("No villages."))]

    return pdf.build_pdf(build, title=lambda: _("Village summaries"), as_of=as_of or _today(),
                         printed_by=printed_by, language=language)
