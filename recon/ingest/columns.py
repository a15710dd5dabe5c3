"""Columns a file has that nothing reads (PRODUCT.md section 9: nothing is dropped silently).

In: a file's header, the columns its fields and its preset's rule read, the names its format knows and
the names looked for that the file lacks. Out: the columns not used (``recon.sources.UnusedColumn``),
each known to the format or with the name it looks like a misspelling of, and one warning sentence for
the validation report about the unknown ones.

A file is never refused for such a column: real exports carry many (a newer export's additions, a
spreadsheet's notes). But an optional column renamed by hand (``vendr``) would otherwise leave its field
empty without a word, so the report names every column not used, and one whose name is close to a field's
or to a column the preset reads (rapidfuzz ratio of the folded names >= ``SUGGESTION_MIN_SCORE``) gets a
"did you mean".
"""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd
from rapidfuzz import fuzz, process

from recon.ingest.presets import fold
from recon.ingest.reading import UNNAMED
from recon.sources import UnusedColumn, unused_warning

SUGGESTION_MIN_SCORE = 80.0


def unused_columns(text: pd.DataFrame, used: Iterable[str], known: Iterable[str],
                   wanted: Iterable[str]) -> tuple[UnusedColumn, ...]:
    """The columns of ``text`` (a file's text cells) not in ``used``, in the file's order. One the file's
    format documents or its rule looks for (``known``, folded names) is marked known; another gets the
    closest of ``wanted`` (fields and columns looked for and not found) as its "did you mean". A column
    with no name (``unnamed column N``) counts only when it holds a value: a trailing delimiter on every
    line is no column anyone expects to count."""
    taken = {fold(column) for column in used}
    known_names = set(known)
    present = {fold(column) for column in text.columns}
    choices = {fold(name): name for name in wanted if fold(name) not in present}
    return tuple(UnusedColumn(str(column), None, True) if fold(column) in known_names
                 else UnusedColumn(str(column), _closest(str(column), choices))
                 for column in text.columns if fold(column) not in taken and not _blank_unnamed(text, str(column)))


def _blank_unnamed(text: pd.DataFrame, column: str) -> bool:
    return column.startswith(UNNAMED) and not text[column].fillna("").ne("").any()


def _closest(column: str, choices: dict[str, str]) -> str | None:
    """The choice whose folded name is closest to ``column``'s (None below ``SUGGESTION_MIN_SCORE``)."""
    if not choices:
        return None
    best = process.extractOne(fold(column), list(choices), scorer=fuzz.ratio, score_cutoff=SUGGESTION_MIN_SCORE)
    return choices[best[0]] if best is not None else None


__all__ = ["SUGGESTION_MIN_SCORE", "unused_columns", "unused_warning"]
