"""Admin: who may sign in with which role, and who did what when (sign-ins, exports, resolutions)."""

from __future__ import annotations

import streamlit as st

from dashboard import login, session, ui
from recon import access, views

session.require(access.MANAGE_USERS)
ui.header("Admin", "Who may sign in, with which role, and who signed in, exported or resolved what, when?")
storage = session.auth_storage()
me = session.principal()
context = session.context()
client_names = views.client_names(context.result) if context is not None else []

st.subheader("Users")
st.caption("Account managers see the clients whose latest contract line names them (their manager name, "
           "else their user name), plus any clients granted here. Auditors read everything and change nothing.")
users_slot = st.container()  # filled once the forms below have run: a user added or reset shows as such

left, right = st.columns(2)
with left, st.form("admin.add", border=True):
    st.markdown("**Add a user**")
    name = st.text_input("User name (an e-mail address for the identity provider)", key="admin.add.name")
    role = st.selectbox("Role", access.ROLES, index=access.ROLES.index(access.FINANCE), key="admin.add.role",
                        format_func=lambda value: value.replace("_", " "))
    manager_name = st.text_input("Manager name on contracts (account managers)", key="admin.add.manager")
    clients = st.multiselect("Also these clients", client_names, key="admin.add.clients")
    provider_only = st.toggle("Signs in with the identity provider only (no password)", key="admin.add.oidc")
    if st.form_submit_button("Add user", type="primary", icon=":material/person_add:"):
        password = None if provider_only else access.generate_password()
        try:
            user = access.new_user(name, role, password, clients, manager_name, now=login.now(),
                                 must_change_password=password is not None)
            access.add_user(storage, user, me.user, login.now())
        except access.AuthError as error:
            st.error(ui.error_text(error), icon=":material/error:")
        else:
            st.success(f"Added **{ui.md(user.username)}** ({ui.md(user.role.replace('_', ' '))}).",
                       icon=":material/check_circle:")
            if password:
                st.write("One-time password, shown only now (to be changed at the first sign-in):")
                st.code(password, language=None)

users = storage.list_users()  # read after the add form: the user it added is listed and can be changed
with right, st.container(border=True):
    st.markdown("**Change a user**")
    names = [user.username for user in users]
    chosen_name = st.selectbox("User", names, index=None, key="admin.change.user", placeholder="Choose a user")
    chosen = next((user for user in users if user.username == chosen_name), None)
    if chosen is not None:
        new_role = st.selectbox("Role", access.ROLES, index=access.ROLES.index(chosen.role),
                                key=f"admin.change.role.{chosen.username}",
                                format_func=lambda value: value.replace("_", " "))
        new_manager = st.text_input("Manager name on contracts", value=chosen.manager_name,
                                    key=f"admin.change.manager.{chosen.username}")
        new_clients = st.multiselect("Also these clients", sorted({*client_names, *chosen.clients}),
                                     default=list(chosen.clients), key=f"admin.change.clients.{chosen.username}")
        disabled = st.toggle("Disabled", value=chosen.disabled, key=f"admin.change.disabled.{chosen.username}")
        save, reset = st.columns(2)
        if save.button("Save changes", type="primary", key="admin.change.save", icon=":material/save:"):
            try:
                access.change_user(storage, chosen.username, me.user, login.now(), role=new_role,
                                 clients=new_clients, manager_name=new_manager, disabled=disabled)
                st.toast(f"{ui.md(chosen.username)} changed.", icon=":material/check_circle:")
                st.rerun()
            except access.AuthError as error:
                st.error(ui.error_text(error), icon=":material/error:")
        if chosen.password_hash and reset.button("New one-time password", key="admin.change.reset",
                                                 icon=":material/password:"):
            password = access.reset_password(storage, chosen.username, me.user, login.now())
            st.write("One-time password, shown only now:")
            st.code(password, language=None)

with users_slot:  # drawn after both forms, from the list as they left it (a user added, a password reset)
    ui.table(access.users_frame(storage.list_users()), key="admin.users", currency="USD", file_name="users.csv",
             labels={"sign_in": "Signs in with", "manager_name": "Manager name on contracts"})

st.subheader("Access log")
st.caption("Newest first: sign-ins (and refusals), sign-outs, exports, resolutions, settings and user changes.")
log = access.access_log_frame(storage.access_log(limit=2000))
first, second = st.columns(2)
who = first.multiselect("User", views.choices(log["user"]), key="admin.log.users", placeholder="Anyone")
what = second.multiselect("Action", views.choices(log["action"]), key="admin.log.actions",
                          format_func=lambda action: str(action).replace("_", " "),
                          placeholder="Any action")
shown = access.filter_access_log(log, who, what)
ui.table(access.access_log_for_display(shown), key="admin.log", currency="USD", file_name="access_log.csv", height=420,
         labels={"at": "When (UTC)", "source": "From"})
