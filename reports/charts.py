"""Charts drawn with ReportLab's own graphics, in DejaVu Sans (Cyrillic labels).

Each function takes labels and values already computed by the function that owns the
figure, and returns a ``Drawing`` to put in a story. Values may be Decimal: they are
turned into floats only to place the bars, and each bar's label is the caller's formatted
text (``value_labels``), so what the reader sees is the exact figure.
"""
from __future__ import annotations

from decimal import Decimal
from typing import Optional, Sequence

from reportlab.graphics.charts.barcharts import HorizontalBarChart, VerticalBarChart
from reportlab.graphics.shapes import Drawing, String
from reportlab.lib import colors
from reportlab.lib.units import mm

from reports.pdf import FONT, FONT_BOLD, register_fonts

PALETTE = [colors.HexColor(c) for c in ("#2f6f9f", "#e0883a", "#5a9e4b", "#b94a48",
                                        "#8064a2", "#4bacc6", "#9e7c4b", "#777777")]
WIDTH = 170 * mm


def _floats(values: Sequence) -> list[float]:
    return [float(v or 0) for v in values]


def _title(drawing: Drawing, title: Optional[str], height: float) -> None:
    if title:
        drawing.add(String(0, height - 10, title, fontName=FONT_BOLD, fontSize=9))


def bar_chart(labels: Sequence[str], values: Sequence, title: Optional[str] = None,
              value_labels: Optional[Sequence[str]] = None, height: float = 60 * mm,
              width: float = WIDTH, color=None) -> Drawing:
    """Vertical bars, one per label (months of attendance, crops), the value above each bar."""
    register_fonts()
    drawing = Drawing(width, height)
    _title(drawing, title, height)
    numbers = _floats(values) or [0.0]
    chart = VerticalBarChart()
    chart.x, chart.y = 30, 28
    chart.width, chart.height = width - 40, height - 28 - (18 if title else 6)
    chart.data = [numbers]
    chart.bars[0].fillColor = color or PALETTE[0]
    chart.bars.strokeColor = None
    chart.categoryAxis.categoryNames = [str(label) for label in labels] or [""]
    chart.categoryAxis.labels.fontName = FONT
    chart.categoryAxis.labels.fontSize = 7
    if len(labels) > 8:
        chart.categoryAxis.labels.angle = 30
        chart.categoryAxis.labels.boxAnchor = "ne"
    chart.valueAxis.labels.fontName = FONT
    chart.valueAxis.labels.fontSize = 7
    chart.valueAxis.valueMin = 0
    top = max(numbers)
    chart.valueAxis.valueMax = top * 1.15 if top > 0 else 1
    chart.valueAxis.visibleGrid = True
    chart.valueAxis.gridStrokeColor = colors.HexColor("#dddddd")
    chart.barLabels.fontName = FONT
    chart.barLabels.fontSize = 6.5
    chart.barLabels.nudge = 5
    _label(chart, numbers, value_labels)
    drawing.add(chart)
    return drawing


def horizontal_bars(labels: Sequence[str], values: Sequence, title: Optional[str] = None,
                    value_labels: Optional[Sequence[str]] = None, width: float = WIDTH,
                    colored: bool = True) -> Drawing:
    """Horizontal bars with each label to the left: PAR buckets, crops by value."""
    register_fonts()
    rows = max(1, len(labels))
    height = 24 + rows * 14 + (14 if title else 0)
    drawing = Drawing(width, height)
    _title(drawing, title, height)
    numbers = _floats(values) or [0.0]
    chart = HorizontalBarChart()
    chart.x, chart.y = 90, 14
    chart.width, chart.height = width - 150, rows * 14
    chart.data = [numbers]
    chart.bars.strokeColor = None
    chart.bars[0].fillColor = PALETTE[0]
    if colored:
        for index in range(len(numbers)):
            chart.bars[(0, index)].fillColor = PALETTE[index % len(PALETTE)]
    chart.categoryAxis.categoryNames = [str(label) for label in labels] or [""]
    chart.categoryAxis.labels.fontName = FONT
    chart.categoryAxis.labels.fontSize = 7
    chart.categoryAxis.reverseDirection = True  # the first label on top
    chart.valueAxis.labels.fontName = FONT
    chart.valueAxis.labels.fontSize = 7
    chart.valueAxis.valueMin = 0
    top = max(numbers)
    chart.valueAxis.valueMax = top * 1.1 if top > 0 else 1
    chart.barLabels.fontName = FONT
    chart.barLabels.fontSize = 6.5
    chart.barLabels.boxAnchor = "w"
    chart.barLabels.dx = 3
    _label(chart, numbers, value_labels)
    drawing.add(chart)
    return drawing


def _label(chart, numbers, value_labels) -> None:
    """Each bar labelled with the caller's text, or with its plain value."""
    chart.barLabelFormat = "values"
    chart.barLabelArray = [list(value_labels) if value_labels is not None
                           else [_plain(n) for n in numbers]]


def _plain(value) -> str:
    if value == int(value):
        return f"{int(value):,}".replace(",", "\u202f")
    return f"{Decimal(str(value)):.2f}"
