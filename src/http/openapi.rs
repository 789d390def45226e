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
        (name = "roles", description = "Permissions, custom roles, and what a member may do"),
        (name = "invitations", description = "Invitations by email, and the invitee's side"),
        (name = "api-keys", description = "Workspace API keys (service accounts): keys of a workspace, not of a person"),
        (name = "webhooks", description = "Webhook endpoints of a workspace, signed per Standard Webhooks, and their deliveries"),
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
                    .bearer_format("JWT, rk_ personal API key or rkw_ workspace API key")
                    .build(),
            ),
        );
        components.add_security_scheme(
            "api_key",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::new("X-API-Key"))),
        );
    }
}

/// The error answers one surface gives on any operation, whatever its handler: how its error
/// bodies are served (media type and schema) and which status it uses for a body that parses
/// but does not validate.
pub struct CommonErrors {
    pub media_type: &'static str,
    /// The component schema of an error body.
    pub schema: &'static str,
    /// The status and schema of a body that parses but is not valid.
    pub invalid_body: (u16, &'static str),
}

/// The native API's errors: RFC 9457 problem documents.
pub const NATIVE_ERRORS: CommonErrors = CommonErrors {
    media_type: "application/problem+json",
    schema: "Problem",
    invalid_body: (422, "Problem"),
};

/// Documents on every operation of `doc` what the router and the extractors answer before (or
/// instead of) the handler, so that the document lists every status the service really
/// returns: 400 for a path or query that cannot be read (every operation), 401 where a
/// credential is required, 404 where a path names something, and 400/413/415 and the invalid
/// body status where there is a request body. Answers a handler documents itself are kept.
/// Every error answer is then served as `errors.media_type` (`application/problem+json` for
/// the native API).
pub fn add_common_errors(doc: &mut utoipa::openapi::OpenApi, errors: &CommonErrors) {
    use utoipa::openapi::{path::ParameterIn, ContentBuilder, Ref, ResponseBuilder};

    let response = |description: &str, schema: &str| {
        ResponseBuilder::new()
            .description(description)
            .content(
                errors.media_type,
                ContentBuilder::new()
                    .schema(Some(Ref::from_schema_name(schema)))
                    .build(),
            )
            .build()
    };
    let secured_by_default = doc.security.as_ref().is_some_and(|s| !s.is_empty());
    for item in doc.paths.paths.values_mut() {
        let shared_path_params = item.parameters.as_ref().is_some_and(|ps| {
            ps.iter()
                .any(|p| matches!(p.parameter_in, ParameterIn::Path))
        });
        for (changes, op) in [
            (false, &mut item.get),
            (true, &mut item.put),
            (true, &mut item.post),
            (true, &mut item.delete),
            (true, &mut item.patch),
        ]
        .into_iter()
        .filter_map(|(changes, op)| op.as_mut().map(|op| (changes, op)))
        {
            let responses = &mut op.responses.responses;
            // What a handler documented as JSON is served in the surface's error media type.
            for (status, answer) in responses.iter_mut() {
                if !status.starts_with(['4', '5']) {
                    continue;
                }
                if let utoipa::openapi::RefOr::T(answer) = answer {
                    if let Some(content) = answer.content.shift_remove("application/json") {
                        answer.content.insert(errors.media_type.to_owned(), content);
                    }
                }
            }
            let mut add = |status: u16, description: &str, schema: &str| {
                responses
                    .entry(status.to_string())
                    .or_insert_with(|| response(description, schema).into());
            };
            add(
                400,
                "The path, query or body could not be read",
                errors.schema,
            );
            let secured = op
                .security
                .as_ref()
                .map_or(secured_by_default, |s| !s.is_empty());
            if secured {
                add(401, "No valid credential", errors.schema);
                if changes {
                    add(403, "A read-only API key may only read", errors.schema);
                }
            }
            let path_params = shared_path_params
                || op.parameters.as_ref().is_some_and(|ps| {
                    ps.iter()
                        .any(|p| matches!(p.parameter_in, ParameterIn::Path))
                });
            if path_params && secured {
                add(
                    403,
                    "Refused: the role does not allow it, or `mfa_required` (the workspace \
                     requires a second factor the caller has not enabled)",
                    errors.schema,
                );
            }
            if path_params {
                add(
                    404,
                    "Nothing of that name, or not visible to the caller",
                    errors.schema,
                );
            }
            let query_params = op.parameters.as_ref().is_some_and(|ps| {
                ps.iter()
                    .any(|p| matches!(p.parameter_in, ParameterIn::Query))
            });
            if query_params {
                let (status, schema) = errors.invalid_body;
                add(status, "A query parameter is not valid", schema);
            }
            if op.request_body.is_some() {
                add(413, "The body is too large", errors.schema);
                add(415, "The body is not JSON", errors.schema);
                let (status, schema) = errors.invalid_body;
                add(status, "The body is not valid", schema);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_native_error_answer_is_documented_as_a_problem_document() {
        let doc = crate::http::native_openapi();
        let mut errors = 0;
        for (path, item) in &doc.paths.paths {
            for op in [&item.get, &item.put, &item.post, &item.delete, &item.patch]
                .into_iter()
                .flatten()
            {
                for (status, answer) in &op.responses.responses {
                    let utoipa::openapi::RefOr::T(answer) = answer else {
                        continue;
                    };
                    if status.starts_with('4') || status.starts_with('5') {
                        errors += 1;
                        let types: Vec<&String> = answer.content.keys().collect();
                        assert_eq!(types, ["application/problem+json"], "{path} {status}");
                    }
                }
                let documented = |s: &str| op.responses.responses.contains_key(s);
                assert!(documented("400"), "{path}: 400 undocumented");
                if op.request_body.is_some() {
                    for s in ["413", "415", "422"] {
                        assert!(documented(s), "{path}: {s} undocumented");
                    }
                }
            }
        }
        assert!(errors > 100, "only {errors} error answers documented");
    }

    #[test]
    fn creating_a_workspace_documents_its_name_as_required() {
        let doc = serde_json::to_value(crate::http::native_openapi()).expect("json");
        let body = &doc["paths"]["/v1/workspaces"]["post"]["requestBody"]["content"]
            ["application/json"]["schema"]["$ref"];
        assert_eq!(body, "#/components/schemas/NewWorkspace");
        let schema = &doc["components"]["schemas"]["NewWorkspace"]["allOf"][1];
        assert_eq!(schema["required"], serde_json::json!(["name"]));
    }
}
