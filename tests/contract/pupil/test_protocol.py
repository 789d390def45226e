"""Section 1, 5 and 8: the envelope on every error, auth headers, tolerant parsing, and the
dialect's OpenAPI document."""

from __future__ import annotations

import httpx

from conftest import BASE, PUPIL, Api
from models import Profile, WorkspaceMember, WorkspaceResponse


def test_missing_and_wrong_credentials_are_401_in_the_envelope(api: Api) -> None:
    api.error(401, "GET", "/workspaces/", None)
    api.error(401, "GET", "/workspaces/", "rk_not-a-key")
    api.error(401, "GET", "/workspaces/default", "Bearer rk_wrong")
    api.error(401, "GET", "/workspaces/default", "Token rk_wrong")
    api.error(401, "GET", "/auth/profile", None)


def test_an_access_token_is_not_an_api_key(api: Api) -> None:
    ada = api.signup("ada")
    api.error(401, "GET", "/workspaces/", ada.access)


def test_a_read_only_key_may_only_read(api: Api) -> None:
    ada = api.signup("ada")
    ro = api.v1("POST", "/me/api-keys", ada.access, {"name": "ro", "read_only": True}).json()["secret"]
    api.ok(list[WorkspaceResponse], "GET", "/workspaces/", ro)
    err = api.error(403, "POST", "/workspaces/", ro, {"name": "No"})
    assert err.result.error == "api_key_read_only"


def test_unknown_paths_methods_and_bad_bodies_answer_in_the_envelope(api: Api) -> None:
    ada = api.signup("ada")
    api.error(404, "GET", "/no/such/route", ada.key)
    api.error(404, "GET", "/workspaces", ada.key)  # only the exact trailing slash is served
    api.error(405, "PUT", "/workspaces/", ada.key, {"name": "x"})
    r = api.http.post(PUPIL + "/workspaces/", headers={"api-key": ada.key, "Content-Type": "application/json"},
                      content=b'{"name": ')
    assert r.status_code == 400 and r.headers["content-type"].startswith("application/json")
    assert r.json()["status"] == "error" and r.json()["code"] == 400
    r = api.http.post(PUPIL + "/workspaces/", headers={"api-key": ada.key, "Content-Type": "text/plain"},
                      content=b'{"name": "x"}')
    assert r.status_code == 415 and r.json()["code"] == 415
    api.error(409, "POST", "/workspaces/", ada.key, {"name": "x", "surprise": 1})


def test_workspace_id_header_is_context_and_the_path_wins(api: Api) -> None:
    ada, bob = api.signup("ada"), api.signup("bob")
    ws = api.ok(WorkspaceResponse, "GET", "/workspaces/default", ada.key,
                headers={"workspace-id": bob.personal_workspace_id})
    assert str(ws.id) == ada.personal_workspace_id
    api.error(404, "GET", f"/workspaces/{bob.personal_workspace_id}", ada.key,
              headers={"workspace-id": ada.personal_workspace_id})


def test_percent_encoded_path_segments_are_decoded(api: Api) -> None:
    ada = api.signup("ada")
    ws = api.ok(WorkspaceResponse, "GET", PUPIL + "/workspaces/%64efault", ada.key, raw_path=True)
    assert str(ws.id) == ada.personal_workspace_id
    api.error(404, "GET", PUPIL + "/workspaces/default%2Fmembers", ada.key, raw_path=True)
    members = api.ok(list[WorkspaceMember], "GET",
                     PUPIL + f"/workspaces/{ada.personal_workspace_id}/members", ada.key, raw_path=True)
    assert len(members) == 1


def test_json_content_type_on_bodiless_requests_is_fine(api: Api) -> None:
    ada = api.signup("ada")
    api.ok(Profile, "GET", "/auth/profile", ada.key)  # Content-Type: application/json on a GET
    api.error(404, "POST", f"/auth/profile/invites/{ada.id}/accept", ada.key)  # bodiless POST


def test_the_openapi_document_describes_every_operation() -> None:
    r = httpx.get(PUPIL + "/openapi.json", timeout=30)
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/json")
    doc = r.json()
    assert doc["openapi"].startswith("3.") and doc["servers"][0]["url"] == "/pupil/v2"
    paths = doc["paths"]
    expected = {
        "/workspaces/": {"get", "post"},
        "/workspaces/{workspace_id}": {"get", "patch", "delete"},
        "/workspaces/{workspace_id}/invites": {"get", "post"},
        "/workspaces/{workspace_id}/invites/{token}": {"get", "delete"},
        "/workspaces/{workspace_id}/members": {"get", "post"},
        "/workspaces/{workspace_id}/members/{user_id}": {"get", "patch", "delete"},
        "/auth/profile": {"get", "patch"},
        "/auth/profile/invites": {"get"},
        "/auth/profile/invites/{token}": {"get", "delete"},
        "/auth/profile/invites/{token}/accept": {"post"},
        "/auth/tokens": {"get", "post"},
        "/auth/tokens/{token_id}": {"get", "delete"},
        "/auth/unregister": {"post"},
    }
    for path, methods in expected.items():
        assert path in paths, path
        assert methods <= set(paths[path]), (path, set(paths[path]))
    assert "api_key" in doc["components"]["securitySchemes"]
    assert httpx.get(BASE + "/v1/openapi.json", timeout=30).json()["info"]["title"] != doc["info"]["title"]
