"""The billing period a pull covers: one calendar month, ``YYYY-MM``."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from recon.errors import ConnectorError


@dataclass(frozen=True)
class Period:
    """A calendar month: its label, first day, last day (inclusive) and the first day of the next one
    (the exclusive bound, right for timestamps)."""

    label: str
    start: date
    end: date
    next_start: date

    @classmethod
    def parse(cls, text: str) -> Period:
        """``YYYY-MM`` -> ``Period``; ``ConnectorError`` for anything else."""
        match = re.fullmatch(r"(\d{4})-(\d{2})", text.strip())
        if not match or not 1 <= int(match.group(2)) <= 12:
            raise ConnectorError(f"period must be YYYY-MM, got {text!r}")
        year, month = int(match.group(1)), int(match.group(2))
        start = date(year, month, 1)
        next_start = date(year + month // 12, month % 12 + 1, 1)
        return cls(start.strftime("%Y-%m"), start, date.fromordinal(next_start.toordinal() - 1), next_start)

    @classmethod
    def last_closed(cls, today: date) -> Period:
        """The latest month that is over on ``today`` (the one before it): the month a billing close pulls."""
        first_of_month = today.replace(day=1)
        return cls.parse(date.fromordinal(first_of_month.toordinal() - 1).strftime("%Y-%m"))
