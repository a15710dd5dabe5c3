"""Client scope: everybody sees every client except an ``account_manager``, who sees the clients whose
latest contract line names them as account manager, plus any clients granted by name. ``apply_scope`` cuts
a whole ``Reconciliation`` down to that scope (frames *and* figures), so a page that only ever reads the
scoped result cannot show another client, whatever it renders.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass

import pandas as pd

from recon import metrics
from recon.access.roles import SCOPED_ROLES, Principal
from recon.engine import Reconciliation
from recon.keys import account_managers

# ------------------------------------------------------------------------------------------------ scope

def fold_name(name: object) -> str:
    """A person's or client's name for comparison: case, surrounding and repeated spaces ignored."""
    return " ".join(str(name).split()).casefold()


@dataclass(frozen=True)
class Scope:
    """Which clients a principal may see. ``all_clients`` or: clients named in ``clients`` plus the
    clients whose account manager (latest contract line) is one of ``managers`` (folded names)."""

    all_clients: bool
    clients: frozenset[str] = frozenset()
    managers: frozenset[str] = frozenset()

    def clients_in(self, contracts: pd.DataFrame) -> frozenset[str] | None:
        """The visible client names given the (resolved) contract lines; ``None`` means every client."""
        if self.all_clients:
            return None
        named = account_managers(contracts) if len(contracts) else pd.DataFrame(columns=["client", "account_manager"])
        mine = named[named["account_manager"].map(fold_name).isin(self.managers)]["client"]
        return frozenset(str(client) for client in mine) | self.clients


def scope_for(principal: Principal) -> Scope:
    """The scope of a role: every client, except account managers (their clients, by contract)."""
    if principal.role not in SCOPED_ROLES:
        return Scope(all_clients=True)
    manager = fold_name(principal.manager_name or principal.user)
    return Scope(all_clients=False, clients=principal.clients, managers=frozenset({manager}))


def restrict(frame: pd.DataFrame, visible: frozenset[str] | None, column: str = "client") -> pd.DataFrame:
    """The rows of ``frame`` whose ``column`` is a visible client (all rows when ``visible`` is None).
    A row without a client is not visible to a scoped principal. Returns a new frame."""
    if visible is None:
        return frame
    keep = frame[column].astype("string").isin(visible).fillna(False).to_numpy(bool)
    kept = frame[keep].reset_index(drop=True)
    # A categorical keeps all its categories after a cut: other clients' names would travel with it.
    labels = [name for name, dtype in kept.dtypes.items() if isinstance(dtype, pd.CategoricalDtype)]
    return kept.assign(**{name: kept[name].cat.remove_unused_categories() for name in labels})


def apply_scope(result: Reconciliation, scope: Scope, resolutions: pd.DataFrame | None = None) -> Reconciliation:
    """``result`` as seen within ``scope``: every frame cut to the visible clients and every figure
    recomputed from the cut frames (``resolutions`` feeds recovered / open exposure, as in
    ``reconcile``). Quarantined rows and import records cannot be attributed to a client, so a scoped
    result has none. The unscoped result is returned as is."""
    visible = scope.clients_in(result.resolved["contracts"])
    if visible is None:
        return result
    resolved = _restrict_resolved(result.resolved, visible)
    keys, found = restrict(result.keys, visible), restrict(result.discrepancies, visible)
    unmapped, book = restrict(result.unmapped, visible), restrict(result.receivables, visible)
    unmatched = restrict(result.unmatched_credits, visible)
    figures = metrics.summarise(keys, found, book, resolved, unmapped, result.periods, resolutions)
    return dataclasses.replace(
        result, discrepancies=found, keys=keys, unmapped=unmapped, receivables=book, metrics=figures,
        unmatched_credits=unmatched, charges=result.charges.iloc[0:0], history_imports=(),
        client_matches=restrict(result.client_matches, visible), quarantine=result.quarantine.iloc[0:0],
        resolved=resolved, imports=())


def _restrict_resolved(frames: Mapping[str, pd.DataFrame], visible: frozenset[str]) -> dict[str, pd.DataFrame]:
    """Client-bearing frames cut to ``visible``; payments follow their invoices; the catalog is shared."""
    out = {kind: restrict(frame, visible) if "client" in frame else frame for kind, frame in frames.items()}
    if "payments" in out and "invoices" in out:
        payments = out["payments"]
        out["payments"] = payments[payments["invoice_number"].isin(out["invoices"]["invoice_number"])]
    return out


def visible_clients(result: Reconciliation, principal: Principal) -> frozenset[str] | None:
    """The client names ``principal`` may see in ``result`` (``None``: all of them)."""
    return scope_for(principal).clients_in(result.resolved["contracts"])


