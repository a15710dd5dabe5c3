"""What the dashboard's AppTest tests share: a run with no exception or error shown, and the Fixes page's
table and selection (the grid's selection set as the browser sends it)."""

from __future__ import annotations

import pandas as pd
from streamlit.testing.v1 import AppTest


def assert_clean(at: AppTest) -> None:
    assert not at.exception, [item.value for item in at.exception]
    assert not at.error, [item.value for item in at.error]


def fixes_table(at: AppTest) -> pd.DataFrame:
    """The Fixes page's table of fixes (the frame carrying the hidden ``fix_key``)."""
    return next(frame.value for frame in at.dataframe if "fix_key" in frame.value)


def select_fixes(at: AppTest, rows: list[int]) -> None:
    """Select ``rows`` of the Fixes page's table and rerun."""
    at.session_state["fixes.table"] = {"selection": {"rows": rows, "columns": [], "cells": []}}
    at.run()
    assert_clean(at)
