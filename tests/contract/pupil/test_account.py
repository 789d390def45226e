"""R1-R4 and R7-R13: the invitee's side, profile, API tokens, unregistering."""

from __future__ import annotations

from conftest import Api
from models import Profile, Token, WorkspaceInvitation, WorkspaceMember


def invite(api: Api, owner_key: str, ws: str, email: str, role: str = "VIEWER") -> WorkspaceInvitation:
    return api.ok(WorkspaceInvitation, "POST", f"/workspaces/{ws}/invites", owner_key,
                  {"email": email, "role": role})


def test_r1_r2_my_pending_invitations(api: Api) -> None:
    ada, bob, eve = api.signup("ada"), api.signup("bob"), api.signup("eve")
    lab = api.native_workspace(ada)
    inv = invite(api, ada.key, lab, bob.email, "ADMIN")
    mine = api.ok(list[WorkspaceInvitation], "GET", "/auth/profile/invites", bob.key)
    assert [(i.token, i.role) for i in mine] == [(inv.token, "ADMIN")]
    one = api.ok(WorkspaceInvitation, "GET", f"/auth/profile/invites/{inv.token}", bob.key)
    assert str(one.workspace_id) == lab
    assert api.ok(list[WorkspaceInvitation], "GET", "/auth/profile/invites", eve.key) == []
    api.error(404, "GET", f"/auth/profile/invites/{inv.token}", eve.key)


def test_r3_decline(api: Api) -> None:
    ada, bob, eve = api.signup("ada"), api.signup("bob"), api.signup("eve")
    lab = api.native_workspace(ada)
    inv = invite(api, ada.key, lab, bob.email)
    api.error(404, "DELETE", f"/auth/profile/invites/{inv.token}", eve.key)
    api.ok(type(None), "DELETE", f"/auth/profile/invites/{inv.token}", bob.key, headers={"Accept": "*/*"})
    native = api.v1("GET", f"/workspaces/{lab}/invitations/{inv.id}", ada.access).json()
    assert native["status"] == "declined"
    api.error(409, "POST", f"/auth/profile/invites/{inv.token}/accept", bob.key)
    assert api.native_role(ada, lab, bob.id) is None


def test_r4_accept_needs_the_invited_email(api: Api) -> None:
    ada, bob, eve = api.signup("ada"), api.signup("bob"), api.signup("eve")
    lab = api.native_workspace(ada)
    inv = invite(api, ada.key, lab, bob.email, "EDITOR")
    api.error(404, "POST", f"/auth/profile/invites/{inv.token}/accept", eve.key)
    assert api.native_role(ada, lab, eve.id) is None
    m = api.ok(WorkspaceMember, "POST", f"/auth/profile/invites/{inv.token}/accept", bob.key)
    assert m.role == "EDITOR" and str(m.workspace_id) == lab and str(m.user_id) == bob.id
    assert api.native_role(ada, lab, bob.id) == "editor"
    native = api.v1("GET", f"/workspaces/{lab}/invitations/{inv.id}", ada.access).json()
    assert native["status"] == "accepted"
    api.error(409, "POST", f"/auth/profile/invites/{inv.token}/accept", bob.key)


def test_r7_r8_profile(api: Api) -> None:
    ada = api.signup("ada")
    lab = api.native_workspace(ada)
    p = api.ok(Profile, "GET", "/auth/profile", ada.key)
    assert p.email == ada.email and str(p.default_workspace_id) == ada.personal_workspace_id
    assert p.user_workspaces is not None
    assert {str(w.workspace_id) for w in p.user_workspaces} == {lab, ada.personal_workspace_id}
    assert all(w.is_owner and w.role is None for w in p.user_workspaces)
    p = api.ok(Profile, "PATCH", "/auth/profile", ada.key, {"name": "Ada L."})
    assert p.name == "Ada L."
    assert api.v1("GET", "/me", ada.access).json()["name"] == "Ada L."
    assert p.photo_url is None and p.onboarded_at is None and p.product_updates_subscribed is False
    p = api.ok(Profile, "PATCH", "/auth/profile", ada.key, {
        "photo_url": "https://example.com/ada.png", "onboarded": True,
        "product_updates_subscribed": True})
    assert p.photo_url == "https://example.com/ada.png" and p.onboarded_at is not None
    assert p.product_updates_subscribed is True and p.name == "Ada L."
    me = api.v1("GET", "/me", ada.access).json()
    assert me["photo_url"] == "https://example.com/ada.png" and me["product_updates_subscribed"]
    assert me["onboarded_at"] is not None
    # Onboarding is recorded once: a second `onboarded: true` keeps the first time.
    again = api.ok(Profile, "PATCH", "/auth/profile", ada.key, {"onboarded": True})
    assert again.onboarded_at == p.onboarded_at
    cleared = api.ok(Profile, "PATCH", "/auth/profile", ada.key, {"onboarded": False})
    assert cleared.onboarded_at is None and cleared.photo_url == "https://example.com/ada.png"
    err = api.error(409, "PATCH", "/auth/profile", ada.key, {"photo_url": "not a url"})
    assert err.result.fields and err.result.fields[0].field == "photo_url"
    assert api.v1("GET", "/me", ada.access).json()["photo_url"] == "https://example.com/ada.png"


def test_r9_to_r12_tokens_are_api_keys(api: Api) -> None:
    ada = api.signup("ada")
    made = api.ok(Token, "POST", "/auth/tokens", ada.key, {"name": "laptop"})
    assert made.token and made.token.startswith("rk_")
    # The new token works in the api-key header, with the README's Bearer prefix too.
    api.ok(Profile, "GET", "/auth/profile", f"Bearer {made.token}")
    listed = api.ok(list[Token], "GET", "/auth/tokens", ada.key)
    assert made.id in {t.id for t in listed} and all(t.token is None for t in listed)
    native = api.v1("GET", "/me/api-keys", ada.access).json()["data"]
    assert {k["id"] for k in native} == {t.id for t in listed}
    one = api.ok(Token, "GET", f"/auth/tokens/{made.id}", ada.key)
    assert one.id == made.id and one.token is None
    gone = api.ok(Token, "DELETE", f"/auth/tokens/{made.id}", ada.key)
    assert gone.id == made.id
    assert made.id not in {k["id"] for k in api.v1("GET", "/me/api-keys", ada.access).json()["data"]}
    api.error(401, "GET", "/auth/profile", made.token)
    api.error(404, "GET", f"/auth/tokens/{made.id}", ada.key)


def test_r13_unregister(api: Api) -> None:
    ada, bob = api.signup("ada"), api.signup("bob")
    lab = api.native_workspace(ada)
    api.native_add(ada, lab, bob, "viewer")
    err = api.error(409, "POST", "/auth/unregister", ada.key)
    assert err.result.error == "last_owner"
    api.ok(type(None), "POST", "/auth/unregister", bob.key)
    api.error(401, "GET", "/auth/profile", bob.key)
    assert api.v1("GET", "/me", bob.access).status_code == 401
    assert api.native_role(ada, lab, bob.id) is None
