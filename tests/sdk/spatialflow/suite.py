"""The SpatialFlow SDK (3.2.0) against Roster: every operation Roster serves in the dialect,
through the SDK's wrapper where it has a method and its generated client elsewhere, with the
state checked afterwards through Roster's native /v1 API. ROSTER_URL names the server."""

import asyncio
import datetime as dt
import email as email_lib
from email import policy as mail_policy
import glob
import json
import os
import re
import sys
import time
import urllib.error
import urllib.request
import uuid

from spatialflow import SpatialFlow
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

    for c in opened:
        await c.close()
    print(f"ok: {checks} checks")


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except AssertionError as e:
        print(f"FAILED after {checks} checks: {e}", file=sys.stderr)
        sys.exit(1)
