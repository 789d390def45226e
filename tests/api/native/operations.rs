//! Operations: health, readiness, metrics, the JWKS, request ids and the OpenAPI document.

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};

use crate::{helpers::TestApp, on_both_databases};

on_both_databases!(
    health_readiness_and_metrics_answer,
    the_jwks_publishes_the_key_that_signs_access_tokens,
    every_response_carries_a_request_id_and_a_given_one_is_kept,
    the_openapi_document_and_the_docs_page_are_served,
);

async fn health_readiness_and_metrics_answer(app: TestApp) {
    let r = app.send(app.client.get(app.url("/healthz"))).await;
    assert_eq!((r.status, r.text.as_str()), (200, "ok"));
    let r = app.send(app.client.get(app.url("/readyz"))).await;
    assert_eq!((r.status, r.text.as_str()), (200, "ready"));
    app.signup("metrics@example.com", "Metrics").await;
    let r = app.send(app.client.get(app.url("/metrics"))).await;
    assert_eq!(r.status, 200);
    assert!(
        r.text.contains(
            "http_requests_total{method=\"POST\",route=\"/v1/auth/signup\",status=\"201\"}"
        ),
        "{}",
        r.text
    );
    assert!(
        r.text.contains("http_request_duration_seconds_bucket"),
        "{}",
        r.text
    );
    assert!(
        r.text.contains("db_pool_connections{state=\"idle\"}"),
        "{}",
        r.text
    );
    assert!(r.text.contains("db_pool_max_connections 8"), "{}", r.text);
}

async fn the_jwks_publishes_the_key_that_signs_access_tokens(app: TestApp) {
    let a = app.signup("jwks@example.com", "Jwks").await;
    let r = app
        .send(app.client.get(app.url("/.well-known/jwks.json")))
        .await;
    assert_eq!(r.status, 200);
    let keys = r.body["keys"].as_array().expect("keys");
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0]["kty"], "OKP");
    assert_eq!(keys[0]["crv"], "Ed25519");
    assert_eq!(keys[0]["alg"], "EdDSA");
    assert!(keys[0].get("d").is_none(), "private part published");
    let header = jsonwebtoken::decode_header(&a.access).expect("header");
    assert_eq!(header.kid.as_deref(), keys[0]["kid"].as_str());
    // The published key verifies the token.
    let key = jsonwebtoken::DecodingKey::from_ed_components(keys[0]["x"].as_str().expect("x"))
        .expect("key");
    let mut v = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::EdDSA);
    v.set_audience(&["roster"]);
    let data = jsonwebtoken::decode::<serde_json::Value>(&a.access, &key, &v).expect("verifies");
    assert_eq!(data.claims["sub"], a.id.as_str());
    assert_eq!(data.claims["iss"], "http://roster.test");
    let raw = URL_SAFE_NO_PAD
        .decode(keys[0]["x"].as_str().expect("x"))
        .expect("b64");
    assert_eq!(raw.len(), 32);
    assert_eq!(app.rows("signing_keys", "").await, 1);
}

async fn every_response_carries_a_request_id_and_a_given_one_is_kept(app: TestApp) {
    let r = app.send(app.client.get(app.url("/v1/me"))).await;
    assert!(r.header("x-request-id").is_some_and(|id| id.len() == 36));
    let r = app
        .send(
            app.client
                .get(app.url("/healthz"))
                .header("x-request-id", "trace-me-42"),
        )
        .await;
    assert_eq!(r.header("x-request-id"), Some("trace-me-42"));
}

async fn the_openapi_document_and_the_docs_page_are_served(app: TestApp) {
    let r = app.send(app.client.get(app.url("/v1/openapi.json"))).await;
    assert_eq!(r.status, 200);
    assert!(r.body["openapi"]
        .as_str()
        .is_some_and(|v| v.starts_with("3.1")));
    assert_eq!(
        r.body,
        serde_json::to_value(roster::http::native_openapi()).expect("json")
    );
    for path in [
        "/v1/auth/signup",
        "/v1/auth/login",
        "/v1/auth/refresh",
        "/v1/auth/logout",
        "/v1/me",
        "/v1/me/sessions/{id}",
        "/v1/me/api-keys/{id}",
    ] {
        assert!(
            r.body["paths"][path].is_object(),
            "{path} missing from the document"
        );
    }
    let docs = app.send(app.client.get(app.url("/docs"))).await;
    assert_eq!(docs.status, 200);
    assert!(
        docs.text.contains("<html") || docs.text.contains("<!doctype"),
        "{}",
        docs.text
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_over_the_time_limit_is_answered_503() {
    let app = TestApp::spawn_with(crate::helpers::Db::Sqlite, |s| {
        s.request_timeout = Some("1ms".into());
    })
    .await;
    // Sign-up hashes a password with argon2id, which takes far longer than 1 ms.
    let r = app
        .post(
            "/v1/auth/signup",
            None,
            serde_json::json!({"email": "slow@example.com", "password": "long enough", "name": "S"}),
        )
        .await;
    r.assert_problem(503, "timeout");
}

#[test]
fn the_native_openapi_document_matches_its_snapshot() {
    let doc = serde_json::to_value(roster::http::native_openapi()).expect("json");
    insta::assert_json_snapshot!("native_openapi", doc);
}
