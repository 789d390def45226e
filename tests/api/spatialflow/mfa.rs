//! The SpatialFlow sign-in has no second step in its contract: it never hands out tokens for
//! an account with MFA (403 `mfa_required` in the dialect's shape), and changes nothing.

use crate::{
    helpers::{assert_sf_error, TestApp},
    native::mfa::enable_mfa,
    on_both_databases,
};

on_both_databases!(a_spatialflow_sign_in_is_refused_for_an_account_with_mfa);

async fn a_spatialflow_sign_in_is_refused_for_an_account_with_mfa(app: TestApp) {
    let a = app.signup("sf-mfa@example.com", "Sf").await;
    assert_eq!(app.sf_login(&a.email, &a.password).await.status, 200);
    enable_mfa(&app, &a).await;
    let sessions = app.rows("sessions", "").await;
    let r = app.sf_login(&a.email, &a.password).await;
    assert_sf_error(&r, 403, "MFA_REQUIRED");
    assert!(r.body.get("access_token").is_none());
    assert_eq!(app.rows("sessions", "").await, sessions);
    // A wrong password is still the ordinary 401.
    assert_sf_error(
        &app.sf_login(&a.email, "wrong password!").await,
        401,
        "INVALID_CREDENTIALS",
    );
}
