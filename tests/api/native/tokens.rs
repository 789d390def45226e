//! The access-token corpus: every malformed, forged, mistyped or stale credential gets 401.

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use roster::domain::token::SigningKey;
use serde_json::{json, Value};

use crate::{
    helpers::{assert_sf_error, TestApp},
    on_both_databases,
};

on_both_databases!(
    every_bad_credential_in_the_corpus_is_refused_with_401,
    a_token_with_a_crit_header_is_refused_on_the_native_api_and_by_spatialflow,
);

fn sign(header: &Header, claims: &Value, key: &EncodingKey) -> String {
    jsonwebtoken::encode(header, claims, key).expect("encode")
}

fn ed_header(kid: &str) -> Header {
    let mut h = Header::new(Algorithm::EdDSA);
    h.kid = Some(kid.to_owned());
    h.typ = Some("at+jwt".into());
    h
}

fn unsigned(header: Value, claims: &Value) -> String {
    format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    )
}

async fn every_bad_credential_in_the_corpus_is_refused_with_401(app: TestApp) {
    let a = app.signup("victim@example.com", "Victim").await;
    let b = app.signup("other@example.com", "Other").await;
    let (key_id, _) = app.api_key(&a.access, json!({})).await;
    let stored = app.signing_keys().await;
    let real = &stored[0];
    let real_key = EncodingKey::from_ed_der(&real.private_der);
    let now = app.state.core.clock.now().timestamp();
    let claims = |patch: Value| {
        let mut c = json!({
            "iss": "http://roster.test", "aud": "roster", "sub": a.id, "sid": a.session_id,
            "iat": now, "exp": now + 900, "typ": "access",
        });
        for (k, v) in patch.as_object().expect("object") {
            if v.is_null() {
                c.as_object_mut().expect("object").remove(k);
            } else {
                c[k] = v.clone();
            }
        }
        c
    };

    // Control: a token forged with the real key and correct claims is accepted, so every
    // refusal below is for the reason its name gives.
    let control = sign(&ed_header(&real.kid), &claims(json!({})), &real_key);
    assert_eq!(app.get("/v1/me", &control).await.status, 200);
    let within_leeway = sign(
        &ed_header(&real.kid),
        &claims(json!({"exp": now - 2})),
        &real_key,
    );
    assert_eq!(app.get("/v1/me", &within_leeway).await.status, 200);

    let stranger = SigningKey::generate(chrono::Utc::now()).expect("key");
    let stranger_key = EncodingKey::from_ed_der(&stranger.private_der);
    let mut hs_header = Header::new(Algorithm::HS256);
    hs_header.kid = Some(real.kid.clone());
    hs_header.typ = Some("at+jwt".into());
    let x = URL_SAFE_NO_PAD.encode(&real.public_raw);
    let mut jwt_typ = ed_header(&real.kid);
    jwt_typ.typ = Some("JWT".into());
    let mut no_kid = ed_header(&real.kid);
    no_kid.kid = None;
    let mut jku = ed_header(&stranger.kid);
    jku.jku = Some("http://127.0.0.1:9/jwks.json".into());

    let corpus: Vec<(&str, String)> = vec![
        (
            "alg none",
            unsigned(
                json!({"alg": "none", "typ": "at+jwt", "kid": real.kid}),
                &claims(json!({})),
            ),
        ),
        (
            "alg none without kid",
            unsigned(json!({"alg": "none"}), &claims(json!({}))),
        ),
        (
            "HS256 keyed with the raw public key",
            sign(
                &hs_header,
                &claims(json!({})),
                &EncodingKey::from_secret(&real.public_raw),
            ),
        ),
        (
            "HS256 keyed with the JWK x value",
            sign(
                &hs_header,
                &claims(json!({})),
                &EncodingKey::from_secret(x.as_bytes()),
            ),
        ),
        (
            "wrong audience",
            sign(
                &ed_header(&real.kid),
                &claims(json!({"aud": "someone-else"})),
                &real_key,
            ),
        ),
        (
            "wrong issuer",
            sign(
                &ed_header(&real.kid),
                &claims(json!({"iss": "http://evil.test"})),
                &real_key,
            ),
        ),
        (
            "refresh type claim",
            sign(
                &ed_header(&real.kid),
                &claims(json!({"typ": "refresh"})),
                &real_key,
            ),
        ),
        (
            "missing type claim",
            sign(
                &ed_header(&real.kid),
                &claims(json!({"typ": null})),
                &real_key,
            ),
        ),
        (
            "JWT typ header",
            sign(&jwt_typ, &claims(json!({})), &real_key),
        ),
        ("no kid", sign(&no_kid, &claims(json!({})), &real_key)),
        (
            "missing exp",
            sign(
                &ed_header(&real.kid),
                &claims(json!({"exp": null})),
                &real_key,
            ),
        ),
        (
            "missing aud",
            sign(
                &ed_header(&real.kid),
                &claims(json!({"aud": null})),
                &real_key,
            ),
        ),
        (
            "missing iss",
            sign(
                &ed_header(&real.kid),
                &claims(json!({"iss": null})),
                &real_key,
            ),
        ),
        (
            "expired beyond the leeway",
            sign(
                &ed_header(&real.kid),
                &claims(json!({"exp": now - 10})),
                &real_key,
            ),
        ),
        (
            "session of another user",
            sign(
                &ed_header(&real.kid),
                &claims(json!({"sid": b.session_id})),
                &real_key,
            ),
        ),
        (
            "unknown session",
            sign(
                &ed_header(&real.kid),
                &claims(json!({"sid": uuid::Uuid::new_v4()})),
                &real_key,
            ),
        ),
        (
            "signed by a key the service does not hold",
            sign(&ed_header(&stranger.kid), &claims(json!({})), &stranger_key),
        ),
        (
            "foreign key claiming our kid",
            sign(&ed_header(&real.kid), &claims(json!({})), &stranger_key),
        ),
        (
            "jku header pointing elsewhere",
            sign(&jku, &claims(json!({})), &stranger_key),
        ),
        ("tampered payload", {
            let mut parts: Vec<String> = control.split('.').map(str::to_owned).collect();
            parts[1] = URL_SAFE_NO_PAD.encode(claims(json!({"sub": b.id})).to_string());
            parts.join(".")
        }),
        ("refresh token as access token", a.refresh.clone()),
        ("API key id as access token", key_id.clone()),
        ("session id as access token", a.session_id.clone()),
        ("unknown rk_ key", format!("rk_{}", "A".repeat(43))),
        ("garbage", "not.a.jwt".into()),
        ("one segment", "abc".into()),
        ("oversized", "a".repeat(10_000)),
    ];
    for (name, token) in &corpus {
        let r = app.get("/v1/me", token).await;
        assert_eq!(r.status, 401, "{name} was accepted: {}", r.text);
        r.assert_problem(401, "unauthenticated");
        assert_eq!(r.header("www-authenticate"), Some("Bearer"), "{name}");
    }

    for header in ["Bearer ", "Bearer", "Basic dXNlcjpwYXNz", "", "Token abc"] {
        let r = app
            .send(
                app.client
                    .get(app.url("/v1/me"))
                    .header("authorization", header),
            )
            .await;
        r.assert_problem(401, "unauthenticated");
    }
    let r = app
        .send(app.client.get(app.url("/v1/me")).header("x-api-key", ""))
        .await;
    r.assert_problem(401, "unauthenticated");
    let r = app.send(app.client.get(app.url("/v1/me"))).await;
    r.assert_problem(401, "unauthenticated");

    // Nothing in the corpus changed state, and the genuine tokens still work.
    assert_eq!(app.rows("sessions", "ended_at IS NULL").await, 2);
    assert_eq!(app.get("/v1/me", &a.access).await.status, 200);
    assert_eq!(app.get("/v1/me", &b.access).await.status, 200);
}

/// A token signed with the service's own key and valid in every other way, whose header has a
/// `crit` entry: RFC 7515 §4.1.11 requires refusing extensions we do not implement, and we
/// implement none, so any `crit` (even an empty one, which the RFC forbids) is refused.
async fn a_token_with_a_crit_header_is_refused_on_the_native_api_and_by_spatialflow(app: TestApp) {
    app.signup("crit@example.com", "Crit").await;
    let sf_token = app.sf_token("crit@example.com").await;
    let keys = app.signing_keys().await;
    let key = EncodingKey::from_ed_der(&keys[0].private_der);
    let signed = |header: Value, claims: &Value| {
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let signature =
            jsonwebtoken::crypto::sign(input.as_bytes(), &key, Algorithm::EdDSA).expect("sign");
        format!("{input}.{signature}")
    };
    // The claims of the genuine SpatialFlow token, re-signed under crafted headers.
    let payload = sf_token.split('.').nth(1).expect("payload");
    let claims: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).expect("b64")).expect("claims");
    let header = |extra: Value| {
        let mut h = json!({"alg": "EdDSA", "typ": "at+jwt", "kid": keys[0].kid});
        for (k, v) in extra.as_object().expect("object") {
            h[k] = v.clone();
        }
        h
    };

    // Control: the same claims under a plain header, signed by hand, are accepted.
    let control = signed(header(json!({})), &claims);
    assert_eq!(app.get("/v1/me", &control).await.status, 200);
    assert_eq!(
        app.sf("GET", "/auth/me", Some(&control), None).await.status,
        200
    );

    for extra in [
        json!({"crit": ["exp"], "exp": 1}),
        json!({"crit": ["b64"], "b64": true}),
        json!({"crit": []}),
        json!({"crit": "kid"}),
    ] {
        let token = signed(header(extra.clone()), &claims);
        let r = app.get("/v1/me", &token).await;
        r.assert_problem(401, "unauthenticated");
        assert_eq!(r.header("www-authenticate"), Some("Bearer"), "{extra}");
        let r = app.sf("GET", "/auth/me", Some(&token), None).await;
        assert_sf_error(&r, 401, "NOT_AUTHENTICATED");
    }
}
