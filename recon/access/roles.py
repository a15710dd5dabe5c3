"""Roles and the actions they grant (``can`` / ``require``), and who a signed-in principal is.

Finance runs the billing close; admin also owns settings and users; an account manager works their own
clients' discrepancies; an auditor reads everything and changes nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from recon.errors import AccessDeniedError, AuthError

# --------------------------------------------------------------------------------------- roles, actions

ADMIN, FINANCE, ACCOUNT_MANAGER, AUDITOR = "admin", "finance", "account_manager", "auditor"
ROLES = (ADMIN, FINANCE, ACCOUNT_MANAGER, AUDITOR)

VIEW, VIEW_RUNS, UPLOAD, RUN, RESOLVE, MAP = "view", "view_runs", "upload", "run", "resolve", "map"
EXPORT, EXPORT_AUDIT_PACK = "export", "export_audit_pack"
CHANGE_SETTINGS, MANAGE_USERS, VIEW_ACCESS_LOG = "change_settings", "manage_users", "view_access_log"
# PSA fixes (recon.fixes): propose or edit one, approve it, write it to the PSA (or export it for manual entry).
PROPOSE_FIX, APPROVE_FIX, APPLY_FIX = "propose_fix", "approve_fix", "apply_fix"
ACTIONS = (VIEW, VIEW_RUNS, UPLOAD, RUN, RESOLVE, MAP, EXPORT, EXPORT_AUDIT_PACK, CHANGE_SETTINGS, MANAGE_USERS,
           VIEW_ACCESS_LOG, PROPOSE_FIX, APPROVE_FIX, APPLY_FIX)

# Who may do what. Finance runs the billing close; admin also owns settings and users; an account
# manager works their own clients' discrepancies and shares their statements (stored runs cover the
# whole book, so they are not theirs to browse) and may propose PSA fixes for them, which finance
# approves and applies; an auditor reads everything and changes nothing.
PERMISSIONS: Mapping[str, frozenset[str]] = {
    ADMIN: frozenset(ACTIONS),
    FINANCE: frozenset({VIEW, VIEW_RUNS, UPLOAD, RUN, RESOLVE, MAP, EXPORT, EXPORT_AUDIT_PACK, PROPOSE_FIX,
                        APPROVE_FIX, APPLY_FIX}),
    ACCOUNT_MANAGER: frozenset({VIEW, RESOLVE, EXPORT, PROPOSE_FIX}),
    AUDITOR: frozenset({VIEW, VIEW_RUNS, EXPORT, EXPORT_AUDIT_PACK}),
}
SCOPED_ROLES = frozenset({ACCOUNT_MANAGER})


@dataclass(frozen=True)
class Principal:
    """Who is acting: the user name, the role, and the client names granted explicitly.

    ``manager_name`` is the name contracts use in ``account_manager`` for this person (it decides an
    account manager's clients; empty means the user name)."""

    user: str
    role: str
    clients: frozenset[str] = frozenset()
    manager_name: str = ""

    def __post_init__(self) -> None:
        if self.role not in ROLES:
            raise AuthError(f"unknown role {self.role!r}; expected one of {', '.join(ROLES)}")


def can(principal: Principal | None, action: str) -> bool:
    """Whether ``principal`` may perform ``action`` (one of ``ACTIONS``); nobody may do anything unknown."""
    if action not in ACTIONS:
        raise AuthError(f"unknown action {action!r}; expected one of {', '.join(ACTIONS)}")
    return principal is not None and action in PERMISSIONS[principal.role]


def require(principal: Principal | None, action: str) -> Principal:
    """``principal`` when it may perform ``action``; raises ``AccessDeniedError`` otherwise."""
    if not can(principal, action):
        who = f"{principal.user} ({principal.role})" if principal else "an anonymous visitor"
        raise AccessDeniedError(f"{who} may not {action.replace('_', ' ')}")
    assert principal is not None  # for the type checker: can() is False for None
    return principal


def normalise_username(name: str) -> str:
    """User names compare without case or surrounding spaces (``"Dana "`` is ``"dana"``)."""
    return name.strip().casefold()


