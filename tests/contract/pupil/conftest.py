"""The harness: a running Roster at ROSTER_BASE_URL (started by ./run), a client that sends
what the generated Pupil client sends, and accounts made through the native /v1 API."""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass
from typing import Any, Optional

import httpx
import pytest
from pydantic import BaseModel

from models import Envelope, ErrorEnvelope

BASE = os.environ.get("ROSTER_BASE_URL", "http://127.0.0.1:8080")
PUPIL = BASE + "/pupil/v2"
PASSWORD = "correct horse battery staple"

# What the generated client sends on every request (contract section 1).
CLIENT_HEADERS = {
    "User-Agent": "OpenAPI-Generator/1.0.0/python",
    "Accept-Encoding": "gzip, deflate",
    "Content-Type": "application/json",
    "Accept": "application/json",
}


@dataclass
class Account:
    id: str
    email: str
    name: str
    access: str
    key: str
    personal_workspace_id: str


class Api:
    """Speaks to the dialect like the client, and to /v1 to check state."""

    def __init__(self) -> None:
        self.http = httpx.Client(timeout=30)

    # --- the dialect -------------------------------------------------------------------
    def pupil(
        self,
        method: str,
        path: str,
        key: Optional[str],
        body: Any = None,
        *,
        headers: Optional[dict[str, str]] = None,
        raw_path: bool = False,
    ) -> httpx.Response:
        h = dict(CLIENT_HEADERS)
        if key is not None:
            h["api-key"] = key
        h.update(headers or {})
        url = path if raw_path else PUPIL + path
        content = b"" if body is None else httpx.Request("POST", "/", json=body).content
        if method in ("DELETE", "POST") and body is None:
            h["Content-Length"] = "0"
        return self.http.request(method, url, headers=h, content=content)

    def ok(self, model: Any, method: str, path: str, key: str, body: Any = None, **kw: Any) -> Any:
        """A 200 in the envelope whose `result` validates as `model`; returns the result."""
        r = self.pupil(method, path, key, body, **kw)
        assert r.status_code == 200, f"{method} {path}: {r.status_code} {r.text}"
        assert r.headers["content-type"].startswith("application/json"), r.headers
        envelope = Envelope[model].model_validate_json(r.text)
        assert envelope.code == 200
        return envelope.result

    def error(self, status: int, method: str, path: str, key: Optional[str], body: Any = None,
              **kw: Any) -> ErrorEnvelope:
        """An error with `status`, in the envelope."""
        r = self.pupil(method, path, key, body, **kw)
        assert r.status_code == status, f"{method} {path}: {r.status_code} {r.text}"
        assert r.headers["content-type"].startswith("application/json"), r.headers
        envelope = ErrorEnvelope.model_validate_json(r.text)
        assert envelope.code == status
        return envelope

    # --- the native API, to set up and to check state -------------------------------------
    def v1(self, method: str, path: str, access: Optional[str] = None, body: Any = None) -> httpx.Response:
        h = {"Authorization": f"Bearer {access}"} if access else {}
        return self.http.request(method, BASE + "/v1" + path, headers=h, json=body)

    def signup(self, label: str = "user") -> Account:
        email = f"{label}-{uuid.uuid4().hex[:10]}@example.com"
        name = label.capitalize()
        r = self.v1("POST", "/auth/signup", body={"email": email, "password": PASSWORD, "name": name})
        assert r.status_code == 201, r.text
        access = r.json()["access_token"]
        k = self.v1("POST", "/me/api-keys", access, {"name": "pupil"})
        assert k.status_code == 201, k.text
        me = self.v1("GET", "/me", access).json()
        return Account(
            id=r.json()["user"]["id"], email=email, name=name, access=access,
            key=k.json()["secret"], personal_workspace_id=me["personal_workspace_id"],
        )

    def native_workspace(self, owner: Account, name: str = "Lab") -> str:
        r = self.v1("POST", "/workspaces", owner.access, {"name": name})
        assert r.status_code == 201, r.text
        return r.json()["id"]

    def native_add(self, owner: Account, ws: str, who: Account, role: str) -> None:
        r = self.v1("POST", f"/workspaces/{ws}/members", owner.access, {"user_id": who.id, "role": role})
        assert r.status_code == 201, r.text

    def native_role(self, owner: Account, ws: str, user_id: str) -> Optional[str]:
        r = self.v1("GET", f"/workspaces/{ws}/members/{user_id}", owner.access)
        if r.status_code == 404:
            return None
        assert r.status_code == 200, r.text
        return r.json()["role"]


@pytest.fixture(scope="session")
def api() -> Api:
    return Api()


def as_dict(m: BaseModel) -> dict[str, Any]:
    return m.model_dump(mode="json")
