"""A small seeded slice of the fuzz campaign (``make fuzz`` runs 2,000): mutated sample files load or are
refused with one sentence, and every physical line is accounted for (issue 24, deliverable 6)."""

from __future__ import annotations

from tests.fuzz.campaign import campaign


def test_a_seeded_slice_of_mutations_crashes_nothing_and_loses_no_line() -> None:
    outcomes = campaign(seed=2024, mutations=36, workers=1, cli_every=12, run_every=36, timeout=600)
    assert [(outcome.number, outcome.kind, outcome.failures) for outcome in outcomes if outcome.failures] == []
    assert sum(outcome.lines_unaccounted for outcome in outcomes) == 0
    assert {outcome.verdict for outcome in outcomes} >= {"loaded", "refused"}
