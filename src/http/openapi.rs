//! The native OpenAPI 3.1 document's frame: title, security schemes, tags. The paths come from
//! the handlers' `#[utoipa::path]` annotations.

use utoipa::{
    openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme},
    Modify, OpenApi,
};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Roster native API",
        description = "Workspaces, members, roles, invitations, sessions and API keys."
    ),
    modifiers(&Security),
    tags(
        (name = "auth", description = "Sign-up, sign-in, token refresh, sign-out"),
        (name = "me", description = "The caller's account, sessions and API keys"),
        (name = "workspaces", description = "Workspaces, and the caller's role in each"),
        (name = "members", description = "Members and their roles"),
        (name = "invitations", description = "Invitations by email, and the invitee's side"),
        (name = "audit", description = "The audit log of a workspace"),
        (name = "usage", description = "Metered usage, plans and quotas"),
    )
)]
pub struct NativeApi;

struct Security;

impl Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT or rk_ API key")
                    .build(),
            ),
        );
        components.add_security_scheme(
            "api_key",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::new("X-API-Key"))),
        );
    }
}
