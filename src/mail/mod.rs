//! Mail: the message type, its templates (text and HTML, askama with HTML escaping), and the
//! transports: SMTP (lettre) and, when no SMTP server is configured, a folder of `.eml` files.
//! Messages are never sent from a request: they go through the outbox (`crate::outbox`).

mod transport;

use askama::Template;
use chrono::{DateTime, Utc};

use crate::domain::role::Role;
pub use transport::{FileMailer, Mailer, SmtpMailer};

/// A rendered message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mail {
    pub to: String,
    pub subject: String,
    pub text: String,
    pub html: String,
}

#[derive(Template)]
#[template(path = "email/invitation.txt")]
struct InvitationText<'a> {
    inviter: &'a str,
    workspace: &'a str,
    role: &'a str,
    url: &'a str,
    expires: String,
}

#[derive(Template)]
#[template(path = "email/invitation.html")]
struct InvitationHtml<'a> {
    inviter: &'a str,
    workspace: &'a str,
    role: &'a str,
    url: &'a str,
    expires: String,
}

/// The invitation email. `url` is built from the configured public URL, never from a request.
pub fn invitation(
    to: &str,
    workspace: &str,
    inviter: &str,
    role: Role,
    url: &str,
    expires_at: DateTime<Utc>,
) -> Mail {
    let expires = expires_at.format("%Y-%m-%d %H:%M UTC").to_string();
    let role = role.as_str();
    let text = InvitationText {
        inviter,
        workspace,
        role,
        url,
        expires: expires.clone(),
    }
    .render()
    .unwrap_or_else(|_| format!("You are invited to {workspace}: {url}"));
    let html = InvitationHtml {
        inviter,
        workspace,
        role,
        url,
        expires,
    }
    .render()
    .unwrap_or_default();
    Mail {
        to: to.to_owned(),
        subject: format!("{inviter} invited you to {workspace}"),
        text,
        html,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_html_body_escapes_what_people_typed() {
        let m = invitation(
            "x@example.com",
            "<script>alert(1)</script>",
            "Eve & Co",
            Role::Editor,
            "https://roster.example.com/invite/inv_abc",
            Utc::now(),
        );
        assert!(!m.html.contains("<script>"), "{}", m.html);
        assert!(!m.html.contains("Eve & Co"), "{}", m.html);
        assert!(m.html.contains("alert(1)"), "the text is kept, escaped");
        assert!(m.text.contains("https://roster.example.com/invite/inv_abc"));
        assert!(m.text.contains("Eve & Co"));
    }
}
