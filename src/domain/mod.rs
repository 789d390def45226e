//! The domain: accounts, sessions, API keys, workspaces, members, invitations, the audit log
//! and usage. Every rule lives here, and every write path runs its own transaction: open it,
//! read what the rule needs, decide, call the store's one-statement verbs, record the audit
//! event, commit. The API surfaces only translate. No HTTP or SQL types.

pub mod account_link;
pub mod api_key;
pub mod audit;
pub mod auth;
pub mod chain;
pub mod clock;
pub mod custom_role;
pub mod egress;
pub mod email;
pub mod error;
pub mod invitation;
pub mod key_seal;
pub mod member;
pub mod mfa;
pub mod ownership;
pub mod paging;
pub mod password;
pub mod permission;
pub mod policy;
pub mod role;
pub mod secret;
pub mod session;
pub mod token;
pub mod usage;
pub mod user;
pub mod webhook;
pub mod workspace;
pub mod workspace_key;

use std::sync::Arc;

pub use error::{Error, FieldError, LinkFault, Result};

use crate::store::Store;
use audit::Actor;
use clock::Clock;
use password::Passwords;
use token::KeyRing;

/// Settings the domain reads.
#[derive(Debug, Clone)]
pub struct CoreSettings {
    pub access_ttl: chrono::Duration,
    pub refresh_ttl: chrono::Duration,
    /// The base of every link the service emits.
    pub public_url: String,
    pub limits: invitation::Limits,
    pub usage: usage::UsageSettings,
    pub retention: Retention,
    /// Unverified accounts cannot sign in (`email_not_verified`) or refresh.
    pub require_verified_email: bool,
    /// Every permission (Roster's and the product's) and the built-in roles' presets.
    pub permissions: permission::Catalogue,
    /// Where webhooks may be sent (the SSRF guard's rule).
    pub egress: egress::Egress,
}

/// How long the outbox worker keeps what it may delete; `None`: forever.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Retention {
    /// Audit events (each chain keeps its last event whatever its age).
    pub audit_events: Option<std::time::Duration>,
    /// Outbox rows of sent mail.
    pub sent_mail: Option<std::time::Duration>,
}

/// Everything a domain call needs: storage, time, keys and password hashing.
pub struct Core {
    pub store: Store,
    pub clock: Arc<dyn Clock>,
    pub keys: KeyRing,
    pub passwords: Passwords,
    pub settings: CoreSettings,
    /// The API keys whose use this process recorded lately.
    pub touches: auth::Touches,
}

impl Core {
    /// The actor of an audit event: who, from where, now.
    fn actor(&self, user_id: Option<uuid::Uuid>, meta: &session::RequestMeta) -> Actor {
        Actor::new(user_id, meta, self.clock.now())
    }
}
