"""dashboard.charts: pure figure builders; colours mean the same everywhere, hover text is exact money."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import plotly.graph_objects as go
import pytest

import recon
from dashboard import charts
from recon import views
from recon.rules import FINDING_NAMES

MINI_MSP = Path(__file__).resolve().parents[1] / "fixtures" / "mini_msp"


@pytest.fixture(scope="module")
def view() -> views.RunView:
    return views.filter_run(recon.reconcile(recon.load_directory(MINI_MSP)))


def colours(figure: go.Figure) -> dict[str, str]:
    return {trace.name: trace.marker.color for trace in figure.data if trace.type == "bar" and trace.name}


def test_trend_puts_leakage_below_zero_in_the_loss_colour(view):
    figure = charts.build_trend_figure(view.metrics.by_period, "USD")
    under, over, net = figure.data
    assert under.marker.color == charts.UNDER_COLOR and over.marker.color == charts.OVER_COLOR
    assert list(under.x) == ["2026-01", "2026-02", "2026-03", "2026-04"]
    assert all(value <= 0 for value in under.y)
    assert under.customdata[-1] == "-$3,200.00"  # exact money on hover
    assert net.customdata[0].startswith("+$")
    assert figure.layout.title.text.endswith("?")


@pytest.mark.parametrize("build", [
    lambda v: charts.build_client_balance_figure(views.top_clients(v.metrics.by_client), "USD"),
    lambda v: charts.build_vendor_figure(views.top_products(v.metrics.by_vendor), "USD"),
    lambda v: charts.build_type_figure(v.metrics.by_type, "USD"),
])
def test_every_chart_uses_the_same_two_colours(view, build):
    figure = build(view)
    assert set(colours(figure).values()) == {charts.UNDER_COLOR, charts.OVER_COLOR}
    assert figure.layout.title.text.endswith("?")


def test_type_chart_names_findings_as_the_tables_do_and_leaves_informational_ones_out(view):
    """One vocabulary of finding names (``recon.rules.FINDING_NAMES``) for charts, filters and tables: the
    chart said "Missed recurring charge" where the table said "Recurring charge not invoiced" (issue 19)."""
    figure = charts.build_type_figure(view.metrics.by_type, "USD")
    labels = {label for trace in figure.data for label in trace.y}
    assert labels <= set(FINDING_NAMES.values())
    assert "Sold below vendor cost" not in labels
    assert "Recurring charge not invoiced" in labels


def test_client_balance_keeps_the_ranking(view):
    ranked = views.top_clients(view.metrics.by_client, 3)
    figure = charts.build_client_balance_figure(ranked, "EUR")
    assert list(figure.data[0].y) == list(ranked["client"])
    assert figure.data[0].customdata[0] == "-€4,850.00"
    assert figure.layout.xaxis.title.text == "EUR"


def test_margin_and_aging(view):
    margin = charts.build_margin_figure(views.margin_ranking(view.metrics.by_client), "USD")
    assert margin.data[0].y[0] == "Evergreen Clinic"  # thinnest margin first
    aging = charts.build_aging_figure(views.aging_table(view.receivables), "USD")
    assert list(aging.data[0].x) == ["current", "1-30", "31-60", "61-90", "90+"]
    assert aging.data[0].customdata[2] == "$120.00 in 1 invoice(s)"


def test_empty_frames_give_a_message_not_an_error(view):
    empty = view.metrics.by_period.iloc[0:0]
    for figure in (charts.build_trend_figure(empty, "USD"), charts.build_billed_vs_expected_figure(empty, "USD"),
                   charts.build_client_balance_figure(pd.DataFrame(columns=["client"]), "USD")):
        assert not figure.data
        assert figure.layout.annotations[0].text


def test_builders_do_not_touch_their_input(view):
    frame = view.metrics.by_period
    before = frame.copy()
    charts.build_trend_figure(frame, "USD")
    pd.testing.assert_frame_equal(frame, before)


HOSTILE = "<a href='https://evil.example'>Acme</a> <b>Corp</b> <span style='color:red'>x</span><br>&amp;"


def test_names_from_data_are_never_chart_markup(view):
    """Issue 23 item 7: Plotly reads <a href>, <b>, <span style> and <br> in any label as markup; every
    label from data is written with & < > as entities (shown as the characters themselves)."""
    clients = views.top_clients(view.metrics.by_client, 3)
    hostile = clients.assign(client=[HOSTILE, "www.evil.example <i>two</i>", "three"])
    margins = views.margin_ranking(view.metrics.by_client).head(1).assign(client=HOSTILE)
    products = views.top_products(view.metrics.by_vendor, 2).assign(vendor=HOSTILE, product="<b>SKU</b>")
    figures = [charts.build_client_balance_figure(hostile, "USD"), charts.build_margin_figure(margins, "USD"),
               charts.build_vendor_figure(products, "USD")]
    labels = [str(label) for figure in figures for trace in figure.data for label in (*trace.y, *trace.x)]
    assert not [label for label in labels if "<" in label or ">" in label]
    escaped = "&lt;a href='https://evil.example'&gt;Acme&lt;/a&gt; &lt;b&gt;Corp&lt;/b&gt;"
    assert any(label.startswith(escaped) and label.endswith("&amp;amp;") for label in labels)


@pytest.mark.parametrize("build", [
    lambda v: charts.build_trend_figure(v.metrics.by_period, "USD"),
    lambda v: charts.build_billed_vs_expected_figure(v.metrics.by_period, "USD"),
    lambda v: charts.build_client_balance_figure(views.top_clients(v.metrics.by_client), "USD"),
    lambda v: charts.build_vendor_figure(views.top_products(v.metrics.by_vendor), "USD"),
    lambda v: charts.build_type_figure(v.metrics.by_type, "USD"),
])
def test_the_legend_sits_at_the_foot_never_over_the_title(view, build):
    """Review at 1024 px (issue 22): the legend sat just above the plot, and when it wrapped onto a second row
    in a narrow chart it grew up over the title. It sits at the foot of the figure; the title pushes the top
    margin itself."""
    layout = build(view).layout
    assert (layout.legend.yref, layout.legend.yanchor, layout.legend.y) == ("container", "bottom", 0)
    assert layout.title.automargin and layout.title.yref == "paper" and layout.title.yanchor == "bottom"


@pytest.mark.parametrize("months", [1, 4])
def test_months_are_level_month_names_however_many(view, months):
    """"2026-03" ticks were turned aslant and overlapped at 1024 px; one selected month draws one ordinary bar
    (issue 22 item 6): the months are named level on two lines, the axis padded around a single one."""
    by_period = view.metrics.by_period.tail(months)
    for figure in (charts.build_trend_figure(by_period, "USD"),
                   charts.build_billed_vs_expected_figure(by_period, "USD")):
        axis = figure.layout.xaxis
        assert axis.tickangle == 0 and list(axis.tickvals) == list(by_period["period"])
        assert list(axis.ticktext)[-1] == "Apr<br>2026"
        if months == 1:
            assert list(axis.range) == [-3.0, 3.0]


def test_a_negative_margin_has_room_for_its_percentage(view):
    margins = views.margin_ranking(view.metrics.by_client)
    margins = margins.assign(gross_margin_pct=[-0.007, *margins["gross_margin_pct"].iloc[1:]])  # Evergreen in March
    figure = charts.build_margin_figure(margins, "USD")
    lowest = float(margins["gross_margin_pct"].min()) * 100
    assert lowest < 0 and figure.layout.xaxis.range[0] < lowest - 10  # "-0.7%" drawn beside its bar, not on a name
