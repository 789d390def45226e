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

#[derive(Template)]
#[template(path = "email/account.txt")]
struct AccountText<'a> {
    name: &'a str,
    lead: &'a str,
    link: Option<&'a AccountLink<'a>>,
    closing: &'a str,
}

#[derive(Template)]
#[template(path = "email/account.html")]
struct AccountHtml<'a> {
    name: &'a str,
    lead: &'a str,
    link: Option<&'a AccountLink<'a>>,
    closing: &'a str,
}

/// The single-use link of an account email.
pub struct AccountLink<'a> {
    action: &'a str,
    url: &'a str,
    expires: String,
}

/// An email about the account itself (to `to`, greeting `name`), with an optional link.
fn account_mail(
    to: &str,
    name: &str,
    subject: &str,
    lead: &str,
    link: Option<AccountLink<'_>>,
    closing: &str,
) -> Mail {
    let text = AccountText {
        name,
        lead,
        link: link.as_ref(),
        closing,
    }
    .render()
    .unwrap_or_else(|_| lead.to_owned());
    let html = AccountHtml {
        name,
        lead,
        link: link.as_ref(),
        closing,
    }
    .render()
    .unwrap_or_default();
    Mail {
        to: to.to_owned(),
        subject: subject.to_owned(),
        text,
        html,
    }
}

fn expiry(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M UTC").to_string()
}

/// The link that verifies `to` as the account's address (at sign-up, on request, or for a
/// change of address). `url` is built from the configured public URL.
pub fn verify_email(
    to: &str,
    name: &str,
    url: &str,
    expires_at: DateTime<Utc>,
    change: bool,
) -> Mail {
    let lead = if change {
        "You asked to make this address the one of your Roster account. Your account keeps its \
         old address until you confirm this one."
    } else {
        "Please confirm that this is the address of your Roster account."
    };
    account_mail(
        to,
        name,
        "Confirm your email address",
        lead,
        Some(AccountLink {
            action: "Confirm this address",
            url,
            expires: expiry(expires_at),
        }),
        "If you did not ask for this, ignore this email.",
    )
}

/// The link that sets a new password.
pub fn password_reset(to: &str, name: &str, url: &str, expires_at: DateTime<Utc>) -> Mail {
    account_mail(
        to,
        name,
        "Reset your Roster password",
        "Someone (hopefully you) asked to reset the password of your Roster account. Setting a \
         new one signs you out everywhere.",
        Some(AccountLink {
            action: "Choose a new password",
            url,
            expires: expiry(expires_at),
        }),
        "If you did not ask for this, ignore this email: your password stays as it is.",
    )
}

/// The notice to the old address that a change of address was asked for.
pub fn email_change_notice(to: &str, name: &str, new_email: &str) -> Mail {
    let lead = format!(
        "Someone signed in to your Roster account asked to change its address to {new_email}. \
         The change takes effect once the new address is confirmed from the link sent there."
    );
    account_mail(
        to,
        name,
        "Your Roster address is about to change",
        &lead,
        None,
        "If this was not you, change your password now: the change needs your password.",
    )
}

/// The proposal of an ownership transfer, to the member asked to become owner.
pub fn ownership_transfer_proposed(
    to: &str,
    name: &str,
    proposer: &str,
    workspace: &str,
    keep_ownership: bool,
    expires_at: DateTime<Utc>,
) -> Mail {
    let stays = if keep_ownership {
        "stays an owner beside you"
    } else {
        "becomes an admin"
    };
    let lead = format!(
        "{proposer} asks you to become an owner of the workspace {workspace}; if you accept, \
         {proposer} {stays}. Accept or decline in Roster before {}.",
        expiry(expires_at)
    );
    account_mail(
        to,
        name,
        &format!("{proposer} asks you to take over {workspace}"),
        &lead,
        None,
        "If you do not answer, nothing changes and the proposal expires.",
    )
}

/// The notice that an ownership transfer was accepted, to the proposer and to the new owner
/// (`new_owner` is the addressee's own name in the latter).
pub fn ownership_transferred(
    to: &str,
    name: &str,
    workspace: &str,
    new_owner: &str,
    to_new_owner: bool,
    previous_role: Role,
) -> Mail {
    let lead = if to_new_owner {
        format!("You are now an owner of the workspace {workspace}.")
    } else {
        format!(
            "{new_owner} accepted your proposal and is now an owner of the workspace \
             {workspace}. Your role there is {}.",
            previous_role.as_str()
        )
    };
    account_mail(
        to,
        name,
        &format!("The ownership of {workspace} has changed"),
        &lead,
        None,
        "If you did not expect this, ask the workspace's owners.",
    )
}

/// The notice to a workspace's owners that a webhook endpoint was disabled because its
/// deliveries kept failing.
pub fn webhook_disabled(to: &str, name: &str, workspace: &str, url: &str, failures: i64) -> Mail {
    let lead = format!(
        "Deliveries to the webhook endpoint {url} of the workspace {workspace} failed \
         {failures} times in a row, so Roster stopped sending to it. Events are still kept for \
         it: enable the endpoint again once it answers, and what is pending is sent."
    );
    account_mail(
        to,
        name,
        &format!("A webhook endpoint of {workspace} was disabled"),
        &lead,
        None,
        "You receive this because you are an owner of the workspace.",
    )
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

    #[test]
    fn account_mails_escape_the_name_and_carry_their_link() {
        let url = "https://roster.example.com/reset-password/pr_abc";
        let m = password_reset("x@example.com", "<b>Eve</b>", url, Utc::now());
        assert!(!m.html.contains("<b>Eve"), "{}", m.html);
        assert!(m.text.contains(url) && m.html.contains(url));
        let notice = email_change_notice("x@example.com", "Eve", "<new>@example.com");
        assert!(!notice.html.contains("<new>"), "{}", notice.html);
        assert!(
            !notice.text.contains("http"),
            "no link in a notice: {}",
            notice.text
        );
    }
}
