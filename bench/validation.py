"""What the data-quality suite costs on a large file: ``python bench/validation.py --rows 100000``.

Writes a canonical usage file of ``--rows`` rows (``--bad`` of them broken in various ways) to
``bench/data/``, loads it with ``recon.ingest.files.load_file`` and reports the total time and the part spent in
``recon.ingest.quality.validate`` (Great Expectations plus the quarantine reasons), after a warm-up that pays the
one-off GX import.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from recon.ingest import quality
from recon.ingest.files import load_file

DATA = Path(__file__).resolve().parent / "data"


def write_usage(rows: int, bad: int, seed: int = 7) -> Path:
    """A canonical usage CSV with ``bad`` broken rows spread through it."""
    path = DATA / f"usage_{rows}_{bad}.csv"
    if path.exists():
        return path
    rng = np.random.default_rng(seed)
    start = pd.Timestamp("2026-01-01") + pd.to_timedelta(rng.integers(0, 90, rows), unit="D")
    frame = pd.DataFrame({
        "client": [f"Client {number}" for number in rng.integers(0, 2000, rows)],
        "sku": [f"SKU-{number}" for number in rng.integers(0, 50, rows)],
        "quantity": rng.integers(1, 100, rows).astype(str),
        "period_start": start.strftime("%Y-%m-%d"),
        "period_end": (start + pd.offsets.MonthEnd(0)).strftime("%Y-%m-%d"),
        "vendor": "Pax8",
        "unit_cost": (rng.integers(100, 9999, rows) / 100).astype(str),
        "subscription_id": [f"sub-{number}" for number in range(rows)],
        "product_name": "Microsoft 365 Business Premium",
    })
    broken = rng.choice(rows, size=min(bad, rows), replace=False)
    faults = [("quantity", "-3"), ("quantity", "lots"), ("period_start", "1999-01-01"), ("client", ""),
              ("unit_cost", "$x"), ("period_end", "2025-01-01")]
    for number, row in enumerate(broken):
        column, value = faults[number % len(faults)]
        frame.loc[row, column] = value
    DATA.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, index=False)
    return path


def measure(path: Path) -> dict[str, float]:
    """Seconds for the whole load and for the validation inside it."""
    spent: list[float] = []
    original = quality.validate

    def timed(*args, **kwargs):  # type: ignore[no-untyped-def]
        began = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            spent.append(time.perf_counter() - began)

    data = path.read_bytes()
    quality.validate = timed  # type: ignore[assignment]
    try:
        began = time.perf_counter()
        loaded = load_file(data, path.name, "usage")
        total = time.perf_counter() - began
    finally:
        quality.validate = original  # type: ignore[assignment]
    return {"rows": loaded.record.rows_in, "quarantined": loaded.record.rows_quarantined, "total": total,
            "validation": sum(spent)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--bad", type=int, default=1_000)
    args = parser.parse_args()
    began = time.perf_counter()
    load_file(b"client,sku,quantity,period_start\nA,X,1,2026-01-01\n", "usage.csv", "usage")
    warm_up = time.perf_counter() - began
    result = measure(write_usage(args.rows, args.bad))
    share = result["validation"] / result["total"]
    print(f"GX import + first tiny file: {warm_up:.2f} s (once per process)")
    print(f"{result['rows']:,} rows, {result['quarantined']:,} quarantined: load {result['total']:.2f} s, "
          f"of which validation {result['validation']:.2f} s ({share:.0%}); "
          f"without it {result['total'] - result['validation']:.2f} s")


if __name__ == "__main__":
    main()
