"""Charts drawn on the server as SVG with pygal, for the staff dashboard and the board
paper (the same chart in the browser and in the PDF).

Each chart is an ``<img>`` of a ``data:`` URI (the Content-Security-Policy allows
``img-src data:``; pygal's SVG carries its own ``<style>``, which ``style-src 'self'``
would refuse inline), described by its alt text, and always comes with its data as a
table, which is what screen readers read. No JavaScript: pygal's tooltip script is not
included. A chart with nothing to draw is left out (its table stays). A count hidden by
the small-number rule is left out of the chart (pygal draws nothing for None) and reads
"fewer than N" in the table.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import Any

import pygal
from pygal.style import Style

from engage_common.disclosure import describe

# NHS identity colours, dark enough against white for lines and bars (WCAG 1.4.11).
STYLE = Style(
    background="white",
    plot_background="white",
    foreground="#212b32",
    foreground_strong="#212b32",
    foreground_subtle="#4c6272",
    font_family="'Noto Sans', Arial, sans-serif",
    title_font_size=18,
    label_font_size=13,
    major_label_font_size=13,
    legend_font_size=13,
    value_font_size=12,
    colors=("#005eb8", "#330072", "#007f3b", "#d5281b", "#7c2855", "#425563", "#ed8b00"),
)
WIDTH, HEIGHT = 760, 380


@dataclass
class Chart:
    """A chart and the table of the same figures."""

    id: str
    title: str
    alt: str
    columns: list[str]
    rows: list[list[Any]] = field(default_factory=list)
    svg: str = ""
    empty: bool = False  # nothing to draw: the page shows the table alone

    @property
    def src(self) -> str:
        """The SVG as a ``data:`` URI for an ``<img>``."""
        return "data:image/svg+xml;base64," + base64.b64encode(self.svg.encode()).decode()

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "title": self.title, "columns": self.columns, "rows": self.rows}


def _render(chart: Any) -> str:
    return chart.render(is_unicode=True)


def _empty(series: dict[str, list[Any]]) -> bool:
    return not any(v for values in series.values() for v in values)


def _config(kind: type, title: str, **extra: Any) -> Any:
    return kind(
        style=STYLE,
        js=[],
        width=WIDTH,
        height=HEIGHT,
        title=title,
        print_values=False,
        truncate_label=-1,
        legend_at_bottom=True,
        **extra,
    )


def _cell(value: int | None, threshold: int, hide: bool) -> Any:
    return describe(value, threshold) if hide and value is None else value


def bars(
    chart_id: str,
    title: str,
    labels: list[str],
    series: dict[str, list[int | None]],
    *,
    label_heading: str,
    threshold: int,
    horizontal: bool = False,
    stacked: bool = False,
    counts_people: bool = True,
) -> Chart:
    """A bar chart of ``series`` ({name: a value per label}); the table has a row per label
    and a column per series. ``counts_people``: None means hidden by the small-number rule."""
    rows = [
        [label, *(_cell(values[i], threshold, counts_people) for values in series.values())]
        for i, label in enumerate(labels)
    ]
    alt = f"{title}: bar chart; its figures are in the table that follows."
    if _empty(series):
        return Chart(chart_id, title, alt, [label_heading, *series], rows, empty=True)
    kind = {
        (False, False): pygal.Bar,
        (True, False): pygal.HorizontalBar,
        (False, True): pygal.StackedBar,
        (True, True): pygal.HorizontalStackedBar,
    }[(horizontal, stacked)]
    chart = _config(kind, title, show_legend=len(series) > 1)
    chart.x_labels = labels
    for name, values in series.items():
        chart.add(name, values)
    return Chart(chart_id, title, alt, [label_heading, *series], rows, _render(chart))


def lines(
    chart_id: str,
    title: str,
    labels: list[str],
    series: dict[str, list[int | None]],
    *,
    label_heading: str,
    threshold: int,
) -> Chart:
    """A line per series over ``labels`` (e.g. months); hidden counts are gaps."""
    rows = [
        [label, *(_cell(values[i], threshold, True) for values in series.values())]
        for i, label in enumerate(labels)
    ]
    alt = f"{title}: line chart; its figures are in the table that follows."
    if _empty(series):
        return Chart(chart_id, title, alt, [label_heading, *series], rows, empty=True)
    chart = _config(pygal.Line, title, show_legend=True, x_label_rotation=0, dots_size=4)
    chart.x_labels = labels
    for name, values in series.items():
        chart.add(name, values, allow_interruptions=True)
    return Chart(chart_id, title, alt, [label_heading, *series], rows, _render(chart))
