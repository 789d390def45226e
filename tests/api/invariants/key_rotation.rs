//! Signing keys that rotate: tokens signed before a rotation keep working until they expire,
//! new tokens carry the new kid, JWKS lists both meanwhile, every instance on the database
//! starts signing with the new key within its refresh interval, and keys sealed at rest.

use std::time::{Duration, Instant};

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use roster::{
    app::AppState,
    config::Config,
    domain::{clock::OffsetClock, key_seal::KeyEncryptionKey},
};
use serde_json::{json, Value};

use crate::{
    helpers::{test_settings, TestApp},
    on_both_databases,
};

on_both_databases!(
    a_rotated_key_keeps_verifying_its_tokens_until_they_expire_and_then_is_gone,
    a_key_rotated_through_one_instance_signs_on_another_within_the_refresh_interval,
    signing_keys_are_sealed_at_rest_and_a_wrong_or_missing_key_stops_the_start,
);

/// A KEK for the tests: 32 bytes of `byte`, in base64.
fn kek_text(byte: u8) -> String {
    base64::engine::general_purpose::STANDARD.encode([byte; 32])
}

fn kid_of(token: &str) -> String {
    let header = token.split('.').next().expect("header");
    let header: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).expect("b64")).expect("json");
    header["kid"].as_str().expect("kid").to_owned()
}

async fn jwks_kids(app: &TestApp) -> Vec<String> {
    let r = app
        .send(app.client.get(app.url("/.well-known/jwks.json")))
        .await;
    assert_eq!(r.status, 200);
    let mut kids: Vec<String> = r.body["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .map(|k| k["kid"].as_str().expect("kid").to_owned())
        .collect();
    kids.sort();
    kids
}

/// A new access token through a refresh (no password hash); the new refresh token replaces
/// `refresh`.
async fn refreshed(app: &TestApp, refresh: &mut String) -> String {
    let r = app
        .post("/v1/auth/refresh", None, json!({"refresh_token": refresh}))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    *refresh = r.body["refresh_token"].as_str().expect("rt").to_owned();
    r.body["access_token"].as_str().expect("at").to_owned()
}

async fn a_rotated_key_keeps_verifying_its_tokens_until_they_expire_and_then_is_gone(app: TestApp) {
    let mut a = app.signup("rotate@example.com", "Rotate").await;
    let first = kid_of(&a.access);
    assert_eq!(jwks_kids(&app).await, vec![first.clone()]);
    let old_private = app.signing_keys().await[0].private_der.clone();

    let second = app.state.core.rotate_signing_key().await.expect("rotate");
    assert_ne!(second.kid, first);

    // The token signed before the rotation is still accepted; new tokens carry the new kid.
    assert_eq!(app.get("/v1/me", &a.access).await.status, 200);
    let fresh = refreshed(&app, &mut a.refresh).await;
    assert_eq!(kid_of(&fresh), second.kid);
    assert_eq!(app.get("/v1/me", &fresh).await.status, 200);
    let mut both = vec![first.clone(), second.kid.clone()];
    both.sort();
    assert_eq!(jwks_kids(&app).await, both);
    let retiring = app.rows("signing_keys", "retires_at IS NOT NULL").await;
    assert_eq!(retiring, 1);

    // Just before the old key retires, a token it signed a moment before the rotation (as a
    // replica that had not refreshed yet would have) is still accepted.
    let infos = app.state.core.signing_keys().await.expect("list");
    let retires_at = infos
        .iter()
        .find(|k| k.kid == first)
        .and_then(|k| k.retires_at)
        .expect("old key retires");
    let ttl = app.state.config.access_token_ttl;
    let refresh_every = app.state.config.key_refresh_interval;
    assert!(
        retires_at - app.state.core.clock.now()
            >= chrono::Duration::from_std(ttl + refresh_every).expect("duration"),
        "the old key must outlive every token it can still sign"
    );
    let forge = |exp_in: chrono::Duration| {
        let now = app.state.core.clock.now();
        let mut h = Header::new(Algorithm::EdDSA);
        h.kid = Some(first.clone());
        h.typ = Some("at+jwt".into());
        let claims = json!({
            "iss": "http://roster.test", "aud": "roster", "sub": a.id, "sid": a.session_id,
            "iat": now.timestamp(), "exp": (now + exp_in).timestamp(), "typ": "access",
        });
        jsonwebtoken::encode(&h, &claims, &EncodingKey::from_ed_der(&old_private)).expect("sign")
    };
    app.clock
        .advance(ttl + refresh_every - Duration::from_secs(2));
    let late = forge(chrono::Duration::seconds(60));
    assert_eq!(app.get("/v1/me", &late).await.status, 200);

    // After it retires, the old key verifies nothing and JWKS no longer lists it.
    app.clock.advance(Duration::from_secs(10));
    assert!(app.state.core.clock.now() > retires_at);
    let after = forge(chrono::Duration::seconds(600));
    app.get("/v1/me", &after)
        .await
        .assert_problem(401, "unauthenticated");
    assert_eq!(jwks_kids(&app).await, vec![second.kid.clone()]);
    let now_token = refreshed(&app, &mut a.refresh).await;
    assert_eq!(kid_of(&now_token), second.kid);
    assert_eq!(app.get("/v1/me", &now_token).await.status, 200);

    // The next rotation prunes the retired key from the database.
    let third = app.state.core.rotate_signing_key().await.expect("rotate");
    assert_eq!(app.rows("signing_keys", "").await, 2);
    assert_eq!(
        app.rows("signing_keys", &format!("kid = '{first}'")).await,
        0
    );
    let mut listed = vec![second.kid.clone(), third.kid.clone()];
    listed.sort();
    assert_eq!(jwks_kids(&app).await, listed);
}

async fn a_key_rotated_through_one_instance_signs_on_another_within_the_refresh_interval(
    app: TestApp,
) {
    let b = app
        .another_on_same_database(|s| s.key_refresh_interval = Some("1s".into()))
        .await;
    let mut a = app.signup("pickup@example.com", "Pickup").await;
    let before = refreshed(&b, &mut a.refresh).await;
    let first = kid_of(&before);

    let rotated = app.state.core.rotate_signing_key().await.expect("rotate");
    let started = Instant::now();
    // B is shown no token with the new kid (which would make it reload at once): it has to
    // find the new key by itself.
    let picked_up = loop {
        let token = refreshed(&b, &mut a.refresh).await;
        if kid_of(&token) == rotated.kid {
            break started.elapsed();
        }
        assert_eq!(kid_of(&token), first);
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the other instance never started signing with the rotated key"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(picked_up < Duration::from_secs(3), "took {picked_up:?}");
    assert_eq!(b.state.core.keys.signing_kid(), Some(rotated.kid.clone()));

    // Both instances verify both keys and publish both.
    let new_from_b = refreshed(&b, &mut a.refresh).await;
    assert_eq!(app.get("/v1/me", &new_from_b).await.status, 200);
    assert_eq!(app.get("/v1/me", &before).await.status, 200);
    assert_eq!(b.get("/v1/me", &before).await.status, 200);
    assert_eq!(jwks_kids(&app).await, jwks_kids(&b).await);
    assert_eq!(jwks_kids(&b).await.len(), 2);
}

async fn signing_keys_are_sealed_at_rest_and_a_wrong_or_missing_key_stops_the_start(app: TestApp) {
    // The app started without a key-encryption key: its key is stored as it is.
    let mut a = app.signup("sealed@example.com", "Sealed").await;
    let plain = app.signing_keys().await;
    assert!(!plain[0].sealed);
    assert!(ring::signature::Ed25519KeyPair::from_pkcs8(&plain[0].private_der).is_ok());

    // An instance with a key-encryption key still uses the plaintext key, and its rotation
    // seals the new key and the old one.
    let b = app
        .another_on_same_database(|s| s.key_encryption_key = Some(kek_text(7).into()))
        .await;
    assert_eq!(b.get("/v1/me", &a.access).await.status, 200);
    let rotated = b.state.core.rotate_signing_key().await.expect("rotate");
    assert!(rotated.sealed);
    let stored = b.signing_keys().await;
    assert_eq!(stored.len(), 2);
    let kek = KeyEncryptionKey::from_base64(&kek_text(7)).expect("kek");
    for key in &stored {
        assert!(key.sealed, "{} is not sealed", key.kid);
        assert!(
            ring::signature::Ed25519KeyPair::from_pkcs8(&key.private_der).is_err(),
            "{} is stored readable",
            key.kid
        );
        let opened = kek.open(&key.kid, &key.private_der).expect("opens");
        let pair = ring::signature::Ed25519KeyPair::from_pkcs8(&opened).expect("pkcs8");
        assert_eq!(
            ring::signature::KeyPair::public_key(&pair).as_ref(),
            key.public_raw.as_slice()
        );
    }
    let token = refreshed(&b, &mut a.refresh).await;
    assert_eq!(kid_of(&token), rotated.kid);
    assert_eq!(b.get("/v1/me", &token).await.status, 200);

    // A restart with the right key works; with a wrong one, or none, it stops with a message
    // that names the setting (and no panic).
    let again = app
        .another_on_same_database(|s| s.key_encryption_key = Some(kek_text(7).into()))
        .await;
    assert_eq!(again.get("/v1/me", &token).await.status, 200);
    for (kek, expected) in [
        (Some(kek_text(8)), "does not open"),
        (None, "is encrypted at rest"),
    ] {
        let mut settings = test_settings(&app.database_url);
        settings.key_encryption_key = kek.map(Into::into);
        let config = Config::resolve(settings).expect("config");
        let err = match AppState::build(config, std::sync::Arc::new(OffsetClock::default())).await {
            Ok(_) => panic!("started with a key that cannot open the signing key"),
            Err(e) => format!("{e:#}"),
        };
        assert!(err.contains(expected), "{err}");
        assert!(err.contains("ROSTER_KEY_ENCRYPTION_KEY"), "{err}");
        assert!(err.contains(&rotated.kid), "{err}");
    }
}
