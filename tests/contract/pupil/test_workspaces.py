"""W1-W14: every workspace operation, validated against the strict models, with the state
checked through the native /v1 API afterwards."""

from __future__ import annotations

from uuid import UUID

from conftest import Api
from models import WorkspaceInvitation, WorkspaceMember, WorkspaceResponse


def test_w1_list_workspaces_shows_every_membership(api: Api) -> None:
    ada = api.signup("ada")
    lab = api.native_workspace(ada, "Lab")
    got = api.ok(list[WorkspaceResponse], "GET", "/workspaces/", ada.key)
    native = api.v1("GET", "/workspaces", ada.access).json()["data"]
    assert {str(w.id) for w in got} == {w["id"] for w in native} == {lab, ada.personal_workspace_id}


def test_w2_create_workspace_answers_200_with_the_workspace(api: Api) -> None:
    ada = api.signup("ada")
    body = {
        "name": "Eye Lab",
        "picture_url": "https://example.com/p.png",
        "world_video_mode": "BLUR",
        "created_at": "2024-01-02T03:04:05",  # isoformat() of a naive datetime
        "updated_at": "2024-01-02T03:04:05.123456+00:00",
    }
    ws = api.ok(WorkspaceResponse, "POST", "/workspaces/", ada.key, body)
    assert ws.name == "Eye Lab" and ws.picture_url == body["picture_url"]
    assert ws.world_video_mode == "BLUR" and str(ws.created_by_user_id) == ada.id
    native = api.v1("GET", f"/workspaces/{ws.id}", ada.access).json()
    assert native["my_role"] == "owner" and native["logo_url"] == body["picture_url"]
    assert native["world_video_mode"] == "BLUR" and native["name"] == "Eye Lab"


def test_w2_invalid_input_is_409_and_creates_nothing(api: Api) -> None:
    ada = api.signup("ada")
    api.error(409, "POST", "/workspaces/", ada.key, {"name": "   "})
    api.error(409, "POST", "/workspaces/", ada.key, {"name": "x", "world_video_mode": "normal"})
    api.error(409, "POST", "/workspaces/", ada.key, {"name": 7})
    api.error(400, "POST", "/workspaces/", ada.key, headers={}, body=None)
    assert len(api.v1("GET", "/workspaces", ada.access).json()["data"]) == 1


def test_w3_get_workspace_by_id_and_by_default(api: Api) -> None:
    ada = api.signup("ada")
    lab = api.native_workspace(ada, "Lab")
    ws = api.ok(WorkspaceResponse, "GET", f"/workspaces/{lab}", ada.key)
    assert str(ws.id) == lab and ws.name == "Lab"
    personal = api.ok(WorkspaceResponse, "GET", "/workspaces/default", ada.key)
    assert str(personal.id) == ada.personal_workspace_id


def test_w3_demo_may_not_read_and_strangers_get_404(api: Api) -> None:
    ada, demo, stranger = api.signup("ada"), api.signup("demo"), api.signup("stranger")
    lab = api.native_workspace(ada)
    api.native_add(ada, lab, demo, "demo")
    api.error(403, "GET", f"/workspaces/{lab}", demo.key)
    api.error(404, "GET", f"/workspaces/{lab}", stranger.key)
    api.error(404, "GET", "/workspaces/not-an-id", stranger.key)


def test_w4_update_workspace_answers_200_and_the_change_reads_back(api: Api) -> None:
    ada = api.signup("ada")
    lab = api.native_workspace(ada)
    body = {
        "name": "Renamed",
        "picture_url": "https://example.com/new.png",
        "raw_file_downloads": True,
        "updated_at": "2024-05-06T07:08:09",
    }
    ws = api.ok(WorkspaceResponse, "PATCH", f"/workspaces/{lab}", ada.key, body)
    assert ws.name == "Renamed" and ws.raw_file_downloads is True
    native = api.v1("GET", f"/workspaces/{lab}", ada.access).json()
    assert native["name"] == "Renamed" and native["raw_file_downloads"] is True
    assert native["logo_url"] == "https://example.com/new.png"


def test_w4_a_viewer_may_not_update(api: Api) -> None:
    ada, vic = api.signup("ada"), api.signup("vic")
    lab = api.native_workspace(ada, "Lab")
    api.native_add(ada, lab, vic, "viewer")
    api.error(403, "PATCH", f"/workspaces/{lab}", vic.key, {"name": "Mine"})
    assert api.v1("GET", f"/workspaces/{lab}", ada.access).json()["name"] == "Lab"


def test_w5_delete_workspace(api: Api) -> None:
    ada, adm = api.signup("ada"), api.signup("adm")
    lab = api.native_workspace(ada)
    api.native_add(ada, lab, adm, "admin")
    api.error(403, "DELETE", f"/workspaces/{lab}", adm.key, headers={"Accept": "*/*"})
    api.ok(type(None), "DELETE", f"/workspaces/{lab}", ada.key, headers={"Accept": "*/*"})
    assert api.v1("GET", f"/workspaces/{lab}", ada.access).status_code == 404
    err = api.error(409, "DELETE", "/workspaces/default", ada.key)
    assert err.result.error == "personal_workspace"


def test_w6_to_w9_invitations_by_public_id(api: Api) -> None:
    ada, bob = api.signup("ada"), api.signup("bob")
    lab = api.native_workspace(ada)
    inv = api.ok(WorkspaceInvitation, "POST", f"/workspaces/{lab}/invites", ada.key,
                 {"email": bob.email, "role": "EDITOR"})
    assert inv.role == "EDITOR" and str(inv.workspace_id) == lab and inv.token == str(inv.id)
    native = api.v1("GET", f"/workspaces/{lab}/invitations", ada.access).json()["data"]
    assert [(n["id"], n["role"], n["status"]) for n in native] == [(str(inv.id), "editor", "pending")]

    listed = api.ok(list[WorkspaceInvitation], "GET", f"/workspaces/{lab}/invites", ada.key)
    assert [i.token for i in listed] == [inv.token]
    one = api.ok(WorkspaceInvitation, "GET", f"/workspaces/{lab}/invites/{inv.token}", ada.key)
    assert one.email == bob.email

    api.ok(type(None), "DELETE", f"/workspaces/{lab}/invites/{inv.token}", ada.key,
           headers={"Accept": "*/*"})
    revoked = api.v1("GET", f"/workspaces/{lab}/invitations/{inv.id}", ada.access).json()
    assert revoked["status"] == "revoked"
    api.error(409, "DELETE", f"/workspaces/{lab}/invites/{inv.token}", ada.key)
    api.error(404, "GET", f"/workspaces/{lab}/invites/inv_not-a-public-id", ada.key)


def test_w6_an_editor_may_not_invite(api: Api) -> None:
    ada, ed = api.signup("ada"), api.signup("ed")
    lab = api.native_workspace(ada)
    api.native_add(ada, lab, ed, "editor")
    api.error(403, "POST", f"/workspaces/{lab}/invites", ed.key, {"email": "x@example.com", "role": "VIEWER"})
    api.error(403, "GET", f"/workspaces/{lab}/invites", ed.key)
    assert api.v1("GET", f"/workspaces/{lab}/invitations", ada.access).json()["data"] == []


def test_w10_members_owner_has_no_role_and_field_worker_reads_editor(api: Api) -> None:
    ada, fw, vic = api.signup("ada"), api.signup("fw"), api.signup("vic")
    lab = api.native_workspace(ada)
    api.native_add(ada, lab, fw, "field_worker")
    api.native_add(ada, lab, vic, "viewer")
    members = api.ok(list[WorkspaceMember], "GET", f"/workspaces/{lab}/members", vic.key)
    by_id = {str(m.user_id): m for m in members}
    assert by_id[ada.id].is_owner and by_id[ada.id].role is None
    assert by_id[fw.id].role == "EDITOR" and not by_id[fw.id].is_owner
    assert by_id[vic.id].role == "VIEWER"
    assert by_id[ada.id].user.email == ada.email


def test_w11_add_member(api: Api) -> None:
    ada, bob = api.signup("ada"), api.signup("bob")
    lab = api.native_workspace(ada)
    m = api.ok(WorkspaceMember, "POST", f"/workspaces/{lab}/members", ada.key,
               {"role": "ADMIN", "user_id": bob.id})
    assert m.role == "ADMIN" and str(m.user_id) == bob.id
    assert api.native_role(ada, lab, bob.id) == "admin"
    err = api.error(409, "POST", f"/workspaces/{lab}/members", ada.key, {"role": "VIEWER", "user_id": bob.id})
    assert err.result.error == "already_member"
    api.error(409, "POST", f"/workspaces/{lab}/members", ada.key, {"role": "OWNER", "user_id": bob.id})
    api.error(409, "POST", f"/workspaces/{lab}/members", ada.key, {"role": "VIEWER"})
    assert api.native_role(ada, lab, bob.id) == "admin"


def test_w12_get_member(api: Api) -> None:
    ada, bob = api.signup("ada"), api.signup("bob")
    lab = api.native_workspace(ada)
    api.native_add(ada, lab, bob, "demo")
    m = api.ok(WorkspaceMember, "GET", f"/workspaces/{lab}/members/{bob.id}", ada.key)
    assert m.role == "DEMO"
    owner = api.ok(WorkspaceMember, "GET", f"/workspaces/{lab}/members/{ada.id}", ada.key)
    assert owner.is_owner and owner.role is None
    api.error(403, "GET", f"/workspaces/{lab}/members/{ada.id}", bob.key)
    api.error(404, "GET", f"/workspaces/{lab}/members/{UUID(int=1)}", ada.key)


def test_w13_patch_member(api: Api) -> None:
    ada, bob, fw = api.signup("ada"), api.signup("bob"), api.signup("fw")
    lab = api.native_workspace(ada)
    api.native_add(ada, lab, bob, "viewer")
    api.native_add(ada, lab, fw, "field_worker")
    m = api.ok(WorkspaceMember, "PATCH", f"/workspaces/{lab}/members/{bob.id}", ada.key,
               {"role": "EDITOR", "updated_at": "2024-01-02T03:04:05"})
    assert m.role == "EDITOR"
    assert api.native_role(ada, lab, bob.id) == "editor"
    same = api.ok(WorkspaceMember, "PATCH", f"/workspaces/{lab}/members/{fw.id}", ada.key, {"role": "EDITOR"})
    assert same.role == "EDITOR"
    assert api.native_role(ada, lab, fw.id) == "field_worker"
    err = api.error(409, "PATCH", f"/workspaces/{lab}/members/{ada.id}", ada.key, {"role": "ADMIN"})
    assert err.result.error == "last_owner"
    assert api.native_role(ada, lab, ada.id) == "owner"


def test_w14_remove_member_answers_the_remaining_members(api: Api) -> None:
    ada, bob, cy = api.signup("ada"), api.signup("bob"), api.signup("cy")
    lab = api.native_workspace(ada)
    api.native_add(ada, lab, bob, "editor")
    api.native_add(ada, lab, cy, "viewer")
    left = api.ok(list[WorkspaceMember], "DELETE", f"/workspaces/{lab}/members/{bob.id}", ada.key)
    assert {str(m.user_id) for m in left} == {ada.id, cy.id}
    assert api.native_role(ada, lab, bob.id) is None
    gone = api.ok(list[WorkspaceMember], "DELETE", f"/workspaces/{lab}/members/{cy.id}", cy.key)
    assert gone == []
    assert api.native_role(ada, lab, cy.id) is None
    api.error(409, "DELETE", f"/workspaces/{lab}/members/{ada.id}", ada.key)
    assert api.native_role(ada, lab, ada.id) == "owner"
