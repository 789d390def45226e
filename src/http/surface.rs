//! Which surface a request belongs to (native, SpatialFlow, Pupil), so that what the router
//! refuses before any handler runs (an unreadable URI, a request over its time) is answered
//! in that surface's error shape; and the guard that refuses URIs whose path or query does
//! not decode to text a database can hold.

use axum::{
    extract::Request,
    http::{StatusCode, Uri},
    middleware::Next,
    response::{IntoResponse, Response},
};
use percent_encoding::percent_decode_str;

use super::{problem::Problem, pupil, spatialflow};

/// The API surfaces, told apart by their mount points.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Surface {
    Native,
    SpatialFlow,
    Pupil,
}

impl Surface {
    pub fn of(path: &str) -> Surface {
        if under(path, pupil::PREFIX) {
            Surface::Pupil
        } else if under(path, spatialflow::MOUNT) {
            Surface::SpatialFlow
        } else {
            Surface::Native
        }
    }

    /// A refusal of the router's own making, in this surface's shape.
    pub fn refuse(self, status: StatusCode, code: &'static str, detail: &str) -> Response {
        match self {
            Surface::Native => Problem::new(status, code, detail).into_response(),
            Surface::SpatialFlow => {
                spatialflow::error::SfError::Status(status, code, detail.to_owned()).into_response()
            }
            Surface::Pupil => {
                pupil::envelope::PupilError::new(status, code, detail).into_response()
            }
        }
    }
}

fn under(path: &str, mount: &str) -> bool {
    path.strip_prefix(mount)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

/// Refuses, with 400 in the surface's shape, a request whose path or query string decodes to
/// invalid UTF-8 or holds a NUL character: no such text can be a workspace, an id or a filter,
/// and PostgreSQL cannot even compare it. Every route is behind this, so no extractor has to
/// remember it.
pub async fn readable_uri(request: Request, next: Next) -> Response {
    match unreadable(request.uri()) {
        Some((code, detail)) => {
            Surface::of(request.uri().path()).refuse(StatusCode::BAD_REQUEST, code, detail)
        }
        None => next.run(request).await,
    }
}

fn unreadable(uri: &Uri) -> Option<(&'static str, &'static str)> {
    if !is_text(uri.path()) {
        return Some((
            "invalid_path",
            "the path must decode to UTF-8 text without NUL characters",
        ));
    }
    if !uri.query().is_none_or(is_text) {
        return Some((
            "invalid_query",
            "the query string must decode to UTF-8 text without NUL characters",
        ));
    }
    None
}

/// Whether a percent-encoded string decodes to UTF-8 without NUL.
fn is_text(encoded: &str) -> bool {
    percent_decode_str(encoded)
        .decode_utf8()
        .is_ok_and(|text| !text.contains('\0'))
}

/// Whether a JSON document holds a string with a NUL character. A raw NUL byte is not valid
/// JSON anyway, so this looks for the escape `\u0000` itself: a backslash that is not itself
/// escaped (an odd run of backslashes), then `u0000`.
pub fn json_has_nul(bytes: &[u8]) -> bool {
    let mut run = 0usize;
    for (i, &b) in bytes.iter().enumerate() {
        if b == b'\\' {
            run += 1;
            continue;
        }
        if run % 2 == 1 && b == b'u' && bytes.get(i + 1..i + 5) == Some(b"0000") {
            return true;
        }
        run = 0;
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_nul_escape_is_found_and_an_escaped_backslash_is_not_one() {
        assert!(json_has_nul(br#"{"email":"a\u0000@x.test"}"#));
        assert!(json_has_nul(br#"["\\\u0000"]"#));
        assert!(!json_has_nul(br#"{"note":"\\u0000"}"#));
        assert!(!json_has_nul(br#"{"note":"\u00e9 \u0001"}"#));
        assert!(!json_has_nul(br#"{"a":"u0000"}"#));
    }

    #[test]
    fn paths_and_queries_must_decode_to_text_without_nul() {
        assert!(unreadable(&Uri::from_static("/v1/workspaces/%ff")).is_some());
        assert!(unreadable(&Uri::from_static("/v1/workspaces/a%00b")).is_some());
        assert!(unreadable(&Uri::from_static("/v1/workspaces/x?q=%00")).is_some());
        assert!(unreadable(&Uri::from_static("/v1/workspaces/x?q=%C3%A9")).is_none());
        assert!(unreadable(&Uri::from_static("/v1/workspaces/caf%C3%A9")).is_none());
    }

    #[test]
    fn each_mount_point_is_its_own_surface() {
        assert_eq!(Surface::of("/pupil/v2/workspaces"), Surface::Pupil);
        assert_eq!(
            Surface::of("/spatialflow/api/v1/auth/me"),
            Surface::SpatialFlow
        );
        assert_eq!(Surface::of("/spatialflowers"), Surface::Native);
        assert_eq!(Surface::of("/v1/me"), Surface::Native);
    }
}
