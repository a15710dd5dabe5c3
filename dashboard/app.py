"""MSP Billing Recon dashboard: the entrypoint (``streamlit run dashboard/app.py``).

It sets the page up, draws the global filters once in the sidebar, builds the page context (the active
run seen through the filters) and runs the chosen page. Any ``ReconError`` becomes one clear message,
and no other exception reaches the browser as a traceback.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # `streamlit run dashboard/app.py` puts only dashboard/ on the path
    sys.path.insert(0, str(ROOT))

import streamlit as st  # noqa: E402

from dashboard import session  # noqa: E402
from dashboard.filters import sidebar_filters  # noqa: E402
from recon.errors import ReconError  # noqa: E402

LOG = logging.getLogger("dashboard")
PAGES = Path(__file__).resolve().parent / "app_pages"

st.set_page_config(page_title="MSP Billing Recon", page_icon=":material/receipt_long:", layout="wide",
                   initial_sidebar_state="expanded")

navigation = st.navigation({
    "Billing": [
        st.Page(PAGES / "overview.py", title="Overview", icon=":material/space_dashboard:", default=True),
        st.Page(PAGES / "client.py", title="Client", icon=":material/apartment:"),
        st.Page(PAGES / "discrepancies.py", title="Discrepancies", icon=":material/rule:"),
        st.Page(PAGES / "receivables.py", title="Receivables", icon=":material/account_balance_wallet:"),
    ],
    "Data": [
        st.Page(PAGES / "sources.py", title="Sources", icon=":material/upload_file:"),
        st.Page(PAGES / "mappings.py", title="Mappings", icon=":material/join_inner:"),
        st.Page(PAGES / "runs.py", title="Runs", icon=":material/history:"),
        st.Page(PAGES / "settings.py", title="Settings", icon=":material/tune:"),
    ],
})

ASSETS = Path(__file__).resolve().parent / "assets"
st.logo(ASSETS / "logo.svg", size="large", icon_image=ASSETS / "icon.svg")
st.session_state["app.context"] = None
with st.sidebar:
    try:
        result = session.result_of(session.active_run())
        filters = sidebar_filters(result)
        session.build_context(filters)
    except ReconError as error:
        st.error(f"The current data cannot be reconciled: {error}", icon=":material/error:")
    except Exception as error:
        LOG.exception("run failed")
        st.error(f"The current data cannot be reconciled ({type(error).__name__}: {error}).",
                 icon=":material/error:")

try:
    navigation.run()
except ReconError as error:
    st.error(str(error), icon=":material/error:")
except Exception as error:  # the last line of defence: a message, never a traceback
    LOG.exception("page failed")
    st.error(f"Something went wrong on this page ({type(error).__name__}: {error}). "
             "The details are in the server log.", icon=":material/error:")
