"""Reconciliation settings: tolerances, rates and thresholds (PRODUCT.md sections 3 and 4)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from recon.errors import SettingsError
from recon.money import from_decimal

QUANTITY_BASES = ("day_weighted", "period_end")


@dataclass(frozen=True)
class Settings:
    """All knobs of a run. Money in currency units as ``Decimal``; converted to Int64 units on use."""

    quantity_tolerance: Decimal = Decimal("0.01")
    price_tolerance_pct: Decimal = Decimal("0.005")
    price_tolerance_min: Decimal = Decimal("0.01")
    amount_tolerance: Decimal = Decimal("0.01")
    default_hourly_rate: Decimal = Decimal("150.00")
    currency: str = "USD"
    fuzzy_suggest_min: float = 70.0
    payment_terms_days: int = 30
    as_of: date | None = None
    max_upload_mb: int = 200
    max_upload_rows: int = 2_000_000
    # PRODUCT.md 4a: a quantity held for part of a month counts for the days it is held (``day_weighted``),
    # or the quantity in effect on the month's last day counts in full (``period_end``).
    quantity_basis: str = "day_weighted"

    def __post_init__(self) -> None:
        problems = [
            f"{name} must not be negative"
            for name in ("quantity_tolerance", "price_tolerance_pct", "price_tolerance_min",
                         "amount_tolerance", "default_hourly_rate")
            if Decimal(getattr(self, name)) < 0
        ]
        if self.quantity_basis not in QUANTITY_BASES:
            problems.append(f"quantity_basis must be one of {', '.join(QUANTITY_BASES)}")
        if not 0 <= self.fuzzy_suggest_min <= 100:
            problems.append("fuzzy_suggest_min must be between 0 and 100")
        problems += [f"{name} must be a positive whole number" for name in ("max_upload_mb", "max_upload_rows")
                     if not isinstance(getattr(self, name), int) or getattr(self, name) < 1]
        if len(self.currency) != 3 or not self.currency.isalpha():
            problems.append("currency must be a three-letter ISO 4217 code")
        if problems:
            raise SettingsError("; ".join(problems))

    @property
    def price_tolerance_min_units(self) -> int:
        return from_decimal(self.price_tolerance_min)

    @property
    def amount_tolerance_units(self) -> int:
        return from_decimal(self.amount_tolerance)

    @property
    def default_hourly_rate_units(self) -> int:
        return from_decimal(self.default_hourly_rate)

    def replace(self, **changes: Any) -> Settings:
        """A copy with ``changes`` applied (validated again)."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, str | float | int | None]:
        """JSON-ready: decimals as strings, the date as ISO."""
        out: dict[str, str | float | int | None] = {}
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            out[field.name] = str(value) if isinstance(value, Decimal | date) else value
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Settings:
        """Inverse of ``to_dict``; unknown keys are refused with their names."""
        known = {field.name: field for field in dataclasses.fields(cls)}
        unknown = sorted(set(data) - set(known))
        if unknown:
            raise SettingsError(f"unknown settings: {', '.join(unknown)}")
        values: dict[str, Any] = {}
        for name, value in data.items():
            default = getattr(cls(), name)
            if isinstance(default, Decimal) or name.endswith(("tolerance", "_pct", "_min", "_rate")):
                values[name] = Decimal(str(value)) if name != "fuzzy_suggest_min" else float(value)
            elif name == "as_of":
                values[name] = date.fromisoformat(value) if value else None
            else:
                values[name] = value
        return cls(**values)
