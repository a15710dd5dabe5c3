"""Access: who may see what. Roles and the actions they grant (``roles``), the clients a role sees
(``scope``), users and the access log (``users``), passwords (``passwords``), sign-in throttling
(``throttle``), signing in and sessions (``sessions``), and their storage in the store's database
(``storage``).

In: a principal, a ``Reconciliation``, an ``AuthStorage`` and the time. Out: decisions (may this principal
do that), the run cut to what the principal may see, and records of who did what. Pure functions over
values; only ``storage`` touches the database.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from recon import lazy

if TYPE_CHECKING:
    from recon.access.passwords import (
        BCRYPT_ROUNDS as BCRYPT_ROUNDS,
    )
    from recon.access.passwords import (
        MAX_PASSWORD_LENGTH as MAX_PASSWORD_LENGTH,
    )
    from recon.access.passwords import (
        MIN_PASSWORD_LENGTH as MIN_PASSWORD_LENGTH,
    )
    from recon.access.passwords import (
        generate_password as generate_password,
    )
    from recon.access.passwords import (
        hash_password as hash_password,
    )
    from recon.access.passwords import (
        password_problems as password_problems,
    )
    from recon.access.passwords import (
        verify_password as verify_password,
    )
    from recon.access.roles import (
        ACCOUNT_MANAGER as ACCOUNT_MANAGER,
    )
    from recon.access.roles import (
        ACTIONS as ACTIONS,
    )
    from recon.access.roles import (
        ADMIN as ADMIN,
    )
    from recon.access.roles import (
        AUDITOR as AUDITOR,
    )
    from recon.access.roles import (
        CHANGE_SETTINGS as CHANGE_SETTINGS,
    )
    from recon.access.roles import (
        EXPORT as EXPORT,
    )
    from recon.access.roles import (
        EXPORT_AUDIT_PACK as EXPORT_AUDIT_PACK,
    )
    from recon.access.roles import (
        FINANCE as FINANCE,
    )
    from recon.access.roles import (
        MANAGE_USERS as MANAGE_USERS,
    )
    from recon.access.roles import (
        MAP as MAP,
    )
    from recon.access.roles import (
        PERMISSIONS as PERMISSIONS,
    )
    from recon.access.roles import (
        RESOLVE as RESOLVE,
    )
    from recon.access.roles import (
        ROLES as ROLES,
    )
    from recon.access.roles import (
        RUN as RUN,
    )
    from recon.access.roles import (
        SCOPED_ROLES as SCOPED_ROLES,
    )
    from recon.access.roles import (
        UPLOAD as UPLOAD,
    )
    from recon.access.roles import (
        VIEW as VIEW,
    )
    from recon.access.roles import (
        VIEW_ACCESS_LOG as VIEW_ACCESS_LOG,
    )
    from recon.access.roles import (
        VIEW_RUNS as VIEW_RUNS,
    )
    from recon.access.roles import (
        Principal as Principal,
    )
    from recon.access.roles import (
        can as can,
    )
    from recon.access.roles import (
        normalise_username as normalise_username,
    )
    from recon.access.roles import (
        require as require,
    )
    from recon.access.scope import (
        Scope as Scope,
    )
    from recon.access.scope import (
        apply_scope as apply_scope,
    )
    from recon.access.scope import (
        fold_name as fold_name,
    )
    from recon.access.scope import (
        restrict as restrict,
    )
    from recon.access.scope import (
        scope_for as scope_for,
    )
    from recon.access.scope import (
        visible_clients as visible_clients,
    )
    from recon.access.sessions import (
        NO_BROWSER as NO_BROWSER,
    )
    from recon.access.sessions import (
        WRONG_CREDENTIALS as WRONG_CREDENTIALS,
    )
    from recon.access.sessions import (
        BrowserSession as BrowserSession,
    )
    from recon.access.sessions import (
        LoginResult as LoginResult,
    )
    from recon.access.sessions import (
        Session as Session,
    )
    from recon.access.sessions import (
        SessionPolicy as SessionPolicy,
    )
    from recon.access.sessions import (
        authenticate as authenticate,
    )
    from recon.access.sessions import (
        browser_digest as browser_digest,
    )
    from recon.access.sessions import (
        browser_session as browser_session,
    )
    from recon.access.sessions import (
        current_principal as current_principal,
    )
    from recon.access.sessions import (
        describe as describe,
    )
    from recon.access.sessions import (
        end_browser_session as end_browser_session,
    )
    from recon.access.sessions import (
        logged_name as logged_name,
    )
    from recon.access.sessions import (
        open_browser_session as open_browser_session,
    )
    from recon.access.sessions import (
        principal_for_identity as principal_for_identity,
    )
    from recon.access.sessions import (
        record as record,
    )
    from recon.access.sessions import (
        session_expired as session_expired,
    )
    from recon.access.sessions import (
        start_session as start_session,
    )
    from recon.access.sessions import (
        touch as touch,
    )
    from recon.access.storage import (
        StoreAuthStorage as StoreAuthStorage,
    )
    from recon.access.throttle import (
        LockoutPolicy as LockoutPolicy,
    )
    from recon.access.throttle import (
        locked_until as locked_until,
    )
    from recon.access.users import (
        ACCESS_LOG_COLUMNS as ACCESS_LOG_COLUMNS,
    )
    from recon.access.users import (
        FIRST_ADMIN as FIRST_ADMIN,
    )
    from recon.access.users import (
        USERNAME_PATTERN as USERNAME_PATTERN,
    )
    from recon.access.users import (
        AccessEvent as AccessEvent,
    )
    from recon.access.users import (
        AuthStorage as AuthStorage,
    )
    from recon.access.users import (
        MemoryAuthStorage as MemoryAuthStorage,
    )
    from recon.access.users import (
        UserRecord as UserRecord,
    )
    from recon.access.users import (
        access_log_for_display as access_log_for_display,
    )
    from recon.access.users import (
        access_log_frame as access_log_frame,
    )
    from recon.access.users import (
        add_user as add_user,
    )
    from recon.access.users import (
        change_password as change_password,
    )
    from recon.access.users import (
        change_user as change_user,
    )
    from recon.access.users import (
        ensure_first_admin as ensure_first_admin,
    )
    from recon.access.users import (
        filter_access_log as filter_access_log,
    )
    from recon.access.users import (
        first_admin_banner as first_admin_banner,
    )
    from recon.access.users import (
        new_user as new_user,
    )
    from recon.access.users import (
        reset_password as reset_password,
    )
    from recon.access.users import (
        users_frame as users_frame,
    )
    from recon.errors import (
        AccessDeniedError as AccessDeniedError,
    )
    from recon.errors import (
        AuthError as AuthError,
    )

_EXPORTS = {
    "AccessDeniedError": "recon.errors",
    "AuthError": "recon.errors",
    "ACCOUNT_MANAGER": "recon.access.roles",
    "ACTIONS": "recon.access.roles",
    "ADMIN": "recon.access.roles",
    "AUDITOR": "recon.access.roles",
    "CHANGE_SETTINGS": "recon.access.roles",
    "EXPORT": "recon.access.roles",
    "EXPORT_AUDIT_PACK": "recon.access.roles",
    "FINANCE": "recon.access.roles",
    "MANAGE_USERS": "recon.access.roles",
    "MAP": "recon.access.roles",
    "PERMISSIONS": "recon.access.roles",
    "Principal": "recon.access.roles",
    "RESOLVE": "recon.access.roles",
    "ROLES": "recon.access.roles",
    "RUN": "recon.access.roles",
    "SCOPED_ROLES": "recon.access.roles",
    "UPLOAD": "recon.access.roles",
    "VIEW": "recon.access.roles",
    "VIEW_ACCESS_LOG": "recon.access.roles",
    "VIEW_RUNS": "recon.access.roles",
    "can": "recon.access.roles",
    "normalise_username": "recon.access.roles",
    "require": "recon.access.roles",
    "Scope": "recon.access.scope",
    "apply_scope": "recon.access.scope",
    "fold_name": "recon.access.scope",
    "restrict": "recon.access.scope",
    "scope_for": "recon.access.scope",
    "visible_clients": "recon.access.scope",
    "ACCESS_LOG_COLUMNS": "recon.access.users",
    "AccessEvent": "recon.access.users",
    "AuthStorage": "recon.access.users",
    "FIRST_ADMIN": "recon.access.users",
    "MemoryAuthStorage": "recon.access.users",
    "USERNAME_PATTERN": "recon.access.users",
    "UserRecord": "recon.access.users",
    "access_log_for_display": "recon.access.users",
    "access_log_frame": "recon.access.users",
    "add_user": "recon.access.users",
    "change_password": "recon.access.users",
    "change_user": "recon.access.users",
    "ensure_first_admin": "recon.access.users",
    "filter_access_log": "recon.access.users",
    "first_admin_banner": "recon.access.users",
    "new_user": "recon.access.users",
    "reset_password": "recon.access.users",
    "users_frame": "recon.access.users",
    "BCRYPT_ROUNDS": "recon.access.passwords",
    "MAX_PASSWORD_LENGTH": "recon.access.passwords",
    "MIN_PASSWORD_LENGTH": "recon.access.passwords",
    "generate_password": "recon.access.passwords",
    "hash_password": "recon.access.passwords",
    "password_problems": "recon.access.passwords",
    "verify_password": "recon.access.passwords",
    "LockoutPolicy": "recon.access.throttle",
    "locked_until": "recon.access.throttle",
    "LoginResult": "recon.access.sessions",
    "Session": "recon.access.sessions",
    "SessionPolicy": "recon.access.sessions",
    "WRONG_CREDENTIALS": "recon.access.sessions",
    "authenticate": "recon.access.sessions",
    "current_principal": "recon.access.sessions",
    "describe": "recon.access.sessions",
    "principal_for_identity": "recon.access.sessions",
    "record": "recon.access.sessions",
    "session_expired": "recon.access.sessions",
    "start_session": "recon.access.sessions",
    "touch": "recon.access.sessions",
    "BrowserSession": "recon.access.sessions",
    "NO_BROWSER": "recon.access.sessions",
    "browser_digest": "recon.access.sessions",
    "browser_session": "recon.access.sessions",
    "end_browser_session": "recon.access.sessions",
    "logged_name": "recon.access.sessions",
    "open_browser_session": "recon.access.sessions",
    "StoreAuthStorage": "recon.access.storage",
}
__getattr__, __dir__ = lazy.exports(globals(), _EXPORTS)
__all__ = sorted(_EXPORTS)
