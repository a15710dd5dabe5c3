"""MSP Billing Recon dashboard: the entrypoint (``streamlit run dashboard/app.py``).

It sets the page up and, before anything else, signs the visitor in (``dashboard.login``): until then the
only page that exists is the sign-in form. Then it offers the pages the principal's role allows, draws
the global filters once in the sidebar, builds the page context (the active run cut to the principal's
clients and seen through the filters) and runs the chosen page. Any ``ReconError`` becomes one clear message,
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

from dashboard import data, login, session, ui  # noqa: E402
from dashboard.filters import sidebar_filters  # noqa: E402
from recon import access  # noqa: E402
from recon.errors import ReconError  # noqa: E402
from recon.exports.safe import install_log_redaction  # noqa: E402

LOG = logging.getLogger("dashboard")
install_log_redaction("streamlit", "dashboard")  # no password of a database URL in the server log
PAGES = Path(__file__).resolve().parent / "app_pages"

st.set_page_config(page_title="MSP Billing Recon", page_icon=":material/receipt_long:", layout="wide",
                   initial_sidebar_state="expanded")
ASSETS = Path(__file__).resolve().parent / "assets"
st.logo(ASSETS / "logo.svg", size="large", icon_image=ASSETS / "icon.svg")

# The pages: (group, file, title, icon, the action a principal needs to see the page)
PAGE_SPECS = (
    ("Billing", "overview.py", "Overview", ":material/space_dashboard:", access.VIEW),
    ("Billing", "client.py", "Client", ":material/apartment:", access.VIEW),
    ("Billing", "discrepancies.py", "Discrepancies", ":material/rule:", access.VIEW),
    ("Billing", "fixes.py", "Fixes", ":material/build:", access.VIEW),
    ("Billing", "receivables.py", "Receivables", ":material/account_balance_wallet:", access.VIEW),
    ("Data", "sources.py", "Sources", ":material/upload_file:", access.UPLOAD),
    ("Data", "mappings.py", "Mappings", ":material/join_inner:", access.MAP),
    ("Data", "runs.py", "Runs", ":material/history:", access.VIEW_RUNS),
    ("Data", "settings.py", "Settings", ":material/tune:", access.CHANGE_SETTINGS),
    ("Admin", "admin.py", "Admin", ":material/admin_panel_settings:", access.MANAGE_USERS),
)

# ------------------------------------------------------------------- nobody reaches a page unsigned
try:
    storage = session.auth_storage()
except ReconError as error:
    st.error(f"Nobody can sign in: the user database cannot be opened ({ui.error_text(error)}).",
             icon=":material/database_off:")
    st.stop()


def sign_in() -> None:
    login.sign_in_form(storage)


def choose_password() -> None:
    login.change_password_form(storage)


principal = login.signed_in(storage)
if principal is None or login.must_change_password():
    # The sign-in form (or, with a one-time password, the form to choose one) is the only page, and
    # every page's URL draws it too: a bookmarked or shared page asks to sign in, not "page not found",
    # and opens once signed in (the URL is kept: a page is known by its url_path, the same below).
    form, title, icon, url_path = (sign_in, "Sign in", ":material/lock:", "sign-in") if principal is None \
        else (choose_password, "Choose a password", ":material/password:", "choose-password")
    gate = [st.Page(form, title=title, icon=icon, url_path=url_path, default=True)]
    gate += [st.Page(form, title=title, icon=icon, url_path=Path(file).stem) for _, file, *_ in PAGE_SPECS]
    st.navigation(gate, position="hidden").run()
    data.quality_suites_warming()  # once the form is drawn: the first visitor types while GX is imported
    session.read_ahead()  # ... and while the files they will see are read
    st.stop()

pages: dict[str, list[st.Page]] = {}
for group, file, title, icon, action in PAGE_SPECS:
    if access.can(principal, action):
        pages.setdefault(group, []).append(st.Page(PAGES / file, title=title, icon=icon, url_path=Path(file).stem,
                                                   default=file == "overview.py"))
navigation = st.navigation(pages)

st.session_state["app.context"] = None
with st.sidebar:
    login.sidebar_identity(storage, principal)
    try:
        result = session.result_of(session.active_run())
        filters = sidebar_filters(result)
        session.build_context(filters)
    except ReconError as error:
        st.error(f"The current data cannot be reconciled: {ui.error_text(error)}", icon=":material/error:")
    except Exception as error:
        LOG.exception("run failed")
        st.error(f"The current data cannot be reconciled ({type(error).__name__}: {ui.error_text(error)}).",
                 icon=":material/error:")

try:
    navigation.run()
except ReconError as error:
    st.error(ui.error_text(error), icon=":material/error:")
except Exception as error:  # the last line of defence: a message, never a traceback
    LOG.exception("page failed")
    st.error(f"Something went wrong on this page ({type(error).__name__}: {ui.error_text(error)}). "
             "The details are in the server log.", icon=":material/error:")
finally:
    session.page_drawn()  # a first run is stored once its page is drawn (``session.activate``)
