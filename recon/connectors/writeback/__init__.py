"""Approved fixes written back to the PSA they came from (issue 21), with the code a user runs against
the real service.

``route`` says which named connection each fix goes to: a contract line pulled from a connection names it
(its rows are ``<connection>@<YYYY-MM>:...``); a line read from an uploaded file goes to the PSA connection
whose ``contract_files`` globs (connections.toml) match that file's name. A fix routed nowhere is exported
instead (``recon.exports.fixes``: a CSV for the PSA's import screen and a checklist PDF).

``apply`` writes one connection's fixes, **dry run unless** ``send=True``: a dry run reads what it must from
the PSA (the line as it is now) and answers each fix's exact requests without sending any; sending goes
through the connection's ``ApiClient`` (timeouts, retries on 429 / 5xx honouring ``Retry-After``, secrets
redacted). It is idempotent: a fix whose change the PSA already holds (the quantity already approved, a
charge or line carrying the fix's reference ``[recon fix <key>]``) is ``skipped``, and a write retried after
a lost answer is first looked up. Every outcome (``recon.fixes.FixOutcome``) is handed to ``record`` as it
happens, so a caller stores it at once (``recon.store.fixes.FixLedger.record``).

What each PSA is sent: ConnectWise (``writeback.connectwise``): a quantity change or cancellation is a
``PATCH /finance/agreements/{id}/additions/{id}`` (JSON Patch), a new line ``POST .../additions``, a charge
or credit ``POST .../adjustments``. Autotask (``writeback.autotask``): a quantity change or cancellation is
``POST /ContractServiceAdjustments``, a new line ``POST /Contracts/{id}/Services`` and an adjustment, a
charge or credit ``POST /Contracts/{id}/Charges``.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from types import ModuleType

from recon.connectors.config import Connection
from recon.connectors.writeback import autotask, connectwise
from recon.errors import ConnectorError
from recon.fixes import Fix, FixOutcome

WRITERS: dict[str, ModuleType] = {"connectwise": connectwise, "autotask": autotask}
PSA_TYPES = tuple(WRITERS)
_PULLED = re.compile(r"^(?P<name>[^@:/\\]+)@\d{4}-\d{2}:")
Record = Callable[[FixOutcome], None]


def connection_of(origin: str | None, connections: Mapping[str, Connection]) -> Connection | None:
    """The PSA connection a contract line read from ``origin`` belongs to, or None."""
    if not origin:
        return None
    pulled = _PULLED.match(origin)
    if pulled:
        found = connections.get(pulled.group("name"))
        return found if found is not None and found.type in WRITERS else None
    name = origin.replace("\\", "/").rsplit("/", 1)[-1]
    for connection in connections.values():
        patterns = connection.setting("contract_files") or []
        if connection.type in WRITERS and any(fnmatch.fnmatch(name, str(p)) for p in _listed(patterns)):
            return connection
    return None


def _listed(value: object) -> list[object]:
    return list(value) if isinstance(value, list | tuple) else [value]


def route(fixes: Iterable[Fix], connections: Mapping[str, Connection]) -> tuple[dict[str, list[Fix]], list[Fix]]:
    """(connection name -> its fixes, the fixes no connection takes)."""
    routed: dict[str, list[Fix]] = {}
    unrouted: list[Fix] = []
    for fix in fixes:
        connection = connection_of(fix.origin, connections)
        if connection is None:
            unrouted.append(fix)
        else:
            routed.setdefault(connection.name, []).append(fix)
    return routed, unrouted


def apply(fixes: Sequence[Fix], connection: Connection, *, send: bool = False,
          record: Record | None = None) -> list[FixOutcome]:
    """Write ``fixes`` to ``connection`` (a dry run unless ``send``); each outcome is passed to ``record`` as
    it happens and returned. A fix whose reading fails (the PSA unreachable, credentials refused) is
    ``failed`` with the message; the next fixes are still tried."""
    writer = WRITERS.get(connection.type)
    if writer is None:
        raise ConnectorError(f"{connection.label} cannot take fixes (only {', '.join(PSA_TYPES)} can)")
    outcomes = []
    with writer.client(connection) as api:
        for fix in fixes:
            try:
                result = writer.apply(api, connection, fix, send)
            except ConnectorError as error:
                result = FixOutcome(fix.fix_key, "failed", connection.name, message=str(error))
            if record is not None:
                record(result)
            outcomes.append(result)
    return outcomes


__all__ = ["PSA_TYPES", "WRITERS", "apply", "connection_of", "route"]
