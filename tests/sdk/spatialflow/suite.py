"""The SpatialFlow SDK (3.2.0) against Roster: every operation Roster serves in the dialect,
through the SDK's wrapper where it has a method and its generated client elsewhere, with the
state checked afterwards through Roster's native /v1 API. ROSTER_URL names the server."""

import asyncio
import datetime as dt
import email as email_lib
from email import policy as mail_policy
import glob
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
import json
import os
import re
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

import spatialflow
from spatialflow import SpatialFlow, WebhookSignatureError, verify_webhook_signature
from spatialflow import exceptions as sfe
from spatialflow._generated.spatialflow_generated import models as m
from spatialflow._generated.spatialflow_generated.api.account_api import AccountApi
from spatialflow._generated.spatialflow_generated.api.audit_logs_api import AuditLogsApi
from spatialflow._generated.spatialflow_generated.api.authentication_api import AuthenticationApi
from spatialflow._generated.spatialflow_generated.api.public_api import PublicApi

ROSTER = os.environ["ROSTER_URL"]
BASE = ROSTER + "/spatialflow"
PASSWORD = "correct horse battery"
RUN = uuid.uuid4().hex[:8]
checks = 0


def email(name):
    return f"{name}.{RUN}@example.com"


def check(cond, what):
    global checks
    checks += 1
    if not cond:
        raise AssertionError(what)


def native(token, method, path, body=None):
    """A call to the native API: (status, JSON body or None)."""
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(ROSTER + path, data=data, method=method)
    if token is not None:
        req.add_header("Authorization", f"Bearer {token}")
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req) as r:
            raw = r.read()
            return r.status, (json.loads(raw) if raw else None)
    except urllib.error.HTTPError as e:
        raw = e.read()
        return e.code, (json.loads(raw) if raw else None)


opened = []


def client(token=None, **kw):
    c = SpatialFlow(access_token=token, base_url=BASE, max_retries=0, **kw)
    opened.append(c)
    return c


async def raises(exc, coro, what):
    """Awaits `coro`, expecting the SDK error `exc` (raw-client errors are translated the way
    the SDK's wrapper translates them)."""
    try:
        await coro
    except Exception as e:  # noqa: BLE001 - any SDK error, judged below
        err = e if isinstance(e, sfe.SpatialFlowError) else sfe.translate_exception(e)
        check(isinstance(err, exc), f"{what}: got {type(err).__name__} {err}")
        return err
    raise AssertionError(f"{what}: no {exc.__name__}")


async def signup(anon, name):
    r = await PublicApi(anon._api_client).apps_public_api_signup(
        m.SignupRequest(email=email(name), password=PASSWORD, name=name.title())
    )
    check(isinstance(r, dict) and r["access_token"] and r["user"]["email"] == email(name),
          "signup answers 201 with tokens and the user")
    return r


async def login(anon, name):
    r = await anon.raw.authentication.apps_authentication_api_login(
        m.LoginSchema(email=email(name), password=PASSWORD)
    )
    check(isinstance(r, m.LoginResponse) and r.token_type == "bearer" and r.expires_in > 0,
          "login answers a LoginResponse")
    return r


MAIL_DIR = os.environ["ROSTER_MAIL_DIR"]


def mail_tokens(to, page):
    """The tokens of the `page` links (`verify-email`, `reset-password`) in the mail the server
    wrote to `to` (its .eml files in ROSTER_MAIL_DIR), oldest first."""
    found = []
    for path in glob.glob(os.path.join(MAIL_DIR, "*.eml")):
        with open(path, "rb") as f:
            msg = email_lib.message_from_binary_file(f, policy=mail_policy.default)
        if msg["To"] != to:
            continue
        text = msg.get_body(preferencelist=("plain",)).get_content()
        for t in re.findall(rf"/{page}/([A-Za-z0-9_-]+)", text):
            found.append((os.path.getmtime(path), t))
    return [t for _, t in sorted(found)]


def await_mail(to, page, count):
    """Waits (up to 15 s) for the outbox worker to have written `count` such links to `to`."""
    deadline = time.time() + 15
    while True:
        tokens = mail_tokens(to, page)
        if len(tokens) >= count or time.time() > deadline:
            check(len(tokens) == count, f"{count} {page} mail to {to}, got {len(tokens)}")
            return tokens
        time.sleep(0.2)


async def account_links(anon):
    """Email verification and password reset through the SDK's AuthenticationApi."""
    auth = anon.raw.authentication
    signed_up = await signup(anon, "recover")
    first = await_mail(email("recover"), "verify-email", 1)[0]
    done = await auth.apps_authentication_api_verify_email_post(m.VerifyEmailSchema(token=first))
    check(isinstance(done, dict) and done["success"], "verify-email answers an object")
    status, me = native(signed_up["access_token"], "GET", "/v1/me")
    check(status == 200 and me["email_verified"], "the address is verified in /v1")
    used = await raises(sfe.ValidationError, auth.apps_authentication_api_verify_email_post(
        m.VerifyEmailSchema(token=first)), "a used verification link is 400")
    check(used.error_code == "TOKEN_USED", f"TOKEN_USED, got {used.error_code}")
    await raises(sfe.ValidationError, auth.apps_authentication_api_verify_email_post(
        m.VerifyEmailSchema(token="ev_nonsense")), "a malformed link is 400")
    verified = client(signed_up["access_token"])
    already = await raises(sfe.ValidationError,
                           verified.raw.authentication.apps_authentication_api_resend_verification(),
                           "resending to a verified account is 400")
    check(already.error_code == "ALREADY_VERIFIED", f"ALREADY_VERIFIED, got {already.error_code}")

    # Resends: signed in, and by address (the same answer for an unknown address).
    pending = await signup(anon, "pending")
    await_mail(email("pending"), "verify-email", 1)
    mine = client(pending["access_token"]).raw.authentication
    r = await mine.apps_authentication_api_resend_verification()
    check(isinstance(r, dict) and r["success"], "resend-verification-authenticated")
    await_mail(email("pending"), "verify-email", 2)
    # The one-a-minute cool-down is a fixed window on the clock's minute: start the two
    # by-address resends early in a minute so that both fall in the same one.
    if time.time() % 60 > 40:
        time.sleep(60.5 - time.time() % 60)
    known = await auth.apps_authentication_api_resend_verification_alias(
        m.ResendVerificationSchema(email=email("pending")))
    unknown = await auth.apps_authentication_api_resend_verification_email(
        m.ResendVerificationSchema(email=email("nobody")))
    check(known == unknown, "resend by address answers alike for an unknown address")
    links = await_mail(email("pending"), "verify-email", 3)
    stale = await raises(sfe.ValidationError, auth.apps_authentication_api_verify_email_post(
        m.VerifyEmailSchema(token=links[0])), "a superseded link is 400")
    check(stale.error_code == "TOKEN_SUPERSEDED", f"TOKEN_SUPERSEDED, got {stale.error_code}")
    again = await auth.apps_authentication_api_resend_verification_email(
        m.ResendVerificationSchema(email=email("pending")))
    check(again == known, "a resend within the cool-down answers the same")
    await auth.apps_authentication_api_verify_email_post(m.VerifyEmailSchema(token=links[-1]))
    status, me = native(pending["access_token"], "GET", "/v1/me")
    check(me["email_verified"], "the latest link verifies")

    # Password reset: forgot-password (and its alias), confirm, the deprecated route.
    old = await login(anon, "recover")
    asked = await auth.apps_authentication_api_forgot_password(
        m.ForgotPasswordSchema(email=email("recover")))
    nobody = await auth.apps_authentication_api_password_reset_alias(
        m.ForgotPasswordSchema(email=email("nobody")))
    check(asked == nobody, "forgot-password answers alike for an unknown address")
    token = await_mail(email("recover"), "reset-password", 1)[0]
    check(mail_tokens(email("nobody"), "reset-password") == [], "no mail for an unknown address")
    await raises(sfe.ValidationError, auth.apps_authentication_api_confirm_password_reset(
        m.ConfirmPasswordResetSchema(token=token, password="short")),
        "a too short password is refused")
    gone = await raises(sfe.SpatialFlowError, auth.apps_authentication_api_reset_password(
        m.ResetPasswordSchema(uid="x", token=token, new_password="another passphrase")),
        "the deprecated reset route")
    check(gone.status_code == 410, f"the deprecated route is 410, got {gone.status_code}")
    new_password = "a brand new passphrase"
    done = await auth.apps_authentication_api_confirm_password_reset(
        m.ConfirmPasswordResetSchema(token=token, password=new_password))
    check(isinstance(done, dict) and done["success"], "password-reset/confirm")
    status, _ = native(old.access_token, "GET", "/v1/me")
    check(status == 401, "every old session ends with the reset")
    await raises(sfe.AuthenticationError, auth.apps_authentication_api_login(
        m.LoginSchema(email=email("recover"), password=PASSWORD)), "the old password is refused")
    fresh = await auth.apps_authentication_api_login(
        m.LoginSchema(email=email("recover"), password=new_password))
    check(fresh.access_token, "the new password signs in")
    reused = await raises(sfe.ValidationError, auth.apps_authentication_api_confirm_password_reset(
        m.ConfirmPasswordResetSchema(token=token, password="yet another passphrase")),
        "a used reset link is 400")
    check(reused.error_code == "TOKEN_USED", f"TOKEN_USED, got {reused.error_code}")


def token_of(issued):
    return issued.invite_link.rstrip("/").rsplit("/", 1)[1]


async def main():
    anon = client("placeholder")
    # --- accounts and tokens
    await signup(anon, "owner")
    await signup(anon, "manager")
    await signup(anon, "stranger")
    owner_login = await login(anon, "owner")
    check(owner_login.user.workspace_role == "owner", "the owner's own workspace is current")
    owner = client(owner_login.access_token)
    await raises(sfe.AuthenticationError,
                 anon.raw.authentication.apps_authentication_api_login(
                     m.LoginSchema(email=email("owner"), password="wrong password")),
                 "a wrong password is 401")

    refreshed = await anon.raw.authentication.apps_authentication_api_refresh_token(
        m.RefreshTokenSchema(refresh_token=owner_login.refresh_token))
    check(refreshed.refresh_token != owner_login.refresh_token, "refresh rotates the token")
    await raises(sfe.AuthenticationError,
                 anon.raw.authentication.apps_authentication_api_refresh_token(),
                 "refresh without a body is 401")
    owner = client(refreshed.access_token)
    me = await owner.raw.authentication.apps_authentication_api_get_current_user()
    check(me.email == email("owner") and me.workspace_role == "owner", "/auth/me")

    # --- the workspace
    ws = await owner.workspaces.get()
    check(ws.name == "Owner's workspace" and ws.slug, "get workspace")
    ws_id = ws.id
    updated = await owner.workspaces.update(m.WorkspaceIn(
        name="Field Ops", timezone="Europe/Berlin", unit_system="metric",
        billing_email="billing@example.com", map_home={"lat": 52.5, "lng": 13.4, "zoom": 9}))
    check(updated.name == "Field Ops" and updated.unit_system == "metric"
          and updated.map_home == {"lat": 52.5, "lng": 13.4, "zoom": 9}, "PUT workspace")
    patched = await owner.raw.workspaces.apps_workspaces_api_patch_workspace(
        m.WorkspacePatchIn(description="Trucks", timezone=None))
    check(patched.description == "Trucks" and patched.timezone is None
          and patched.name == "Field Ops", "PATCH workspace (null clears)")
    status, body = native(refreshed.access_token, "GET", f"/v1/workspaces/{ws_id}")
    check(status == 200 and body["name"] == "Field Ops" and body["description"] == "Trucks"
          and body["timezone"] is None and body["unit_system"] == "metric",
          "native API sees the updated workspace")
    await raises(sfe.ValidationError,
                 owner.workspaces.update(m.WorkspaceIn(name="x", timezone="z" * 51)),
                 "a timezone over 50 characters is refused")

    # --- usage: recorded through the native API with an API key, read through the SDK
    usage = await owner.workspaces.get_usage()
    check(isinstance(usage, m.UsageResponse) and usage.location_events == 0
          and usage.action_deliveries == 0 and usage.event_units == 0
          and usage.tier == "free" and usage.tier_limit == 50000, "usage starts at zero")
    status, key = native(refreshed.access_token, "POST", "/v1/me/api-keys", {"name": "meter"})
    check(status == 201, "an API key for recording usage")
    yesterday = (dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=25)).isoformat()
    status, recorded = native(key["secret"], "POST", f"/v1/workspaces/{ws_id}/usage/events", {
        "events": [{"meter": "location_events", "quantity": 40},
                   {"meter": "action_deliveries", "quantity": 5},
                   {"meter": "location_events", "quantity": 2},
                   {"meter": "location_events", "quantity": 1000, "occurred_at": yesterday}]})
    check(status == 200 and recorded["events"] == 4, f"usage recorded: {recorded}")
    usage = await owner.workspaces.get_usage()
    midnight = dt.datetime.now(dt.timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0)
    check(usage.location_events == 42 and usage.action_deliveries == 5
          and usage.event_units == 44.5, f"today's usage: {usage}")
    check(usage.period_start == midnight and usage.period_end > usage.period_start,
          "the period is today from midnight (UTC) until now")
    status, report = native(refreshed.access_token, "GET", f"/v1/workspaces/{ws_id}/usage")
    check(status == 200 and report["month"]["event_units_used"] >= 44.5,
          "the native report reads the same rollups")

    # --- invitations
    inv = await owner.workspaces.create_invitation(
        m.CreateInvitationIn(email=email("manager"), role="manager"))
    check(isinstance(inv, m.InvitationIssuedOut) and inv.role == "manager"
          and inv.invite_ttl_hours == 168 and inv.invited_by_email == email("owner"),
          "create invitation answers 201 InvitationIssuedOut")
    fw = await owner.workspaces.create_invitation(m.CreateInvitationIn(email=email("worker")))
    check(fw.role == "field_worker", "the SDK's default role is field_worker")
    spare = [await owner.workspaces.create_invitation(
        m.CreateInvitationIn(email=email(f"spare{i}"), role="member")) for i in range(3)]
    listed = await owner.workspaces.list_invitations()
    check(listed.total == 5 and len(listed.invitations) == 5 and listed.next_cursor is None,
          "list invitations")
    check(listed.invitations[0].id == spare[-1].id, "newest first")
    page1 = await owner.raw.workspaces.apps_workspaces_api_list_invitations(limit=2)
    check(len(page1.invitations) == 2 and page1.total == 5 and page1.next_cursor, "page 1")
    page2 = await owner.raw.workspaces.apps_workspaces_api_list_invitations(
        limit=2, before=page1.next_cursor)
    check([i.id for i in page2.invitations] == [i.id for i in listed.invitations[2:4]],
          "the before cursor resumes after the first page")

    later = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None) + dt.timedelta(days=30)
    extended = await owner.workspaces.extend_invitation(
        spare[0].id, m.ExtendInvitationIn(expires_at=later))
    check(abs((extended.expires_at.replace(tzinfo=None) - later).total_seconds()) < 1,
          "extend with a naive datetime (read as UTC)")
    await raises(sfe.ValidationError, owner.workspaces.extend_invitation(
        spare[0].id, m.ExtendInvitationIn(expires_at=later + dt.timedelta(days=90))),
        "more than 90 days is refused")

    resent = await owner.workspaces.resend_invitation(spare[1].id)
    check(isinstance(resent, m.InvitationIssuedOut)
          and token_of(resent) != token_of(spare[1]), "resend issues a new token")
    cancelled = await owner.workspaces.cancel_invitation(spare[2].id)
    check(isinstance(cancelled, dict), "cancel answers an object")
    await raises(sfe.ValidationError, owner.workspaces.cancel_invitation(spare[2].id),
                 "cancelling twice is 400")
    status, body = native(refreshed.access_token, "GET",
                          f"/v1/workspaces/{ws_id}/invitations?status=revoked")
    check(status == 200 and [i["id"] for i in body["data"]] == [spare[2].id],
          "native API sees the cancelled invitation as revoked")

    batch = await owner.workspaces.resend_missing_invitations(
        m.BatchResendIn(invitation_ids=[spare[0].id, spare[2].id, "nope"]))
    check([r.status for r in batch.results] == ["resent", "skipped", "skipped"]
          and batch.resent_count == 1 and batch.skipped_count == 2, "batch resend by ids")
    batch_all = await owner.workspaces.resend_missing_invitations(m.BatchResendIn())
    check(batch_all.resent_count == 4 and batch_all.remaining_count == 0,
          "batch resend of every pending invitation")
    # The manager's invitation was reissued by the batch: take the newest token.
    manager_inv = next(r.invitation for r in batch_all.results
                       if r.invitation.email == email("manager"))

    # --- accepting
    stranger_login = await login(anon, "stranger")
    mismatch = await raises(
        sfe.ConflictError,
        # The operation declares no security, so the SDK only sends a token when told to.
        anon.raw.authentication.apps_authentication_api_accept_invitation(
            m.AcceptInviteSchema(token=token_of(manager_inv), invite_id=manager_inv.id),
            _headers={"Authorization": f"Bearer {stranger_login.access_token}"}),
        "accepting another email's invitation is 409")
    check(mismatch.error_code == "INVITE_EMAIL_MISMATCH", "error_code INVITE_EMAIL_MISMATCH")
    await raises(sfe.NotFoundError, anon.raw.authentication.apps_authentication_api_accept_invitation(
        m.AcceptInviteSchema(token=token_of(manager_inv), invite_id=str(uuid.uuid4()),
                             password=PASSWORD)), "a token with another invite_id is 404")
    accepted = await anon.raw.authentication.apps_authentication_api_accept_invitation(
        m.AcceptInviteSchema(token=token_of(manager_inv), invite_id=manager_inv.id,
                             password=PASSWORD))
    check(isinstance(accepted, dict) and accepted["access_token"]
          and accepted["user"]["workspace_id"] == ws_id, "accept with the account's password")
    manager_login = await login(anon, "manager")
    check(manager_login.user.workspace_id == ws_id and manager_login.user.workspace_role == "manager",
          "accepting made the workspace primary")
    manager = client(manager_login.access_token)
    check((await manager.workspaces.get()).id == ws_id, "the manager's current workspace")

    worker_inv = next(r.invitation for r in batch_all.results
                      if r.invitation.email == email("worker"))
    joined = await anon.raw.authentication.apps_authentication_api_accept_invitation_passwordless(
        m.AcceptInvitePasswordlessSchema(token=token_of(worker_inv), invite_id=worker_inv.id))
    check(joined["role"] == "field_worker", "passwordless accept creates the account")
    worker = client(joined["access_token"])
    await raises(sfe.ValidationError, anon.raw.authentication.apps_authentication_api_accept_invitation(
        m.AcceptInviteSchema(token=token_of(worker_inv), invite_id=worker_inv.id,
                             password=PASSWORD)), "a used invitation is 400")

    # --- members
    members = await owner.workspaces.list_members()
    roles = {x.email: x.role for x in members.members}
    check(members.total == 3 and members.truncated is False and roles == {
        email("owner"): "owner", email("manager"): "manager", email("worker"): "field_worker"},
        "list members in SpatialFlow words")
    worker_id = next(x.id for x in members.members if x.email == email("worker"))
    manager_id = next(x.id for x in members.members if x.email == email("manager"))
    await raises(sfe.PermissionError, worker.workspaces.list_invitations(),
                 "a field worker may not list invitations")
    await raises(sfe.PermissionError, worker.workspaces.get_usage(),
                 "a field worker may not read usage")
    check((await manager.workspaces.get_usage()).location_events == 42,
          "a manager reads the workspace's usage")
    await raises(sfe.PermissionError, manager.workspaces.update_member_role(
        worker_id, m.UpdateMemberRoleIn(role="owner")), "a manager cannot grant owner")
    changed = await manager.workspaces.update_member_role(
        worker_id, m.UpdateMemberRoleIn(role="member"))
    check(changed.role == "member" and changed.user_id == worker_id, "update member role")
    status, body = native(refreshed.access_token, "GET",
                          f"/v1/workspaces/{ws_id}/members/{worker_id}")
    check(status == 200 and body["role"] == "editor", "native API: member is editor")
    await owner.workspaces.update_member_role(worker_id, m.UpdateMemberRoleIn(role="viewer"))
    await raises(sfe.AuthenticationError, worker.workspaces.list_members(),
                 "a downgrade ends the member's tokens")
    last_owner = await raises(sfe.ValidationError, owner.workspaces.update_member_role(
        me.id, m.UpdateMemberRoleIn(role="manager")), "the last owner cannot be demoted")
    check(last_owner.error_code == "LAST_OWNER", "error_code LAST_OWNER")
    removed = await owner.workspaces.remove_member(worker_id)
    check(removed is None, "remove member answers 204")
    status, _ = native(refreshed.access_token, "GET", f"/v1/workspaces/{ws_id}/members/{worker_id}")
    check(status == 404, "native API: the member is gone")

    # --- workspace picker
    available = await manager.raw.workspaces.apps_workspaces_api_available_web_workspaces()
    check(available.eligible_count == 2 and available.selected_workspace_id == ws_id
          and len(available.eligible_workspaces) == 2, "available workspaces")
    personal = next(w for w in available.eligible_workspaces if w.id != ws_id)
    selected = await manager.raw.workspaces.apps_workspaces_api_select_web_workspace(
        m.MobileWorkspaceSelectIn(workspace_id=personal.id))
    check(selected.selected_workspace_id == personal.id and selected.access_token,
          "select a workspace")
    check((await client(selected.access_token).workspaces.get()).id == personal.id,
          "the new token is bound to the chosen workspace")
    stranger_ws = (await client(stranger_login.access_token).workspaces.get()).id
    await raises(sfe.NotFoundError, manager.raw.workspaces.apps_workspaces_api_select_web_workspace(
        m.MobileWorkspaceSelectIn(workspace_id=stranger_ws)), "selecting a foreign workspace is 404")

    # --- API keys
    created = await owner.account.create_api_key(m.ApiKeyCreateRequest(name="ci", read_only=True))
    check(isinstance(created, m.ApiKeyCreateResponse) and created.api_key.api_key.startswith("rk_"),
          "create API key answers 201 with the secret")
    keys = await owner.account.list_api_keys()
    ci = [k for k in keys if k.name == "ci"]
    check(sorted(k.name for k in keys) == ["ci", "meter"] and ci[0].permissions == []
          and ci[0].read_only, "list API keys (the usage test made the other)")
    one = await owner.account.get_api_key(created.api_key.id)
    check(one.key_prefix and created.api_key.api_key.startswith(one.key_prefix), "get API key")
    status, body = native(created.api_key.api_key, "GET", "/v1/me")
    check(status == 200 and body["email"] == email("owner"), "the key works on the native API")
    check(await owner.account.delete_api_key(created.api_key.id) is None, "delete answers 204")
    status, _ = native(created.api_key.api_key, "GET", "/v1/me")
    check(status == 401, "a deleted key stops working")

    # --- API key changes: update, regenerate, rotate, expiration, expiring
    owner_token = refreshed.access_token
    stranger = client(stranger_login.access_token)
    made = await owner.account.create_api_key(m.ApiKeyCreateRequest(name="svc", description="first"))
    kid, secret = made.api_key.id, made.api_key.api_key
    check(made.api_key.description == "first", "create stores the description")
    updated = await owner.account.update_api_key(kid, m.ApiKeyUpdateRequest(
        name="svc2", description="second", read_only=True, permissions=[]))
    check(isinstance(updated, dict) and updated["name"] == "svc2" and updated["read_only"] is True
          and updated["description"] == "second", f"update answers the key: {updated}")
    status, body = native(owner_token, "GET", f"/v1/me/api-keys/{kid}")
    check(status == 200 and body["name"] == "svc2" and body["description"] == "second"
          and body["read_only"] is True, "update is stored")
    await raises(sfe.ValidationError, owner.account.update_api_key(
        kid, m.ApiKeyUpdateRequest(permissions=["geofences:read"])), "permissions cannot be stored")
    await raises(sfe.ValidationError, owner.account.update_api_key(
        kid, m.ApiKeyUpdateRequest(rate_limit_per_hour=10)), "a per-key limit cannot be stored")
    status, body = native(owner_token, "GET", f"/v1/me/api-keys/{kid}")
    check(body["name"] == "svc2", "a refused update changes nothing")

    regen = await owner.raw.account.apps_accounts_api_regenerate_api_key(kid)
    check(isinstance(regen, m.ApiKeyCreateResponse) and regen.api_key.id == kid
          and regen.api_key.api_key != secret, "regenerate answers 200 with a new secret, same id")
    check(native(secret, "GET", "/v1/me")[0] == 401, "the old secret stops working at once")
    check(native(regen.api_key.api_key, "GET", "/v1/me")[0] == 200, "the new secret works")

    rotated = await owner.account.rotate_api_key(kid, grace_period_days=3)
    check(isinstance(rotated, m.ApiKeyCreateResponse) and rotated.api_key.id != kid
          and rotated.api_key.name == "svc2" and rotated.api_key.read_only,
          "rotate answers 201 with a new key of the same name and flags")
    check(native(regen.api_key.api_key, "GET", "/v1/me")[0] == 200, "the old key works in its grace")
    check(native(rotated.api_key.api_key, "GET", "/v1/me")[0] == 200, "the rotated key works")
    status, body = native(owner_token, "GET", f"/v1/me/api-keys/{kid}")
    grace_end = dt.datetime.fromisoformat(body["expires_at"].replace("Z", "+00:00"))
    left = grace_end - dt.datetime.now(dt.timezone.utc)
    check(body["replaced_by"] == rotated.api_key.id and dt.timedelta(days=2, hours=23) < left
          <= dt.timedelta(days=3), f"the old key expires after the grace period: {body}")
    await raises(sfe.ValidationError, owner.account.rotate_api_key(kid),
                 "a key is rotated once (400)")
    await raises(sfe.ValidationError, owner.account.rotate_api_key(
        rotated.api_key.id, grace_period_days=91), "the grace period is at most 90 days")

    expiring = await owner.raw.account.apps_accounts_api_list_expiring_api_keys(days=7)
    check(isinstance(expiring, list) and [k["id"] for k in expiring] == [kid],
          f"expiring lists the key in its grace period: {expiring}")
    check(await owner.raw.account.apps_accounts_api_list_expiring_api_keys(days=1) == [],
          "nothing expires within a day")

    new_id = rotated.api_key.id
    naive = dt.datetime.utcnow().replace(microsecond=0) + dt.timedelta(days=10)
    out = await owner.raw.account.apps_accounts_api_set_api_key_expiration(new_id, expires_at=naive)
    check(out == {}, f"expiration answers an empty object (the SDK reads no non-null value): {out}")
    status, body = native(owner_token, "GET", f"/v1/me/api-keys/{new_id}")
    stored = dt.datetime.fromisoformat(body["expires_at"].replace("Z", "+00:00"))
    check(stored == naive.replace(tzinfo=dt.timezone.utc), f"a naive expiry is UTC: {body}")
    aware = dt.datetime.now(dt.timezone(dt.timedelta(hours=2))).replace(microsecond=0) \
        + dt.timedelta(days=20)
    out = await owner.raw.account.apps_accounts_api_set_api_key_expiration(new_id, expires_at=aware)
    status, body = native(owner_token, "GET", f"/v1/me/api-keys/{new_id}")
    stored = dt.datetime.fromisoformat(body["expires_at"].replace("Z", "+00:00"))
    check(stored == aware, f"an offset expiry is kept as that instant: {body}")
    await raises(sfe.ValidationError, owner.raw.account.apps_accounts_api_set_api_key_expiration(
        new_id, expires_at=dt.datetime.utcnow() - dt.timedelta(hours=1)), "a past expiry is 422")
    out = await owner.raw.account.apps_accounts_api_set_api_key_expiration(new_id)
    check(out == {}, "no value removes the expiry")
    status, body = native(owner_token, "GET", f"/v1/me/api-keys/{new_id}")
    check(body["expires_at"] is None, "the expiry is gone")

    off = await owner.account.update_api_key(new_id, m.ApiKeyUpdateRequest(is_active=False))
    check(off["is_active"] is False, "is_active=false answers an inactive key")
    check(native(rotated.api_key.api_key, "GET", "/v1/me")[0] == 401,
          "a deactivated key stops working at once")
    check(native(owner_token, "GET", f"/v1/me/api-keys/{new_id}")[0] == 404,
          "a deactivated key is revoked")
    await raises(sfe.NotFoundError, stranger.raw.account.apps_accounts_api_regenerate_api_key(kid),
                 "another user's key is 404")
    await owner.account.delete_api_key(kid)

    # --- audit logs
    audit = AuditLogsApi(owner._api_client)
    logs = await audit.apps_workspaces_api_audit_list_audit_logs(page=1, page_size=5)
    check(len(logs.logs) == 5 and logs.total > 5 and logs.has_more, "audit logs page 1")
    roles_changed = await audit.apps_workspaces_api_audit_list_audit_logs(
        action="member.role_changed", user_id=manager_id)
    check(roles_changed.total == 1 and roles_changed.logs[0].user_email == email("manager"),
          "audit filters by action and user")
    by_type = await audit.apps_workspaces_api_audit_list_audit_logs(
        resource_type="invitation", search=spare[2].id)
    check(by_type.total >= 2 and all(x.resource_id == spare[2].id for x in by_type.logs),
          "audit filters by resource type and search")
    csv_text = await audit.apps_workspaces_api_audit_export_audit_logs(export_format="csv")
    check(csv_text.startswith("id,created_at,user_email") and "member.removed" in csv_text,
          "audit export as CSV")
    as_json = json.loads(await audit.apps_workspaces_api_audit_export_audit_logs(
        export_format="json", action="member.removed"))
    check(len(as_json) == 1 and "changes" not in as_json[0], "audit export as JSON")

    # --- auth health, the deprecated register, change password
    auth_api = AuthenticationApi(anon._api_client)
    health = await auth_api.apps_authentication_api_health_check()
    check(health == {"status": "healthy", "service": "authentication"}, f"auth health: {health}")
    gone = await raises(sfe.SpatialFlowError, auth_api.apps_authentication_api_register(
        m.RegisterSchema(email=email("legacy"), password=PASSWORD, name="Legacy")),
        "the deprecated register")
    check(gone.status_code == 410 and gone.error_code == "ENDPOINT_DEPRECATED",
          f"register answers 410 ENDPOINT_DEPRECATED: {gone.status_code} {gone.error_code}")
    status, _ = native(None, "POST", "/v1/auth/login",
                       {"email": email("legacy"), "password": PASSWORD})
    check(status == 401, "register created no account")

    await signup(anon, "changer")
    here = await login(anon, "changer")
    elsewhere = await login(anon, "changer")
    changer = AuthenticationApi(client(here.access_token)._api_client)
    wrong = await raises(sfe.ValidationError, changer.apps_authentication_api_change_password(
        m.ChangePasswordSchema(current_password="not my password", new_password="a new secret 1")),
        "a wrong current password")
    check(wrong.status_code == 400 and wrong.error_code == "INVALID_CURRENT_PASSWORD",
          f"a wrong current password is 400 INVALID_CURRENT_PASSWORD: {wrong.status_code}")
    await raises(sfe.ValidationError, changer.apps_authentication_api_change_password(
        m.ChangePasswordSchema(current_password=PASSWORD, new_password="short")),
        "a too-short new password is refused")
    check(native(elsewhere.access_token, "GET", "/v1/me")[0] == 200,
          "refused changes end no session")
    changed = await changer.apps_authentication_api_change_password(
        m.ChangePasswordSchema(current_password=PASSWORD, new_password="ein neues Passwort ü"))
    check(isinstance(changed, dict) and changed["sessions_ended"] == 2,
          f"change password ends the sign-up's and the other sign-in's sessions: {changed}")
    check(native(elsewhere.access_token, "GET", "/v1/me")[0] == 401,
          "the other session ended at once")
    status, sessions = native(here.access_token, "GET", "/v1/me/sessions")
    check(status == 200 and sessions["total"] == 1 and sessions["data"][0]["current"],
          "the caller's session stays, and is the only one")
    check(native(None, "POST", "/v1/auth/login",
                 {"email": email("changer"), "password": PASSWORD})[0] == 401,
          "the old password no longer signs in")
    check(native(None, "POST", "/v1/auth/login",
                 {"email": email("changer"), "password": "ein neues Passwort ü"})[0] == 200,
          "the new password signs in")

    # --- the profile (the wrapper's get_profile/update_profile) and deleting the account
    mine = client(here.access_token)
    prof = await mine.account.get_profile()
    check(isinstance(prof, m.UserProfileResponse) and prof.email == email("changer")
          and prof.name == "Changer" and prof.workspace_role == "owner" and prof.role == "owner"
          and prof.avatar_url is None and prof.has_completed_tour is False, f"profile: {prof}")
    out = await mine.account.update_profile(m.UpdateProfileRequest(
        name="Chang Er", avatar_url="https://example.com/me.png", marketing_emails=True,
        has_completed_tour=True))
    check(isinstance(out, dict) and out["name"] == "Chang Er"
          and out["avatar_url"] == "https://example.com/me.png", f"update_profile: {out}")
    status, body = native(here.access_token, "GET", "/v1/me")
    check(status == 200 and body["name"] == "Chang Er"
          and body["photo_url"] == "https://example.com/me.png"
          and body["product_updates_subscribed"] is True and body["onboarded_at"],
          f"native API sees the profile: {body}")
    await raises(sfe.ValidationError, mine.account.update_profile(
        m.UpdateProfileRequest(name="Other", timezone="Europe/Berlin")),
        "a preference Roster does not keep is refused, not dropped")
    await raises(sfe.ValidationError, mine.account.update_profile(
        m.UpdateProfileRequest(name="x" * 201)), "a name over 200 characters is refused")
    cleared = await AccountApi(mine._api_client).apps_accounts_api_update_user_profile(
        m.UpdateProfileRequest(avatar_url=None, name=None))
    check(cleared["avatar_url"] is None and cleared["name"] == "Chang Er",
          "null removes the picture and leaves the name")
    status, body = native(here.access_token, "GET", "/v1/me")
    check(body["name"] == "Chang Er" and body["photo_url"] is None,
          f"refused updates changed nothing; null cleared the picture: {body}")

    last = await raises(sfe.ConflictError, owner.raw.account.apps_accounts_api_delete_own_account(),
                        "the last owner of a workspace with members cannot delete the account")
    check(last.error_code == "LAST_OWNER", "error_code LAST_OWNER")
    check(native(owner_token, "GET", "/v1/me")[0] == 200, "the refused owner still exists")
    check(await mine.raw.account.apps_accounts_api_delete_own_account() is None,
          "delete own account answers 204")
    check(native(here.access_token, "GET", "/v1/me")[0] == 401, "the deleted account's token is 401")
    check(native(None, "POST", "/v1/auth/login",
                 {"email": email("changer"), "password": "ein neues Passwort ü"})[0] == 401,
          "the deleted account cannot sign in")

    # --- revoke all sessions, logout
    await raises(sfe.PermissionError,
                 manager.raw.workspaces.apps_workspaces_api_revoke_all_workspace_sessions(),
                 "only an owner may revoke all sessions")
    revoked = await owner.raw.workspaces.apps_workspaces_api_revoke_all_workspace_sessions()
    check(revoked.workspace_id == ws_id and revoked.sessions_revoked >= 2
          and revoked.members_affected == 2, "revoke all sessions")
    await raises(sfe.AuthenticationError, manager.workspaces.get(), "revoked tokens are 401")
    owner = client((await login(anon, "owner")).access_token)
    limited = await raises(sfe.RateLimitError,
                           owner.raw.workspaces.apps_workspaces_api_revoke_all_workspace_sessions(),
                           "revoke-all is limited to once a minute")
    check(isinstance(limited.retry_after, int) and 0 < limited.retry_after <= 60,
          "Retry-After in whole seconds")
    again = await login(anon, "owner")
    out = await client(again.access_token).raw.authentication.apps_authentication_api_logout()
    check(out.message, "logout")
    await raises(sfe.AuthenticationError, client(again.access_token).workspaces.get(),
                 "a logged-out token is 401")
    await raises(sfe.AuthenticationError,
                 client(api_key="rk_whatever").workspaces.get(),
                 "an SDK configured with an API key sends no bearer: 401")

    await account_links(anon)
    await webhooks(anon, (await login(anon, "owner")).access_token, ws_id)

    for c in opened:
        await c.close()
    print(f"ok: {checks} checks")


# --- webhooks: a loopback receiver, and the WebhooksApi driven against it

def signature_problems(body, headers, secret, previous):
    """What is wrong with one delivery as signed (an empty list: nothing). `secret` is the
    endpoint's current secret, `previous` the one a rotation replaced (or None). Standard
    Webhooks: `webhook-signature` holds a `v1,` signature per secret still signing (the previous
    one for 24 hours after a rotation); SpatialFlow: `X-SF-Signature` is the HMAC of the body
    under the current secret alone."""
    wrong = []
    std = {k: headers.get(k, "") for k in ("webhook-id", "webhook-timestamp", "webhook-signature")}

    def std_ok(key, data=body, hdrs=std):
        try:
            Webhook(key).verify(data, hdrs)
            return True
        except WebhookVerificationError:
            return False

    def sf_ok(key, data=body):
        try:
            verify_webhook_signature(payload=data, signature=headers.get("x-sf-signature", ""),
                                     secret=key)
            return True
        except WebhookSignatureError:
            return False

    if secret is None:
        return ["no secret is known for its path"]
    if not headers.get("content-type", "").startswith("application/json"):
        wrong.append(f"content-type {headers.get('content-type')!r}")
    try:
        event_id = json.loads(body)["id"]
    except (ValueError, KeyError, TypeError):
        return wrong + ["the body is no JSON object with an id"]
    ids = {headers.get(h) for h in ("webhook-id", "x-sf-event-id", "x-idempotency-key")}
    if ids != {event_id}:
        wrong.append(f"webhook-id, X-SF-Event-ID, X-Idempotency-Key and the body's id differ: "
                     f"{ids} vs {event_id}")
    try:
        if abs(time.time() - int(std["webhook-timestamp"])) > 60:
            wrong.append(f"webhook-timestamp {std['webhook-timestamp']} is not now")
    except ValueError:
        wrong.append(f"webhook-timestamp {std['webhook-timestamp']!r} is no integer")
        return wrong
    entries = std["webhook-signature"].split(" ")
    if len(entries) != (2 if previous else 1) or not all(
            re.fullmatch(r"v1,[A-Za-z0-9+/]+={0,2}", e) for e in entries):
        wrong.append(f"webhook-signature {std['webhook-signature']!r}: expected "
                     f"{2 if previous else 1} v1 entries")
    if not re.fullmatch(r"sha256=[0-9a-f]{64}", headers.get("x-sf-signature", "")):
        wrong.append(f"X-SF-Signature {headers.get('x-sf-signature')!r}")
    # Both schemes verify with the current secret ...
    if not std_ok(secret):
        wrong.append("webhook-signature does not verify with the current secret")
    if not sf_ok(secret):
        wrong.append("X-SF-Signature does not verify with the current secret")
    # ... and after a rotation the previous one still verifies webhook-signature only.
    if previous and not std_ok(previous):
        wrong.append("webhook-signature does not verify with the previous secret")
    if previous and sf_ok(previous):
        wrong.append("X-SF-Signature still verifies with the previous secret")
    # A body changed in one byte fails both; a timestamp 10 minutes old fails Standard Webhooks.
    tampered = bytes([body[0] ^ 0x01]) + body[1:]
    if std_ok(secret, data=tampered):
        wrong.append("webhook-signature verifies a tampered body")
    if sf_ok(secret, data=tampered):
        wrong.append("X-SF-Signature verifies a tampered body")
    stale = dict(std, **{"webhook-timestamp": str(int(std["webhook-timestamp"]) - 600)})
    try:
        Webhook(secret).verify(body, stale)
        wrong.append("a timestamp 10 minutes old verifies")
    except WebhookVerificationError as e:
        if "too old" not in str(e):
            wrong.append(f"a timestamp 10 minutes old fails for another reason: {e}")
    return wrong


class Received:
    """One request the receiver got."""

    def __init__(self, path, headers, body, problems):
        self.path, self.headers, self.body, self.problems = path, headers, body, problems
        self.event_id = headers.get("webhook-id")

    def json(self):
        return json.loads(self.body)


class Receiver:
    """A webhook receiver on 127.0.0.1 (a free port, a daemon thread) that records every
    request and answers by path: `/ok…` 200 `{"ok": true}`, `/fail…` 500 `{"error": "boom"}`,
    `/text…` 200 `fine` as text/plain, anything else 404. It checks each delivery's signatures
    against the secrets of its path (`secrets[path] = (current, previous or None)`) at once,
    before answering, and records what it found wrong."""

    def __init__(self):
        self.lock = threading.Lock()
        self.got = []
        self.secrets = {}
        rx = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - the http.server name
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                headers = {k.lower(): v for k, v in self.headers.items()}
                with rx.lock:
                    current, previous = rx.secrets.get(self.path, (None, None))
                try:
                    problems = signature_problems(body, headers, current, previous)
                except Exception as e:  # noqa: BLE001 - recorded as a problem, checked later
                    problems = [f"the check crashed: {e!r}"]
                with rx.lock:
                    rx.got.append(Received(self.path, headers, body, problems))
                if self.path.startswith("/ok"):
                    self.answer(200, "application/json", b'{"ok": true}')
                elif self.path.startswith("/fail"):
                    self.answer(500, "application/json", b'{"error": "boom"}')
                elif self.path.startswith("/text"):
                    self.answer(200, "text/plain", b"fine")
                else:
                    self.answer(404, "application/json", b'{"error": "no such path"}')

            do_GET = do_PUT = do_PATCH = do_DELETE = do_POST

            def answer(self, status, content_type, data):
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def url(self, path):
        return f"http://127.0.0.1:{self.server.server_address[1]}{path}"

    def trust(self, path, secret, previous=None):
        with self.lock:
            self.secrets[path] = (secret, previous)

    def matching(self, path, event_id=None):
        with self.lock:
            return [r for r in self.got
                    if r.path == path and (event_id is None or r.event_id == event_id)]


async def arrived(rx, path, what, count=1, event_id=None):
    """Waits (at most 15 s, in 0.1 s steps) for `count` deliveries to `path` (of `event_id`,
    when given), checks that there are exactly that many and that every one's signatures
    verified, and returns them, oldest first."""
    deadline = time.monotonic() + 15
    while True:
        got = rx.matching(path, event_id)
        if len(got) >= count or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.1)
    check(len(got) == count, f"{what}: {count} deliveries to {path}, got {len(got)}")
    for r in got:
        check(r.problems == [], f"{what}: the delivery to {path} as signed: {r.problems}")
    return got


def hook_path(ws_id, wid=""):
    return f"/v1/workspaces/{ws_id}/webhooks" + (f"/{wid}" if wid else "")


def native_hooks(token, ws_id):
    status, body = native(token, "GET", hook_path(ws_id))
    check(status == 200, f"native webhook list: {status} {body}")
    return body["data"]


def native_deliveries(token, ws_id, wid):
    status, body = native(token, "GET", hook_path(ws_id, wid) + "/deliveries?limit=200")
    check(status == 200, f"native deliveries of {wid}: {status} {body}")
    return body["data"]


async def settled(token, ws_id, wid, what):
    """The endpoint's native deliveries once none of them is pending (waits at most 15 s)."""
    deadline = time.monotonic() + 15
    while True:
        found = native_deliveries(token, ws_id, wid)
        if all(d["status"] != "pending" for d in found) or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.1)
    check(all(d["status"] != "pending" for d in found), f"{what}: still pending: {found}")
    return found


def aware(t):
    """A datetime the SDK parsed, read as UTC when it came without an offset."""
    return t if t.tzinfo else t.replace(tzinfo=dt.timezone.utc)


def when(text):
    return aware(dt.datetime.fromisoformat(text.replace("Z", "+00:00")))


def check_page(page, total, limit, offset, shown, what):
    """An offset page's `pagination` object, exactly."""
    want = {"total": total, "limit": limit, "offset": offset, "has_more": offset + shown < total}
    check(page == want, f"{what}: pagination {page}, expected {want}")


def response_body(detail):
    """A delivery detail's `response_body`: the object or the string (the SDK wraps it)."""
    return None if detail.response_body is None else detail.response_body.actual_instance


async def webhooks(anon, token, ws_id):
    """Every WebhooksApi route Roster serves, through the SDK, with real deliveries to a
    loopback receiver; the state checked through the native /v1 webhooks API. `token` is the
    owner's, whose current workspace is `ws_id`."""
    rx = Receiver()
    owner = client(token)
    hooks = owner.webhooks
    raw = owner.raw.webhooks

    # A field worker of the workspace (no webhooks:manage), and someone from another workspace.
    # Made before any endpoint exists, so that their events go nowhere.
    inv = await owner.workspaces.create_invitation(m.CreateInvitationIn(email=email("hookless")))
    joined = await anon.raw.authentication.apps_authentication_api_accept_invitation_passwordless(
        m.AcceptInvitePasswordlessSchema(token=token_of(inv), invite_id=inv.id))
    worker = client(joined["access_token"])
    outsider = client((await login(anon, "stranger")).access_token)

    # --- create: what the answer echoes, the secret once, the defaults
    def new(name, path, **kw):
        return m.CreateWebhookRequest(name=name, url=rx.url(path), **kw)

    first = await hooks.create(new("first", "/ok/1", description="primary",
                                   events=["invitation.created", "member.added"],
                                   max_retries=5, timeout_seconds=10, rate_limit_per_minute=120))
    check(isinstance(first, m.WebhookSecretResponse) and first.secret.startswith("whsec_")
          and first.name == "first" and first.description == "primary"
          and first.url == rx.url("/ok/1")
          and sorted(first.events) == ["invitation.created", "member.added"],
          f"create answers 201 with the secret: {first}")
    check(first.method == "POST" and first.auth_type == "none"
          and first.content_type == "application/json" and first.headers == {}
          and first.custom_payload_template is None and first.is_active is True,
          f"create: the fixed request shape: {first}")
    check(first.max_retries == 5 and first.timeout_seconds == 10
          and first.rate_limit_per_minute == 120, "create echoes the limits sent")
    check(first.total_deliveries == 0 and first.successful_deliveries == 0
          and first.failed_deliveries == 0 and first.success_rate is None
          and first.last_triggered_at is None, "a new endpoint has no deliveries")
    rx.trust("/ok/1", first.secret)

    every = await hooks.create(new("every", "/ok/2"))
    check(every.events == ["*"] and every.max_retries == 3 and every.timeout_seconds == 30
          and every.rate_limit_per_minute == 60 and every.description is None,
          f"no events means every type (\"*\"); the SDK's defaults echoed: {every}")
    check(every.secret.startswith("whsec_") and every.secret != first.secret,
          "each endpoint has its own secret")
    rx.trust("/ok/2", every.secret)

    spare = await hooks.create(new("spare", "/ok/3", description="unused", is_active=False,
                                   events=["api_key.created"]))
    check(spare.is_active is False, "create with is_active=false")
    rx.trust("/ok/3", spare.secret)

    texty = await hooks.create(new("texty", "/text/5", events=["webhook.test"]))
    rx.trust("/text/5", texty.secret)

    listed = native_hooks(token, ws_id)
    by_id = {h["id"]: h for h in listed}
    check(set(by_id) == {first.id, every.id, spare.id, texty.id},
          f"the native API lists the endpoints: {listed}")
    check(by_id[first.id]["name"] == "first" and by_id[first.id]["description"] == "primary"
          and sorted(by_id[first.id]["event_types"]) == ["invitation.created", "member.added"]
          and by_id[first.id]["enabled"] is True and by_id[first.id]["max_retries"] == 5
          and by_id[first.id]["timeout_seconds"] == 10
          and by_id[first.id]["rate_limit_per_minute"] == 120
          and by_id[first.id]["dialect"] == "spatialflow"
          and by_id[first.id]["url"] == rx.url("/ok/1"), f"native view: {by_id[first.id]}")
    check(by_id[every.id]["event_types"] == ["*"] and by_id[spare.id]["enabled"] is False,
          "native view of every type and of a disabled endpoint")
    check(all("secret" not in h for h in listed), "the native list shows no secret")

    # Refused creations: 422 under the field, and nothing is stored.
    refusals = [
        ("events", dict(events=["member.exploded"])),
        ("method", dict(method="PUT")),
        ("auth_type", dict(auth_type="bearer")),
        ("auth_config", dict(auth_config={"token": "t"})),
        ("headers", dict(headers={"X-Extra": "1"})),
        ("custom_payload_template", dict(custom_payload_template='{"id": "{{id}}"}')),
        ("content_type", dict(content_type="text/plain")),
        ("url", dict(url="http://169.254.169.254/x")),
        ("url", dict(url="ftp://x")),
    ]
    for field, kw in refusals:
        body = dict(name="refused", url=rx.url("/ok/0"))
        body.update(kw)
        err = await raises(sfe.ValidationError, hooks.create(m.CreateWebhookRequest(**body)),
                           f"create with {kw} is refused")
        check(err.status_code == 422 and err.errors and field in err.errors[0]["loc"],
              f"create with {kw}: 422 under {field}: {err.status_code} {err.errors}")
        if kw.get("url", "").startswith("http://169"):
            check(err.errors[0]["loc"] == ["body", "url"], f"the SSRF guard: {err.errors}")
        check(len(native_hooks(token, ws_id)) == 4, f"create with {kw} stored nothing")

    # Who may: a field worker is 403; another workspace sees none of these.
    await raises(sfe.PermissionError, worker.webhooks.list(), "a field worker may not list")
    await raises(sfe.PermissionError, worker.webhooks.create(new("no", "/ok/0")),
                 "a field worker may not create")
    await raises(sfe.PermissionError, worker.webhooks.get(first.id), "a field worker may not read")
    await raises(sfe.PermissionError, worker.webhooks.test(first.id),
                 "a field worker may not test")
    theirs = await outsider.webhooks.list()
    check(theirs.webhooks == [] and theirs.pagination["total"] == 0,
          "another workspace lists none of them")
    await raises(sfe.NotFoundError, outsider.webhooks.get(first.id),
                 "another workspace's endpoint is 404")
    await raises(sfe.NotFoundError, outsider.webhooks.list_deliveries(first.id),
                 "another workspace's deliveries are 404")

    # --- list: offsets, the is_active filter, paginate_webhooks; the secret is never listed
    page = await hooks.list()
    check(isinstance(page, m.WebhookListResponse) and len(page.webhooks) == 4,
          f"list: {page}")
    check_page(page.pagination, 4, 100, 0, 4, "list")
    seen = []
    for offset in (0, 2, 4):
        part = await hooks.list(limit=2, offset=offset)
        check_page(part.pagination, 4, 2, offset, len(part.webhooks), f"list at {offset}")
        check(len(part.webhooks) == min(2, 4 - offset), f"list at {offset}: a page")
        seen += [w.id for w in part.webhooks]
    check(sorted(seen) == sorted(w.id for w in page.webhooks), "the offset pages cover the list")
    inactive = await raw.apps_webhooks_api_list_webhooks(is_active=False)
    check([w.id for w in inactive.webhooks] == [spare.id]
          and inactive.pagination["total"] == 1, f"is_active=false: {inactive}")
    active = await raw.apps_webhooks_api_list_webhooks(is_active=True)
    check(sorted(w.id for w in active.webhooks) == sorted([first.id, every.id, texty.id]),
          "is_active=true")
    walker = spatialflow.paginate_webhooks(
        lambda offset, limit: hooks.list(limit=limit, offset=offset), limit=3)
    walked = [w.id async for w in walker]
    check(sorted(walked) == sorted(seen) and walker.total_count == 4,
          f"paginate_webhooks walks them all: {walked}")
    raw_list = await raw.apps_webhooks_api_list_webhooks_with_http_info()
    check(raw_list.status_code == 200 and all(
        "secret" not in w for w in json.loads(raw_list.raw_data)["webhooks"]),
        "the list carries no secret")

    # --- get: the stored endpoint, no secret; unknown ids are 404
    got = await hooks.get(first.id)
    check(isinstance(got, m.WebhookResponse) and got.id == first.id
          and got.url == first.url and got.max_retries == 5 and got.events == first.events,
          f"get: {got}")
    raw_get = await raw.apps_webhooks_api_get_webhook_with_http_info(first.id)
    check("secret" not in json.loads(raw_get.raw_data), "get carries no secret")
    await raises(sfe.NotFoundError, hooks.get(str(uuid.uuid4())), "an unknown id is 404")
    await raises(sfe.NotFoundError, hooks.get("not-a-webhook"), "a malformed id is 404")

    # --- update (PUT with PATCH semantics) on the spare endpoint
    changed = await hooks.update(spare.id, m.UpdateWebhookRequest(
        name="renamed", description="changed", url=rx.url("/ok/33"),
        events=["member.removed", "workspace.updated"], is_active=True, max_retries=7,
        timeout_seconds=15, rate_limit_per_minute=30))
    check(isinstance(changed, m.WebhookResponse) and changed.name == "renamed"
          and changed.description == "changed" and changed.url == rx.url("/ok/33")
          and sorted(changed.events) == ["member.removed", "workspace.updated"]
          and changed.is_active is True and changed.max_retries == 7
          and changed.timeout_seconds == 15 and changed.rate_limit_per_minute == 30,
          f"update answers the changed endpoint: {changed}")
    again = await hooks.get(spare.id)
    check(again.model_dump() == changed.model_dump(), "get shows the update")
    status, view = native(token, "GET", hook_path(ws_id, spare.id))
    check(status == 200 and view["name"] == "renamed" and view["description"] == "changed"
          and view["url"] == rx.url("/ok/33")
          and sorted(view["event_types"]) == ["member.removed", "workspace.updated"]
          and view["enabled"] is True and view["max_retries"] == 7
          and view["timeout_seconds"] == 15 and view["rate_limit_per_minute"] == 30
          and view["dialect"] == "spatialflow", f"the native view of the update: {view}")
    # Absent keys stay; description=None clears the description.
    cleared = await hooks.update(spare.id, m.UpdateWebhookRequest(description=None,
                                                                  is_active=False))
    check(cleared.description in (None, "") and cleared.is_active is False
          and cleared.name == "renamed" and cleared.max_retries == 7,
          f"a partial update; null clears the description: {cleared}")
    status, view = native(token, "GET", hook_path(ws_id, spare.id))
    check(view["description"] in (None, "") and view["enabled"] is False,
          f"native: description cleared, disabled: {view}")
    same = await hooks.update(spare.id, m.UpdateWebhookRequest())
    check(same.model_dump(exclude={"updated_at"}) == cleared.model_dump(exclude={"updated_at"}),
          "an empty update changes nothing")
    # An explicit null for a field that cannot be empty is 422, and changes nothing.
    for field in ("name", "url", "is_active", "max_retries", "timeout_seconds",
                  "rate_limit_per_minute"):
        err = await raises(sfe.ValidationError,
                           hooks.update(spare.id, m.UpdateWebhookRequest(**{field: None})),
                           f"update with {field}=null is refused")
        check(err.status_code == 422 and err.errors and field in err.errors[0]["loc"],
              f"{field}=null: 422 under {field}: {err.errors}")
    err = await raises(sfe.ValidationError, hooks.update(spare.id, m.UpdateWebhookRequest(
        events=["member.exploded"])), "update with an unknown event type")
    check(err.errors and "events" in err.errors[0]["loc"], f"under events: {err.errors}")
    check((await hooks.get(spare.id)).model_dump() == same.model_dump(),
          "refused updates changed nothing")
    await raises(sfe.NotFoundError, hooks.update(str(uuid.uuid4()), m.UpdateWebhookRequest(
        name="x")), "updating an unknown endpoint is 404")

    # --- test: a webhook.test event sent at once to this endpoint alone, its answer reported
    tested = await hooks.test(first.id)
    check(isinstance(tested, m.WebhookTestResponse) and tested.success is True
          and tested.response_status_code == 200 and isinstance(tested.message, str)
          and tested.payload_sent["type"] == "webhook.test"
          and tested.payload_sent["id"] == tested.test_id, f"test: {tested}")
    (r,) = await arrived(rx, "/ok/1", "the test event", event_id=tested.test_id)
    check(r.json() == tested.payload_sent, "payload_sent is the body delivered")
    custom = await hooks.test(first.id, m.TestWebhookRequest(
        event_type="member.added", test_payload={"hello": "world"}))
    check(custom.success and custom.payload_sent["type"] == "webhook.test"
          and custom.payload_sent["data"]["payload"] == {"hello": "world"}
          and custom.payload_sent["data"]["event_type"] == "member.added"
          and custom.test_id != tested.test_id, f"test with a payload: {custom}")
    (r,) = await arrived(rx, "/ok/1", "the custom test event", event_id=custom.test_id)
    check(r.json() == custom.payload_sent, "the custom test payload as delivered")
    check(rx.matching("/ok/2") == [], "a test goes to its endpoint alone")
    await raises(sfe.NotFoundError, hooks.test(str(uuid.uuid4())), "testing an unknown id is 404")

    # --- a real change delivers: an invitation to the endpoints that hear invitation.created
    await owner.workspaces.create_invitation(m.CreateInvitationIn(email=email("hooked"),
                                                                  role="member"))
    heard = await arrived(rx, "/ok/1", "the tests and invitation.created", count=3)
    (inv_1,) = [r for r in heard if r.json()["type"] == "invitation.created"]
    (inv_2,) = await arrived(rx, "/ok/2", "invitation.created to every type")
    event = inv_1.json()
    check(event["type"] == "invitation.created" and event["workspace_id"] == ws_id
          and isinstance(event["sequence"], int) and event["id"] == inv_1.event_id,
          f"the event as delivered: {event}")
    check(inv_1.headers["x-sf-event-id"] == inv_1.headers["x-idempotency-key"]
          == inv_1.headers["webhook-id"] == event["id"], "one id in the headers and the body")
    check(inv_2.event_id == inv_1.event_id and inv_2.body == inv_1.body,
          "every endpoint gets the same event")
    check(rx.matching("/ok/33") == [] and rx.matching("/text/5") == [],
          "endpoints that do not hear it get nothing")

    # --- deliveries: listed newest first, filtered, read, redelivered
    await settled(token, ws_id, first.id, "the first endpoint's deliveries")
    order = [inv_1.event_id, custom.test_id, tested.test_id]
    deliveries = await hooks.list_deliveries(first.id)
    check(isinstance(deliveries, m.WebhookDeliveryListResponse)
          and [d.id for d in deliveries.deliveries] == order, f"newest first: {deliveries}")
    check_page(deliveries.pagination, 3, 100, 0, 3, "deliveries")
    for d in deliveries.deliveries:
        check(d.status == "success" and d.attempt_count >= 1 and d.event_id == d.id
              and d.webhook_id == first.id and d.url == first.url and d.method == "POST"
              and d.response_status_code == 200 and d.delivered_at is not None,
              f"a delivered delivery: {d}")
    check([d.event_type for d in deliveries.deliveries]
          == ["invitation.created", "webhook.test", "webhook.test"], "their event types")
    second = await hooks.list_deliveries(first.id, limit=1, offset=1)
    check([d.id for d in second.deliveries] == order[1:2], "the second delivery alone")
    check_page(second.pagination, 3, 1, 1, 1, "deliveries at offset 1")
    ok = await raw.apps_webhooks_api_get_webhook_deliveries(first.id, status="success")
    check(len(ok.deliveries) == 3 and ok.pagination["total"] == 3, "status=success")
    failed = await raw.apps_webhooks_api_get_webhook_deliveries(first.id, status="failed")
    check(failed.deliveries == [] and failed.pagination["total"] == 0, "status=failed: none")
    tests = await raw.apps_webhooks_api_get_webhook_deliveries(first.id,
                                                               event_type="webhook.test")
    check([d.id for d in tests.deliveries] == order[1:], "event_type=webhook.test")
    await raises(sfe.ValidationError, raw.apps_webhooks_api_get_webhook_deliveries(
        first.id, status="bogus"), "status=bogus is 422")
    detail = await hooks.get_delivery(first.id, inv_1.event_id)
    check(isinstance(detail, m.WebhookDeliveryDetailResponse) and detail.id == inv_1.event_id
          and detail.payload == event and response_body(detail) == {"ok": True}
          and detail.status == "success", f"delivery detail: {detail}")
    await raises(sfe.NotFoundError, hooks.get_delivery(first.id, str(uuid.uuid4())),
                 "an unknown delivery is 404")
    await raises(sfe.NotFoundError, hooks.get_delivery(every.id, tested.test_id),
                 "another endpoint's delivery is 404")
    # A text answer is kept as a string.
    text_test = await hooks.test(texty.id)
    check(text_test.success and text_test.response_status_code == 200, "test to a text answer")
    await arrived(rx, "/text/5", "the test to the text receiver")
    await settled(token, ws_id, texty.id, "the text endpoint")
    text_detail = await hooks.get_delivery(texty.id, text_test.test_id)
    check(response_body(text_detail) == "fine", f"a text answer: {text_detail.response_body}")

    # --- rotate the secret: X-SF-Signature uses the new one alone at once; webhook-signature
    # carries both for 24 hours; retries of earlier events are signed anew
    rotated = await hooks.rotate_secret(first.id)
    check(isinstance(rotated, m.WebhookSecretResponse) and rotated.id == first.id
          and rotated.secret.startswith("whsec_") and rotated.secret != first.secret,
          "rotate answers 200 with a new secret")
    rx.trust("/ok/1", rotated.secret, first.secret)
    status, view = native(token, "GET", hook_path(ws_id, first.id))
    left = when(view["previous_secret_expires_at"]) - dt.datetime.now(dt.timezone.utc)
    check(dt.timedelta(hours=23, minutes=55) < left <= dt.timedelta(hours=24),
          f"the previous secret signs for 24 hours: {view}")
    after = await hooks.test(first.id)
    (r,) = await arrived(rx, "/ok/1", "a test after the rotation", event_id=after.test_id)
    check(after.success, "the test after the rotation")
    retried = await hooks.retry_delivery(first.id, inv_1.event_id)
    check(isinstance(retried, dict) and retried["success"] is True
          and retried["status"] == "pending", f"retry_delivery: {retried}")
    old_one, redone = await arrived(rx, "/ok/1", "the redelivery", count=2,
                                    event_id=inv_1.event_id)
    check(redone.body == old_one.body, "the redelivery sends the same event")
    std = {k: redone.headers[k] for k in ("webhook-id", "webhook-timestamp", "webhook-signature")}
    check(Webhook(rotated.secret).verify(redone.body, std) == event
          and Webhook(first.secret).verify(redone.body, std) == event,
          "standardwebhooks verifies the redelivery with the new and the old secret")
    check(verify_webhook_signature(redone.body, redone.headers["x-sf-signature"],
                                   rotated.secret) == event, "X-SF-Signature: the new secret")
    try:
        verify_webhook_signature(redone.body, redone.headers["x-sf-signature"], first.secret)
        check(False, "X-SF-Signature must not verify with the old secret")
    except WebhookSignatureError:
        check(True, "the old secret no longer verifies X-SF-Signature")
    await raises(sfe.NotFoundError, hooks.retry_delivery(first.id, str(uuid.uuid4())),
                 "retrying an unknown delivery is 404")
    await raises(sfe.NotFoundError, hooks.rotate_secret(str(uuid.uuid4())),
                 "rotating an unknown endpoint is 404")
    found = await settled(token, ws_id, first.id, "after the redelivery")
    check(len(found) == 4 and all(d["status"] == "delivered" for d in found),
          f"native: four delivered deliveries: {found}")

    # --- dead letters: max_retries=0 makes the first failed attempt one
    dead = await hooks.create(new("dead", "/fail/4", max_retries=0, events=["webhook.test"]))
    check(dead.max_retries == 0, "max_retries=0 is kept")
    rx.trust("/fail/4", dead.secret)
    failing = await hooks.test(dead.id)
    check(failing.success is False and failing.response_status_code == 500,
          f"a test to a failing receiver: {failing}")
    await arrived(rx, "/fail/4", "the failing test", event_id=failing.test_id)
    found = await settled(token, ws_id, dead.id, "the dead letter")
    check([(d["event_id"], d["status"], d["attempts"]) for d in found]
          == [(failing.test_id, "failed", 1)], f"native: one failed attempt is final: {found}")
    dlq = await hooks.list_dlq_entries()
    check(isinstance(dlq, dict) and len(dlq["entries"]) == 1, f"the DLQ: {dlq}")
    check_page(dlq["pagination"], 1, 100, 0, 1, "the DLQ")
    entry = dlq["entries"][0]
    check(str(uuid.UUID(entry["id"])) == entry["id"] and entry["webhook_id"] == dead.id
          and entry["webhook_name"] == "dead" and entry["delivery_id"] == failing.test_id
          and entry["event_type"] == "webhook.test" and isinstance(entry["error_message"], str)
          and entry["response_status_code"] == 500 and entry["attempt_count"] == 1
          and when(entry["failed_at"]) and entry["requeued"] is False
          and entry["requeued_at"] is None, f"a DLQ entry: {entry}")
    waiting = await raw.apps_webhooks_api_list_dlq_entries(requeued=False)
    check([e["id"] for e in waiting["entries"]] == [entry["id"]], "requeued=false lists it")
    done = await raw.apps_webhooks_api_list_dlq_entries(requeued=True)
    check(done["entries"] == [] and done["pagination"]["total"] == 0, "requeued=true: none")
    stats = await raw.apps_webhooks_api_get_dlq_stats()
    check(stats == {"total_entries": 1, "not_requeued": 1, "requeued": 0, "workspace_id": ws_id,
                    "top_failed_webhooks": [{"webhook_id": dead.id, "webhook_name": "dead",
                                             "count": 1}]}, f"DLQ stats: {stats}")
    await raises(sfe.NotFoundError, outsider.webhooks.retry_dlq(entry["id"]),
                 "another workspace's dead letter is 404")
    requeued = await hooks.retry_dlq(entry["id"])
    check(isinstance(requeued, dict) and requeued["success"] is True
          and requeued["dlq_id"] == entry["id"] and requeued["delivery_id"] == failing.test_id,
          f"retry_dlq: {requeued}")
    await arrived(rx, "/fail/4", "the requeued dead letter", count=2, event_id=failing.test_id)
    await settled(token, ws_id, dead.id, "the requeued dead letter")
    done = await raw.apps_webhooks_api_list_dlq_entries(requeued=True)
    check([(e["id"], e["requeued"]) for e in done["entries"]] == [(entry["id"], True)]
          and done["entries"][0]["requeued_at"] is not None, f"requeued=true: {done}")
    deadline = time.monotonic() + 15
    while True:
        waiting = await raw.apps_webhooks_api_list_dlq_entries(requeued=False)
        if waiting["entries"] or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.1)
    check(len(waiting["entries"]) == 1 and waiting["entries"][0]["id"] != entry["id"]
          and waiting["entries"][0]["delivery_id"] == failing.test_id,
          f"failing again makes a new dead letter: {waiting}")
    again = await raises(sfe.ValidationError, hooks.retry_dlq(entry["id"]),
                         "a requeued entry cannot be retried again")
    check(again.status_code == 400 and again.error_code == "ALREADY_REQUEUED",
          f"400 ALREADY_REQUEUED: {again.status_code} {again.error_code}")
    await raises(sfe.NotFoundError, hooks.retry_dlq(str(uuid.uuid4())),
                 "an unknown dead letter is 404")
    stats = await raw.apps_webhooks_api_get_dlq_stats()
    check(stats["total_entries"] == 2 and stats["not_requeued"] == 1 and stats["requeued"] == 1
          and stats["top_failed_webhooks"] == [{"webhook_id": dead.id, "webhook_name": "dead",
                                                "count": 2}], f"DLQ stats after: {stats}")

    # --- metrics: the platform's are staff-only; the workspace's agree with the native view
    await raises(sfe.PermissionError, hooks.get_metrics(), "platform metrics are staff-only")
    await raises(sfe.PermissionError, worker.webhooks.get_metrics(), "for everyone")
    every_delivery = []
    for h in native_hooks(token, ws_id):
        every_delivery += await settled(token, ws_id, h["id"], f"deliveries of {h['name']}")
    by_status = {s: sum(d["status"] == s for d in every_delivery)
                 for s in ("delivered", "failed", "pending")}
    with rx.lock:
        attempts_seen = len(rx.got)
    metrics = await raw.apps_webhooks_api_get_workspace_webhook_metrics()
    check(isinstance(metrics, m.WorkspaceWebhookMetricsResponse) and metrics.window_hours == 24
          and abs((aware(metrics.generated_at) - dt.datetime.now(dt.timezone.utc))
                  .total_seconds()) < 60,
          f"workspace metrics: {metrics}")
    summary = metrics.summary
    check(summary.total_attempts >= attempts_seen,
          f"total_attempts {summary.total_attempts} >= the {attempts_seen} attempts received "
          f"(the native attempts add up to {sum(d['attempts'] for d in every_delivery)})")
    check((summary.successful_deliveries, summary.failed_deliveries, summary.pending_deliveries)
          == (by_status["delivered"], by_status["failed"], by_status["pending"]),
          f"the summary matches the native deliveries {by_status}: {summary}")
    check(metrics.webhooks.total == 5 and metrics.webhooks.active == 4,
          f"five endpoints, four enabled: {metrics.webhooks}")

    # --- the success timeline: buckets that add up to the workspace's deliveries in the range
    today = dt.datetime.now(dt.timezone.utc).date()
    created_today = [d for d in every_delivery if when(d["created_at"]).date() == today]

    def check_timeline(tl, time_range, bucket, total, what):
        check(isinstance(tl, dict) and tl["time_range"] == time_range
              and (tl["bucket"] == bucket if bucket else tl["bucket"] in ("hour", "day")),
              f"{what}: range and bucket: {tl}")
        buckets = tl["timeline"]
        step = dt.timedelta(hours=1) if tl["bucket"] == "hour" else dt.timedelta(days=1)
        stamps = [when(b["timestamp"]) for b in buckets]
        check(all((b - a) > dt.timedelta(0) and (b - a) % step == dt.timedelta(0)
                  for a, b in zip(stamps, stamps[1:]))
              and all((s - s.replace(hour=0, minute=0, second=0, microsecond=0)) % step
                      == dt.timedelta(0) for s in stamps),
              f"{what}: ascending buckets, each the start of its {tl['bucket']}: {stamps}")
        check(all(b["total"] == b["successful"] + b["failed"] + b["pending"] for b in buckets),
              f"{what}: each bucket adds up")
        check(sum(b["total"] for b in buckets) == tl["total_deliveries"] == total,
              f"{what}: {total} deliveries: {tl['total_deliveries']}, "
              f"{sum(b['total'] for b in buckets)} in the buckets")
        check(sum(b["successful"] for b in buckets) == tl["successful_deliveries"],
              f"{what}: the successful ones add up")

    timeline = await hooks.get_success_timeline()
    check_timeline(timeline, "today", "hour", len(created_today), "today's timeline")
    check(timeline["successful_deliveries"]
          == sum(d["status"] == "delivered" for d in created_today),
          "today's successful deliveries are the delivered ones")
    week = await hooks.get_success_timeline(time_range="week")
    check_timeline(week, "week", "day", len(every_delivery), "the week's timeline")
    span = await hooks.get_success_timeline(
        time_range="custom", start_date=(today - dt.timedelta(days=1)).isoformat(),
        end_date=(today + dt.timedelta(days=1)).isoformat())
    check_timeline(span, "custom", None, len(every_delivery), "a custom range around today")
    past = await hooks.get_success_timeline(time_range="custom", start_date="2020-01-01",
                                            end_date="2020-01-31")
    check_timeline(past, "custom", None, 0, "a custom range in the past")
    await raises(sfe.ValidationError, hooks.get_success_timeline(time_range="custom"),
                 "custom without dates is 422")
    await raises(sfe.ValidationError, hooks.get_success_timeline(time_range="bogus"),
                 "an unknown time range is 422")

    # --- the health check (the SDK sends no Authorization header for it)
    health = await raw.apps_webhooks_api_webhook_health_check()
    check(isinstance(health, dict) and health["status"] == "healthy", f"health: {health}")
    # Inbound webhooks are not served.
    await raises(sfe.NotFoundError, raw.apps_webhooks_api_receive_webhook(first.id),
                 "receive_webhook is not served")

    # --- delete: 204, then gone everywhere
    gone = await raw.apps_webhooks_api_delete_webhook_with_http_info(spare.id)
    check(gone.status_code == 204 and gone.data is None, "delete answers 204")
    check(await hooks.delete(texty.id) is None, "the wrapper's delete answers None")
    await raises(sfe.NotFoundError, hooks.get(spare.id), "a deleted endpoint is 404")
    check(native(token, "GET", hook_path(ws_id, spare.id))[0] == 404, "native: 404")
    check({h["id"] for h in native_hooks(token, ws_id)} == {first.id, every.id, dead.id},
          "native: the deleted endpoints are not listed")
    await raises(sfe.NotFoundError, hooks.delete(spare.id), "deleting again is 404")
    await raises(sfe.NotFoundError, hooks.list_deliveries(texty.id),
                 "a deleted endpoint's deliveries are 404")
    check((await hooks.list()).pagination["total"] == 3, "three endpoints left")

    # Every request the receiver got went to a known path and verified.
    with rx.lock:
        got = list(rx.got)
    check(all(r.problems == [] for r in got),
          f"every delivery verified: {[(r.path, r.problems) for r in got if r.problems]}")
    check({r.path for r in got} == {"/ok/1", "/ok/2", "/text/5", "/fail/4"},
          f"deliveries only where expected: {sorted({r.path for r in got})}")
    rx.server.shutdown()
    rx.server.server_close()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except AssertionError as e:
        print(f"FAILED after {checks} checks: {e}", file=sys.stderr)
        sys.exit(1)
