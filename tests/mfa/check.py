"""The second factor with a real authenticator: pyotp (RFC 6238, SHA-1, 6 digits, 30 s)
computes the codes from the secret Roster answered at enrolment; sign-in with a code works
once, its replay is refused, a recovery code works once. State is checked through /v1."""

import json
import os
import sys
import time
import urllib.error
import urllib.request

import pyotp

BASE = os.environ["ROSTER_URL"]


def call(method, path, body=None, token=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(BASE + path, data=data, method=method)
    req.add_header("content-type", "application/json")
    if token:
        req.add_header("authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req) as r:
            text = r.read()
            return r.status, (json.loads(text) if text else None)
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


def expect(answer, status, code=None):
    got, body = answer
    assert got == status, f"expected {status}, got {got}: {body}"
    if code is not None:
        assert body["code"] == code, body
    return body


email, password = f"pyotp-{int(time.time() * 1000)}@example.com", "correct horse battery"
signup = expect(call("POST", "/v1/auth/signup", {"email": email, "password": password, "name": "Otp"}), 201)
access = signup["access_token"]

enrolment = expect(call("POST", "/v1/me/mfa/totp", {}, access), 200)
totp = pyotp.parse_uri(enrolment["otpauth_uri"])
assert isinstance(totp, pyotp.TOTP) and totp.digits == 6 and totp.interval == 30
assert totp.secret == enrolment["secret"], "the URI and the secret agree"
assert pyotp.TOTP(enrolment["secret"]).now() == totp.now()
codes = expect(call("POST", "/v1/me/mfa/totp/confirm", {"code": totp.now()}, access), 200)["recovery_codes"]
assert len(codes) == 10
assert expect(call("GET", "/v1/me/mfa", token=access), 200)["enabled"] is True


def ticket():
    body = expect(call("POST", "/v1/auth/login", {"email": email, "password": password}), 202)
    assert body["mfa_required"] is True and "access_token" not in body
    return body["mfa_ticket"]


# The confirming code's step is spent; the authenticator's next code (one step ahead) signs in.
code = totp.at(time.time() + 30)
tokens = expect(call("POST", "/v1/auth/mfa", {"ticket": ticket(), "code": code}), 200)
expect(call("GET", "/v1/me", token=tokens["access_token"]), 200)
# The same code again is refused.
expect(call("POST", "/v1/auth/mfa", {"ticket": ticket(), "code": code}), 401, "mfa_code_invalid")
# A recovery code works once.
expect(call("POST", "/v1/auth/mfa", {"ticket": ticket(), "recovery_code": codes[0]}), 200)
expect(call("POST", "/v1/auth/mfa", {"ticket": ticket(), "recovery_code": codes[0]}), 401, "mfa_code_invalid")
assert expect(call("GET", "/v1/me/mfa", token=access), 200)["recovery_codes_left"] == 9
# Refresh tokens issued after MFA keep working.
expect(call("POST", "/v1/auth/refresh", {"refresh_token": tokens["refresh_token"]}), 200)
print("pyotp: code once, replay refused, recovery code once: ok")
sys.exit(0)
