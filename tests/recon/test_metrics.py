"""recon.metrics: typed headline figures (money in integer units, formatted only at the edge) and the one
summary the engine, the role scope and the views compute."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

import recon
from recon import views
from recon.access import Scope, apply_scope
from recon.metrics import Overall
from recon.schema import money_places

MINI_MSP = Path(__file__).resolve().parents[1] / "fixtures" / "mini_msp"
UNITS = st.integers(min_value=-(10**16), max_value=10**16).map(lambda value: value - value % 100)  # whole cents
RATIOS = st.none() | st.floats(min_value=-10, max_value=10).map(lambda value: round(value, 4))
HOURS = st.floats(min_value=0, max_value=10**6).map(lambda value: round(value, 2))
COUNTS = st.integers(min_value=0, max_value=10**9)


def _strategy(field: dataclasses.Field[object]) -> st.SearchStrategy[object]:
    if field.name == "aging":
        return st.fixed_dictionaries(dict.fromkeys(("current", "1-30", "31-60", "61-90", "90+"), UNITS))
    if money_places(field.name) is not None:
        return st.none() | UNITS if "None" in str(field.type) else UNITS
    if "float" in str(field.type):
        return RATIOS if "None" in str(field.type) else HOURS
    return COUNTS


OVERALL = st.builds(Overall, **{field.name: _strategy(field) for field in dataclasses.fields(Overall)})


@given(OVERALL)
def test_figures_written_and_read_back_are_the_same_figures(overall: Overall) -> None:
    """What a stored run keeps (``to_dict``: money as decimal strings) reads back to the same units."""
    assert Overall.from_dict(overall.to_dict()) == overall


def test_money_is_units_inside_and_decimal_text_at_the_edge() -> None:
    run = recon.reconcile(recon.load_directory(MINI_MSP))
    overall = run.metrics.overall
    assert isinstance(overall.leakage, int) and overall.leakage == 50_420_000  # 5,042.00 in 1/10,000 units
    written = overall.to_dict()
    assert written["leakage"] == "5042.00" and written["keys"] == overall.keys
    assert list(written) == [field.name for field in dataclasses.fields(Overall)]
    assert all(re.fullmatch(r"-?\d+\.\d\d", value) for value in written["aging"].values())


def test_a_stored_summary_without_a_newer_figure_reads_as_zero() -> None:
    figures = recon.reconcile(recon.load_directory(MINI_MSP)).metrics.overall.to_dict()
    older = {name: value for name, value in figures.items() if name not in ("unapplied_amount", "realisation")}
    read = Overall.from_dict(older)
    assert read.unapplied_amount == 0 and read.realisation is None


def test_the_engine_the_scope_and_the_views_sum_the_same_way() -> None:
    """One ``summarise``: a whole run, a principal's clients and a filtered view agree where they cover
    the same rows."""
    run = recon.reconcile(recon.load_directory(MINI_MSP))
    assert views.filter_run(run).metrics.overall == run.metrics.overall
    client = "Acme Corporation"
    scoped = apply_scope(run, Scope(all_clients=False, clients=frozenset({client})))
    filtered = views.filter_run(run, views.Filters(clients=(client,)))
    for figure in ("billed_revenue", "expected_revenue", "leakage", "overcharge", "keys", "discrepancies",
                   "ar_balance", "unapplied_amount"):
        assert getattr(scoped.metrics.overall, figure) == getattr(filtered.metrics.overall, figure), figure
