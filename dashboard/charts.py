"""Charts: pure formatters from a figure frame to a Plotly figure (no ``st.`` call, no business rule).

Each ``build_*_figure`` takes a frame that ``recon`` computed (money in Int64 units of 1/10,000) and
returns a ``go.Figure``. Amounts are plotted in currency units, hover text shows the exact money from
``recon.money.display_money``. One colour means under-billing (a loss) and one over-billing (a refund
owed) on every chart; titles ask the question the chart answers.
"""

from __future__ import annotations

import html
from collections.abc import Iterable

import pandas as pd
import plotly.graph_objects as go

from recon.keys import month_name
from recon.money import MONEY_SCALE, display_money
from recon.rules import finding_name

UNDER_COLOR = "#C2362B"  # under-billed: revenue leakage, a loss
OVER_COLOR = "#2563EB"   # over-billed: a refund owed to the client
NEUTRAL_COLOR = "#64748B"
EXPECTED_COLOR = "#0F766E"
AGING_COLORS = ("#94A3B8", "#F59E0B", "#EA580C", "#C2362B", "#7F1D1D")
FONT = "Inter, Segoe UI, Helvetica, Arial, sans-serif"


def _amounts(units: pd.Series) -> list[float]:
    """Int64 money units -> currency floats for the axis (display only; hover keeps exact text)."""
    return [0.0 if pd.isna(value) else int(value) / MONEY_SCALE for value in units]


def chart_text(values: Iterable[object]) -> list[str]:
    """Text from data for a chart (axis labels, bar names, hover): Plotly reads ``<a href>``, ``<b>``,
    ``<span style>`` and ``<br>`` in any text as markup, so ``& < >`` are written as entities (Plotly shows
    them as the characters): a client name can never become a link or a style."""
    return [html.escape(str(value), quote=False) for value in values]


def _labels(units: Iterable[object], currency: str, signed: bool = False) -> list[str]:
    return [display_money(None if pd.isna(value) else int(value), currency, signed=signed)  # type: ignore[call-overload]
            for value in units]


# The look of Plotly's "plotly_white" that these charts use, and only that: the named template carries
# defaults for every trace type Plotly has (about 4 KB per figure) that the browser merges into each chart.
_TEMPLATE = go.layout.Template(layout={
    "paper_bgcolor": "white", "plot_bgcolor": "white", "hovermode": "closest", "hoverlabel": {"align": "left"},
    "colorway": ["#636efa", "#EF553B", "#00cc96", "#ab63fa", "#FFA15A", "#19d3f3", "#FF6692", "#B6E880", "#FF97FF",
                 "#FECB52"],
    **{axis: {"gridcolor": "#EEF2F7", "linecolor": "#EBF0F8", "ticks": "", "zerolinecolor": "#94A3B8",
              "zerolinewidth": 2, "automargin": True, "title": {"standoff": 15}} for axis in ("xaxis", "yaxis")},
})


# The title above the plot pushing the top margin as it needs (never drawn over the plot); the legend at the
# foot of the figure, so a legend that wraps onto a second row in a narrow chart grows downwards into a
# margin Plotly reserves, never up into the title (it sat just above the plot and covered the title at 1024 px).
TITLE = {"x": 0, "xanchor": "left", "font": {"size": 16}, "automargin": True, "yref": "paper", "y": 1,
         "yanchor": "bottom", "pad": {"b": 10}}
LEGEND = {"orientation": "h", "yref": "container", "yanchor": "bottom", "y": 0, "xanchor": "left", "x": 0}


def _layout(figure: go.Figure, title: str, currency: str, height: int = 380, **extra: object) -> go.Figure:
    figure.update_layout(
        title={"text": title, **TITLE}, template=_TEMPLATE, font={"family": FONT, "size": 12, "color": "#1E293B"},
        height=height, margin={"l": 8, "r": 8, "t": 16, "b": 8}, hoverlabel={"font": {"family": FONT}},
        legend=LEGEND, separators=".,", **extra)
    _ = currency
    return figure


def _empty(title: str, message: str = "Nothing to show for these filters.") -> go.Figure:
    figure = go.Figure()
    figure.add_annotation(text=message, showarrow=False, font={"size": 14, "color": NEUTRAL_COLOR},
                          xref="paper", yref="paper", x=0.5, y=0.5)
    figure.update_xaxes(visible=False)
    figure.update_yaxes(visible=False)
    return _layout(figure, title, "", height=260)


MIN_CATEGORY_SLOTS = 6  # a chart of fewer periods keeps bars this narrow (one month is not a full-width block)


def _period_axis(figure: go.Figure, periods: list[str]) -> None:
    """Periods as categories, labelled level as the month over its year ("Mar" / "2026": narrow enough for a
    year of months side by side at 1024 px, where "2026-03" was turned aslant and overlapped); with fewer
    than ``MIN_CATEGORY_SLOTS`` the axis is padded around them, so one selected month draws one ordinary bar
    in the middle."""
    count = len(periods)
    figure.update_xaxes(type="category", tickangle=0, tickmode="array", tickvals=periods,
                        ticktext=[month_name(html.unescape(period)).replace(" ", "<br>") for period in periods])
    if 0 < count < MIN_CATEGORY_SLOTS:
        pad = (MIN_CATEGORY_SLOTS - count) / 2
        figure.update_xaxes(range=[-0.5 - pad, count - 0.5 + pad])


def _money_axis(currency: str) -> dict[str, object]:
    """Whole-currency ticks; the sign goes before the symbol (-$500), so only USD gets the symbol and
    other currencies name themselves in the axis title."""
    if currency.upper() == "USD":
        return {"tickformat": "$,.0f"}
    return {"tickformat": ",.0f", "title": {"text": currency.upper()}}


# ---------------------------------------------------------------------------------------------- trend

def build_trend_figure(by_period: pd.DataFrame, currency: str,
                       title: str = "Is revenue leakage growing month over month?") -> go.Figure:
    """Per period: leakage as a red bar below zero, overcharge as a blue bar above, net variance line.
    ``by_period`` is ``metrics.by_period`` (``period``, ``leakage``, ``overcharge``, ``net_variance``)."""
    if by_period.empty or not (by_period["leakage"].any() or by_period["overcharge"].any()):
        return _empty(title, "No under- or over-billing in these periods.")
    periods = chart_text(by_period["period"])
    leakage = by_period["leakage"]
    figure = go.Figure([
        go.Bar(x=periods, y=[-value for value in _amounts(leakage)], name="Under-billed",
               marker_color=UNDER_COLOR, customdata=_labels(-leakage, currency),
               hovertemplate="%{x}<br>Under-billed: <b>%{customdata}</b><extra></extra>"),
        go.Bar(x=periods, y=_amounts(by_period["overcharge"]), name="Over-billed",
               marker_color=OVER_COLOR, customdata=_labels(by_period["overcharge"], currency),
               hovertemplate="%{x}<br>Over-billed: <b>%{customdata}</b><extra></extra>"),
        go.Scatter(x=periods, y=_amounts(by_period["net_variance"]), name="Net",
                   mode="lines+markers", line={"color": "#0F172A", "width": 2},
                   customdata=_labels(by_period["net_variance"], currency, signed=True),
                   hovertemplate="%{x}<br>Net: <b>%{customdata}</b><extra></extra>"),
    ])
    _period_axis(figure, periods)
    figure.update_yaxes(**_money_axis(currency))
    return _layout(figure, title, currency, barmode="relative")


def build_billed_vs_expected_figure(by_period: pd.DataFrame, currency: str,
                                    title: str = "Was the client billed what they should have been?") -> go.Figure:
    """Per period: billed revenue as bars, expected revenue as a line (``metrics.by_period``)."""
    if by_period.empty:
        return _empty(title)
    periods = chart_text(by_period["period"])
    figure = go.Figure([
        go.Bar(x=periods, y=_amounts(by_period["billed_revenue"]), name="Billed", marker_color="#CBD5E1",
               customdata=_labels(by_period["billed_revenue"], currency),
               hovertemplate="%{x}<br>Billed: <b>%{customdata}</b><extra></extra>"),
        go.Scatter(x=periods, y=_amounts(by_period["expected_revenue"]), name="Expected", mode="lines+markers",
                   line={"color": EXPECTED_COLOR, "width": 3},
                   customdata=_labels(by_period["expected_revenue"], currency),
                   hovertemplate="%{x}<br>Expected: <b>%{customdata}</b><extra></extra>"),
    ])
    _period_axis(figure, periods)
    figure.update_yaxes(**_money_axis(currency))
    return _layout(figure, title, currency)


# -------------------------------------------------------------------------------------------- clients

def build_client_balance_figure(top_clients: pd.DataFrame, currency: str,
                                title: str = "Which clients are we under- or over-billing most?") -> go.Figure:
    """Diverging bars per client (``views.top_clients``): under-billing to the left in red, over-billing
    to the right in blue; the biggest total at the top."""
    if top_clients.empty:
        return _empty(title, "No client has money at stake for these filters.")
    return _diverging_bars(chart_text(top_clients["client"]), top_clients, currency, title)


def _diverging_bars(labels: list[str], frame: pd.DataFrame, currency: str, title: str) -> go.Figure:
    """Horizontal bars per label: ``leakage`` to the left in red, ``overcharge`` to the right in blue."""
    figure = go.Figure([
        go.Bar(y=labels, x=[-value for value in _amounts(frame["leakage"])], orientation="h",
               name="Under-billed", marker_color=UNDER_COLOR, customdata=_labels(-frame["leakage"], currency),
               hovertemplate="%{y}<br>Under-billed: <b>%{customdata}</b><extra></extra>"),
        go.Bar(y=labels, x=_amounts(frame["overcharge"]), orientation="h", name="Over-billed",
               marker_color=OVER_COLOR, customdata=_labels(frame["overcharge"], currency),
               hovertemplate="%{y}<br>Over-billed: <b>%{customdata}</b><extra></extra>"),
    ])
    figure.update_yaxes(autorange="reversed", type="category")
    figure.update_xaxes(**_money_axis(currency))
    return _layout(figure, title, currency, height=max(300, 110 + 30 * len(labels)), barmode="relative")


def build_margin_figure(margins: pd.DataFrame, currency: str,
                        title: str = "Where is our gross margin thinnest?") -> go.Figure:
    """Gross margin % per client (``views.margin_ranking``), lowest first; a negative margin in red."""
    shown = margins.dropna(subset=["gross_margin_pct"])
    if shown.empty:
        return _empty(title, "No billed revenue for these filters.")
    percent = [float(value) * 100 for value in shown["gross_margin_pct"]]
    colours = [UNDER_COLOR if value < 0 else EXPECTED_COLOR for value in percent]
    text = [f"{value:.1f}%" for value in percent]
    details = [f"{margin} on {billed} billed" for margin, billed in zip(
        _labels(shown["gross_margin"], currency), _labels(shown["billed_revenue"], currency), strict=True)]
    figure = go.Figure(go.Bar(
        y=chart_text(shown["client"]), x=percent, orientation="h", marker_color=colours, text=text,
        textposition="outside", customdata=details, cliponaxis=False,
        hovertemplate="%{y}<br>Margin <b>%{x:.1f}%</b>: %{customdata}<extra></extra>"))
    figure.update_yaxes(autorange="reversed", type="category")
    low, high = min(0.0, min(percent)), max(100.0, max(percent))
    room = (high - low) * 0.15  # for the percentage written beyond each bar's end (left of a negative one)
    figure.update_xaxes(ticksuffix="%", range=[low - room if low < 0 else low, high + room])
    return _layout(figure, title, currency, height=max(300, 90 + 26 * len(shown)), showlegend=False)


# ---------------------------------------------------------------------------------------------- kinds

def build_type_figure(by_type: pd.DataFrame, currency: str,
                      title: str = "Which kinds of billing error cost the most?") -> go.Figure:
    """Money per discrepancy type (``metrics.by_type``), coloured by direction; informational types
    (negative margin) are left out because they are not money owed either way."""
    shown = by_type[~by_type["informational"].astype(bool)] if "informational" in by_type else by_type
    if shown.empty:
        return _empty(title, "No billing errors for these filters.")
    shown = shown.assign(size=shown["variance"].abs()).sort_values("size", ascending=False)
    figure = go.Figure()
    for direction, colour, name in (("under", UNDER_COLOR, "Under-billed"), ("over", OVER_COLOR, "Over-billed")):
        part = shown[shown["direction"] == direction]
        if part.empty:
            continue
        counts = [f"{label} in {count} finding(s)" for label, count in zip(
            _labels(part["variance"], currency, signed=True), part["discrepancies"], strict=True)]
        figure.add_bar(y=[finding_name(kind) for kind in part["type"]], x=_amounts(part["size"]), orientation="h",
                       name=name, marker_color=colour, customdata=counts,
                       hovertemplate="%{y}<br><b>%{customdata}</b><extra></extra>")
    figure.update_yaxes(autorange="reversed", type="category")
    figure.update_xaxes(**_money_axis(currency))
    return _layout(figure, title, currency, height=max(300, 110 + 30 * len(shown)))


def build_vendor_figure(products: pd.DataFrame, currency: str,
                        title: str = "Which vendors and products leak the most?") -> go.Figure:
    """Leakage (red) and overcharge (blue) per vendor and product (``views.top_products``), in order."""
    if products.empty:
        return _empty(title)
    labels = chart_text(f"{vendor} · {product}" for vendor, product in zip(products["vendor"], products["product"],
                                                                            strict=True))
    return _diverging_bars(labels, products, currency, title)


# ----------------------------------------------------------------------------------------- receivables

def build_aging_figure(aging: pd.DataFrame, currency: str,
                       title: str = "How old is the money clients owe us?") -> go.Figure:
    """Open balance per aging bucket (``views.aging_table``), greyer when current, redder when old."""
    if aging.empty or int(aging["balance"].sum()) == 0:
        return _empty(title, "Nothing is owed for these filters.")
    details = [f"{money} in {count} invoice(s)" for money, count in zip(
        _labels(aging["balance"], currency), aging["invoices"], strict=True)]
    figure = go.Figure(go.Bar(
        x=chart_text(aging["aging_bucket"]), y=_amounts(aging["balance"]), marker_color=list(AGING_COLORS[:len(aging)]),
        customdata=details, text=_labels(aging["balance"], currency), textposition="outside", cliponaxis=False,
        hovertemplate="%{x} days past due<br><b>%{customdata}</b><extra></extra>"))
    figure.update_xaxes(type="category", title="days past due")
    figure.update_yaxes(**_money_axis(currency))
    return _layout(figure, title, currency, showlegend=False)


__all__ = [
    "OVER_COLOR", "UNDER_COLOR", "build_aging_figure", "build_billed_vs_expected_figure",
    "build_client_balance_figure", "build_margin_figure", "build_trend_figure", "build_type_figure",
    "build_vendor_figure", "chart_text",
]
