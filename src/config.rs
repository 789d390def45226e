//! Runtime configuration: one `Config`, built from defaults, then an optional TOML file,
//! then `ROSTER_*` environment variables, then command-line flags (the last one wins).

use std::{collections::BTreeMap, net::SocketAddr, path::PathBuf, time::Duration};

use clap::Args;
use ipnet::IpNet;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use url::Url;

use crate::domain::{
    key_seal::KeyEncryptionKey,
    usage::{Plan, Units, UsageSettings, DEFAULT_PLAN},
    Retention,
};

/// Settings as they may appear in the TOML file, in the environment or on the command line.
/// Every field is optional here; [`Config`] holds the resolved values.
#[derive(Debug, Default, Clone, Args, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// Address to listen on.
    #[arg(long, global = true, env = "ROSTER_LISTEN")]
    pub listen: Option<SocketAddr>,

    /// Database URL: `sqlite://path.db` (created if missing) or `postgres://…`.
    #[arg(long = "database", global = true, env = "ROSTER_DATABASE_URL")]
    pub database_url: Option<String>,

    /// Public base URL every emitted link is built from (never from request headers).
    #[arg(long, global = true, env = "ROSTER_PUBLIC_URL")]
    pub public_url: Option<String>,

    /// Lifetime of an access token, e.g. `15m`.
    #[arg(long, global = true, env = "ROSTER_ACCESS_TOKEN_TTL")]
    pub access_token_ttl: Option<String>,

    /// Lifetime of a refresh token (and so of an idle session), e.g. `30d`.
    #[arg(long, global = true, env = "ROSTER_REFRESH_TOKEN_TTL")]
    pub refresh_token_ttl: Option<String>,

    /// Longest time one request may take before it is answered with 503, e.g. `30s`.
    #[arg(long, global = true, env = "ROSTER_REQUEST_TIMEOUT")]
    pub request_timeout: Option<String>,

    /// Longest time a client may take to send a request's headers, counted from when the
    /// connection is ready for it, so it also ends a keep-alive connection idle that long
    /// (the slow-header attack), e.g. `10s`.
    #[arg(long, global = true, env = "ROSTER_HEADER_TIMEOUT")]
    pub header_timeout: Option<String>,

    /// Most client connections open at once; past it, new ones wait in the listen backlog.
    #[arg(long, global = true, env = "ROSTER_MAX_CONNECTIONS")]
    pub max_connections: Option<usize>,

    /// Most password hashes computed at once (each takes about 19 MiB); default: CPU count.
    #[arg(long, global = true, env = "ROSTER_PASSWORD_HASH_CONCURRENCY")]
    pub password_hash_concurrency: Option<usize>,

    /// Most database connections in the pool.
    #[arg(long, global = true, env = "ROSTER_DATABASE_MAX_CONNECTIONS")]
    pub database_max_connections: Option<u32>,

    /// Log format: `text` or `json`.
    #[arg(long, global = true, env = "ROSTER_LOG_FORMAT")]
    pub log_format: Option<String>,

    /// SMTP server for outgoing mail, e.g. `smtp://127.0.0.1:2525` or
    /// `smtps://user:password@mail.example.com`; unset: mail is written to `mail_dir`.
    #[arg(long, global = true, env = "ROSTER_SMTP_URL")]
    pub smtp_url: Option<String>,

    /// Sender of outgoing mail, e.g. `Roster <no-reply@example.com>`.
    #[arg(long, global = true, env = "ROSTER_MAIL_FROM")]
    pub mail_from: Option<String>,

    /// Folder the development mail transport writes `.eml` files to (when no SMTP is set).
    #[arg(long, global = true, env = "ROSTER_MAIL_DIR")]
    pub mail_dir: Option<PathBuf>,

    /// Whether `serve` also runs the outbox worker (`true`/`false`).
    #[arg(long, global = true, env = "ROSTER_OUTBOX_WORKER")]
    pub outbox_worker: Option<bool>,

    /// How often the outbox worker looks for mail to send, e.g. `1s`.
    #[arg(long, global = true, env = "ROSTER_OUTBOX_INTERVAL")]
    pub outbox_interval: Option<String>,

    /// Whether `serve` also runs the webhook worker (`true`/`false`); `roster worker` always
    /// does.
    #[arg(long, global = true, env = "ROSTER_WEBHOOK_WORKER")]
    pub webhook_worker: Option<bool>,

    /// How long one webhook delivery attempt may take, e.g. `10s`.
    #[arg(long, global = true, env = "ROSTER_WEBHOOK_TIMEOUT")]
    pub webhook_timeout: Option<String>,

    /// Hosts and address ranges webhooks may be sent to although they are not public
    /// (loopback, private, link-local): names, addresses or CIDRs, comma-separated
    /// (`127.0.0.1,10.0.0.0/8,hooks.internal`); a TOML array in the file. Empty: public
    /// addresses only.
    #[arg(
        long,
        global = true,
        env = "ROSTER_WEBHOOK_ALLOW",
        value_delimiter = ','
    )]
    pub webhook_allow: Option<Vec<String>>,

    /// Invitations one person may send per hour (0: no limit).
    #[arg(long, global = true, env = "ROSTER_INVITE_RATE_LIMIT")]
    pub invite_rate_limit: Option<u32>,

    /// Invitations one person may resend per hour (0: no limit).
    #[arg(long, global = true, env = "ROSTER_RESEND_RATE_LIMIT")]
    pub resend_rate_limit: Option<u32>,

    /// Sign-in attempts per email per minute (0: no limit).
    #[arg(long, global = true, env = "ROSTER_LOGIN_RATE_LIMIT")]
    pub login_rate_limit: Option<u32>,

    /// Password-reset requests per client IP per hour (0: no limit). Per address, a reset link
    /// is mailed at most once a minute and 3 times an hour, silently (the answer never differs).
    #[arg(long, global = true, env = "ROSTER_PASSWORD_RESET_RATE_LIMIT")]
    pub password_reset_rate_limit: Option<u32>,

    /// Verification emails one account, and one address, may be sent per hour on request
    /// (0: no limit).
    #[arg(long, global = true, env = "ROSTER_VERIFICATION_RATE_LIMIT")]
    pub verification_rate_limit: Option<u32>,

    /// Refuse sign-in (and refresh) to accounts whose email is not verified
    /// (`email_not_verified`, after the password was found correct).
    #[arg(long, global = true, env = "ROSTER_REQUIRE_VERIFIED_EMAIL")]
    pub require_verified_email: Option<bool>,

    /// Reverse proxies (load balancers) whose `X-Forwarded-For` names the client: CIDRs or
    /// addresses, comma-separated (`10.0.0.0/8,fd00::/8`); a TOML array in the file. Empty: the
    /// header is ignored and the TCP peer is the client.
    #[arg(
        long,
        global = true,
        env = "ROSTER_TRUSTED_PROXIES",
        value_delimiter = ','
    )]
    pub trusted_proxies: Option<Vec<String>>,

    /// How often every process re-reads the signing keys, so that it signs with a rotated key
    /// within this time, e.g. `30s`.
    #[arg(long, global = true, env = "ROSTER_KEY_REFRESH_INTERVAL")]
    pub key_refresh_interval: Option<String>,

    /// Key that encrypts the private signing keys at rest: 32 bytes in base64
    /// (`openssl rand -base64 32`). Unset: they are stored as they are.
    #[arg(
        long,
        global = true,
        env = "ROSTER_KEY_ENCRYPTION_KEY",
        hide_env_values = true
    )]
    pub key_encryption_key: Option<SecretString>,
    /// How long audit events are kept, e.g. `400d`; `forever` (the default) keeps them all.
    /// The outbox worker deletes older ones in batches; each chain keeps its last event.
    #[arg(long, global = true, env = "ROSTER_AUDIT_RETENTION")]
    pub audit_retention: Option<String>,

    /// How long sent mail is kept in the outbox, e.g. `30d`; `forever` (the default) keeps it.
    #[arg(long, global = true, env = "ROSTER_OUTBOX_RETENTION")]
    pub outbox_retention: Option<String>,

    /// SQLite's `synchronous` mode: `normal` (default; a process crash loses no commit, a power
    /// loss may lose the last ones) or `full` (a power loss loses no commit either).
    #[arg(long, global = true, env = "ROSTER_SQLITE_SYNCHRONOUS")]
    pub sqlite_synchronous: Option<String>,

    /// Plans (TOML file only): `[plans.<name>]` with `monthly_units` (absent: unlimited) and
    /// `overage` (accept usage past the allowance). Replaces the built-in plans.
    #[arg(skip)]
    pub plans: Option<BTreeMap<String, PlanSettings>>,

    /// Meter weights in event units (TOML file only): `[meters]` `name = 0.5`. Merged over the
    /// built-in `location_events = 1` and `action_deliveries = 0.5`; unlisted meters weigh 1.
    #[arg(skip)]
    pub meters: Option<BTreeMap<String, f64>>,

    /// The product's own permissions (TOML file only): `[permissions."reports:export"]` with an
    /// optional `description` and `roles`, the built-in roles that hold it (owners hold every
    /// permission). Custom roles can carry them; `POST …/permissions/check` answers them.
    #[arg(skip)]
    pub permissions: Option<BTreeMap<String, PermissionSettings>>,
}

/// A product permission as configured.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PermissionSettings {
    pub description: Option<String>,
    #[serde(default)]
    pub roles: Vec<String>,
}

/// A plan as configured.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanSettings {
    pub monthly_units: Option<u64>,
    #[serde(default)]
    pub overage: bool,
}

impl Settings {
    /// Fills every unset field of `self` from `lower`.
    fn or(self, lower: Settings) -> Settings {
        Settings {
            listen: self.listen.or(lower.listen),
            database_url: self.database_url.or(lower.database_url),
            public_url: self.public_url.or(lower.public_url),
            access_token_ttl: self.access_token_ttl.or(lower.access_token_ttl),
            refresh_token_ttl: self.refresh_token_ttl.or(lower.refresh_token_ttl),
            request_timeout: self.request_timeout.or(lower.request_timeout),
            header_timeout: self.header_timeout.or(lower.header_timeout),
            max_connections: self.max_connections.or(lower.max_connections),
            password_hash_concurrency: self
                .password_hash_concurrency
                .or(lower.password_hash_concurrency),
            database_max_connections: self
                .database_max_connections
                .or(lower.database_max_connections),
            log_format: self.log_format.or(lower.log_format),
            smtp_url: self.smtp_url.or(lower.smtp_url),
            mail_from: self.mail_from.or(lower.mail_from),
            mail_dir: self.mail_dir.or(lower.mail_dir),
            outbox_worker: self.outbox_worker.or(lower.outbox_worker),
            outbox_interval: self.outbox_interval.or(lower.outbox_interval),
            webhook_worker: self.webhook_worker.or(lower.webhook_worker),
            webhook_timeout: self.webhook_timeout.or(lower.webhook_timeout),
            webhook_allow: self.webhook_allow.or(lower.webhook_allow),
            invite_rate_limit: self.invite_rate_limit.or(lower.invite_rate_limit),
            resend_rate_limit: self.resend_rate_limit.or(lower.resend_rate_limit),
            login_rate_limit: self.login_rate_limit.or(lower.login_rate_limit),
            password_reset_rate_limit: self
                .password_reset_rate_limit
                .or(lower.password_reset_rate_limit),
            verification_rate_limit: self
                .verification_rate_limit
                .or(lower.verification_rate_limit),
            require_verified_email: self.require_verified_email.or(lower.require_verified_email),
            trusted_proxies: self.trusted_proxies.or(lower.trusted_proxies),
            key_refresh_interval: self.key_refresh_interval.or(lower.key_refresh_interval),
            key_encryption_key: self.key_encryption_key.or(lower.key_encryption_key),
            audit_retention: self.audit_retention.or(lower.audit_retention),
            outbox_retention: self.outbox_retention.or(lower.outbox_retention),
            sqlite_synchronous: self.sqlite_synchronous.or(lower.sqlite_synchronous),
            plans: self.plans.or(lower.plans),
            meters: self.meters.or(lower.meters),
            permissions: self.permissions.or(lower.permissions),
        }
    }
}

/// How logs are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

/// The resolved configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub listen: SocketAddr,
    pub database_url: SecretString,
    pub public_url: Url,
    /// Whether the public URL was configured (not derived from the listen address).
    pub public_url_configured: bool,
    pub access_token_ttl: Duration,
    pub refresh_token_ttl: Duration,
    pub request_timeout: Duration,
    pub connections: crate::server::ConnectionLimits,
    pub password_hash_concurrency: usize,
    pub database_max_connections: u32,
    pub log_format: LogFormat,
    pub smtp_url: Option<SecretString>,
    pub mail_from: lettre::message::Mailbox,
    pub mail_dir: PathBuf,
    pub outbox_worker: bool,
    pub outbox_interval: Duration,
    pub webhook_worker: bool,
    pub webhook_timeout: Duration,
    pub egress: crate::domain::egress::Egress,
    pub limits: crate::domain::invitation::Limits,
    /// Unverified accounts cannot sign in.
    pub require_verified_email: bool,
    pub usage: UsageSettings,
    pub permissions: crate::domain::permission::Catalogue,
    pub trusted_proxies: Vec<IpNet>,
    pub key_refresh_interval: Duration,
    pub key_encryption_key: Option<KeyEncryptionKey>,
    pub retention: Retention,
    pub sqlite_synchronous: SqliteSynchronous,
}

/// SQLite's `synchronous` mode (see `Settings::sqlite_synchronous`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum SqliteSynchronous {
    #[default]
    Normal,
    Full,
}

impl SqliteSynchronous {
    pub fn as_str(self) -> &'static str {
        match self {
            SqliteSynchronous::Normal => "normal",
            SqliteSynchronous::Full => "full",
        }
    }
}

/// A configuration problem, worded to say what to change.
#[derive(Debug, thiserror::Error)]
#[error("configuration error: {0}")]
pub struct ConfigError(String);

impl Config {
    /// Resolves `cli` (flags and environment, as parsed by clap) over the optional TOML file.
    pub fn load(cli: Settings, file: Option<&PathBuf>) -> Result<Config, ConfigError> {
        let from_file = match file {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|e| {
                    ConfigError(format!("cannot read config file {}: {e}", path.display()))
                })?;
                toml::from_str::<Settings>(&text).map_err(|e| {
                    ConfigError(format!("config file {} is not valid: {e}", path.display()))
                })?
            }
            None => Settings::default(),
        };
        Self::resolve(cli.or(from_file))
    }

    /// Applies the defaults and checks every value.
    pub fn resolve(s: Settings) -> Result<Config, ConfigError> {
        let listen = s
            .listen
            .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 8080)));
        let database_url = s
            .database_url
            .unwrap_or_else(|| "sqlite://roster.db".to_owned());
        if !(database_url.starts_with("sqlite:")
            || database_url.starts_with("postgres://")
            || database_url.starts_with("postgresql://"))
        {
            return Err(ConfigError(
                "ROSTER_DATABASE_URL (--database) must start with sqlite:// or postgres://".into(),
            ));
        }
        let public_url_configured = s.public_url.is_some();
        let public_url = s.public_url.unwrap_or_else(|| format!("http://{listen}"));
        let public_url = Url::parse(&public_url)
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some())
            .ok_or_else(|| {
                ConfigError(format!(
                    "ROSTER_PUBLIC_URL (--public-url) must be an absolute http(s) URL such as https://roster.example.com, not {public_url:?}"
                ))
            })?;
        let access_token_ttl = duration(
            "ROSTER_ACCESS_TOKEN_TTL (--access-token-ttl)",
            s.access_token_ttl.as_deref().unwrap_or("15m"),
        )?;
        let refresh_token_ttl = duration(
            "ROSTER_REFRESH_TOKEN_TTL (--refresh-token-ttl)",
            s.refresh_token_ttl.as_deref().unwrap_or("30d"),
        )?;
        if refresh_token_ttl <= access_token_ttl {
            return Err(ConfigError(
                "ROSTER_REFRESH_TOKEN_TTL must be longer than ROSTER_ACCESS_TOKEN_TTL".into(),
            ));
        }
        let request_timeout = duration(
            "ROSTER_REQUEST_TIMEOUT (--request-timeout)",
            s.request_timeout.as_deref().unwrap_or("30s"),
        )?;
        let header_timeout = duration(
            "ROSTER_HEADER_TIMEOUT (--header-timeout)",
            s.header_timeout.as_deref().unwrap_or("10s"),
        )?;
        if header_timeout.is_zero() {
            return Err(ConfigError(
                "ROSTER_HEADER_TIMEOUT must be longer than zero".into(),
            ));
        }
        let max_connections = s.max_connections.unwrap_or(4096);
        if max_connections == 0 {
            return Err(ConfigError(
                "ROSTER_MAX_CONNECTIONS must be at least 1".into(),
            ));
        }
        let cpus = std::thread::available_parallelism().map_or(2, |n| n.get());
        // One core fewer than the machine has, so sign-ins that keep every hashing thread busy
        // still leave a core to the other requests (docs/BENCHMARKS.md, issue 16).
        let password_hash_concurrency = s
            .password_hash_concurrency
            .unwrap_or(cpus.saturating_sub(1).max(1));
        if password_hash_concurrency == 0 {
            return Err(ConfigError(
                "ROSTER_PASSWORD_HASH_CONCURRENCY must be at least 1".into(),
            ));
        }
        let database_max_connections = s.database_max_connections.unwrap_or(16);
        if database_max_connections == 0 {
            return Err(ConfigError(
                "ROSTER_DATABASE_MAX_CONNECTIONS must be at least 1".into(),
            ));
        }
        let log_format = match s.log_format.as_deref().unwrap_or("text") {
            "text" => LogFormat::Text,
            "json" => LogFormat::Json,
            other => {
                return Err(ConfigError(format!(
                    "ROSTER_LOG_FORMAT must be `text` or `json`, not {other:?}"
                )))
            }
        };
        if let Some(url) = &s.smtp_url {
            if !(url.starts_with("smtp://") || url.starts_with("smtps://")) {
                return Err(ConfigError(
                    "ROSTER_SMTP_URL (--smtp-url) must start with smtp:// or smtps://".into(),
                ));
            }
        }
        let mail_from = s
            .mail_from
            .as_deref()
            .unwrap_or("Roster <roster@localhost>")
            .parse::<lettre::message::Mailbox>()
            .map_err(|e| {
                ConfigError(format!(
                    "ROSTER_MAIL_FROM (--mail-from) must be an address such as \"Roster <no-reply@example.com>\": {e}"
                ))
            })?;
        let outbox_interval = duration(
            "ROSTER_OUTBOX_INTERVAL (--outbox-interval)",
            s.outbox_interval.as_deref().unwrap_or("1s"),
        )?;
        let webhook_timeout = duration(
            "ROSTER_WEBHOOK_TIMEOUT (--webhook-timeout)",
            s.webhook_timeout.as_deref().unwrap_or("10s"),
        )?;
        let egress = crate::domain::egress::Egress::parse(&s.webhook_allow.unwrap_or_default())
            .map_err(|e| ConfigError(format!("ROSTER_WEBHOOK_ALLOW (--webhook-allow): {e}")))?;
        let usage = usage_settings(s.plans, s.meters)?;
        let permissions = catalogue(s.permissions)?;
        let trusted_proxies = s
            .trusted_proxies
            .unwrap_or_default()
            .iter()
            .map(|p| p.trim())
            .filter(|p| !p.is_empty())
            .map(|p| {
                p.parse::<IpNet>()
                    .or_else(|_| p.parse::<std::net::IpAddr>().map(IpNet::from))
                    .map_err(|_| {
                        ConfigError(format!(
                            "ROSTER_TRUSTED_PROXIES (--trusted-proxies) must list CIDRs or addresses such as 10.0.0.0/8 or 192.0.2.7, not {p:?}"
                        ))
                    })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let key_refresh_interval = duration(
            "ROSTER_KEY_REFRESH_INTERVAL (--key-refresh-interval)",
            s.key_refresh_interval.as_deref().unwrap_or("30s"),
        )?;
        let key_encryption_key = s
            .key_encryption_key
            .map(|k| {
                KeyEncryptionKey::from_base64(k.expose_secret())
                    .map_err(|e| ConfigError(format!("ROSTER_KEY_ENCRYPTION_KEY: {e}")))
            })
            .transpose()?;
        let retention = Retention {
            audit_events: retention(
                "ROSTER_AUDIT_RETENTION (--audit-retention)",
                s.audit_retention.as_deref(),
            )?,
            sent_mail: retention(
                "ROSTER_OUTBOX_RETENTION (--outbox-retention)",
                s.outbox_retention.as_deref(),
            )?,
        };
        let sqlite_synchronous = match s.sqlite_synchronous.as_deref().unwrap_or("normal") {
            "normal" => SqliteSynchronous::Normal,
            "full" => SqliteSynchronous::Full,
            other => {
                return Err(ConfigError(format!(
                    "ROSTER_SQLITE_SYNCHRONOUS (--sqlite-synchronous) must be `normal` or `full`, not {other:?}"
                )))
            }
        };
        Ok(Config {
            trusted_proxies,
            key_refresh_interval,
            key_encryption_key,
            public_url_configured,
            retention,
            sqlite_synchronous,
            usage,
            permissions,
            smtp_url: s.smtp_url.map(SecretString::from),
            mail_from,
            mail_dir: s.mail_dir.unwrap_or_else(|| PathBuf::from("mail")),
            outbox_worker: s.outbox_worker.unwrap_or(true),
            outbox_interval,
            webhook_worker: s.webhook_worker.unwrap_or(true),
            webhook_timeout,
            egress,
            limits: crate::domain::invitation::Limits {
                invites_per_hour: s.invite_rate_limit.unwrap_or(100),
                resends_per_hour: s.resend_rate_limit.unwrap_or(10),
                logins_per_minute: s.login_rate_limit.unwrap_or(15),
                resets_per_hour_per_ip: s.password_reset_rate_limit.unwrap_or(10),
                verifications_per_hour: s.verification_rate_limit.unwrap_or(5),
            },
            require_verified_email: s.require_verified_email.unwrap_or(false),
            listen,
            database_url: SecretString::from(database_url),
            public_url,
            access_token_ttl,
            refresh_token_ttl,
            request_timeout,
            connections: crate::server::ConnectionLimits {
                header_timeout,
                max_connections,
            },
            password_hash_concurrency,
            database_max_connections,
            log_format,
        })
    }

    /// The JWT issuer this process would use: the public URL without a trailing slash. When the
    /// public URL is not configured, the deployment's issuer is fixed in the database instead
    /// (`token::deployment_issuer`).
    pub fn issuer(&self) -> String {
        self.public_url.as_str().trim_end_matches('/').to_owned()
    }

    /// The configured issuer, if the public URL was configured.
    pub fn configured_issuer(&self) -> Option<String> {
        self.public_url_configured.then(|| self.issuer())
    }

    /// A printable TOML rendering with secrets redacted.
    pub fn redacted(&self) -> String {
        let db = redact_url(self.database_url.expose_secret());
        let mut table = toml::Table::new();
        table.insert("listen".into(), self.listen.to_string().into());
        table.insert("database_url".into(), db.into());
        table.insert("public_url".into(), self.public_url.to_string().into());
        table.insert(
            "access_token_ttl".into(),
            humantime::format_duration(self.access_token_ttl)
                .to_string()
                .into(),
        );
        table.insert(
            "refresh_token_ttl".into(),
            humantime::format_duration(self.refresh_token_ttl)
                .to_string()
                .into(),
        );
        table.insert(
            "request_timeout".into(),
            humantime::format_duration(self.request_timeout)
                .to_string()
                .into(),
        );
        table.insert(
            "header_timeout".into(),
            humantime::format_duration(self.connections.header_timeout)
                .to_string()
                .into(),
        );
        table.insert(
            "max_connections".into(),
            (self.connections.max_connections as i64).into(),
        );
        table.insert(
            "password_hash_concurrency".into(),
            (self.password_hash_concurrency as i64).into(),
        );
        table.insert(
            "database_max_connections".into(),
            i64::from(self.database_max_connections).into(),
        );
        let smtp = self
            .smtp_url
            .as_ref()
            .map(|u| redact_url(u.expose_secret()));
        if let Some(smtp) = smtp {
            table.insert("smtp_url".into(), smtp.into());
        }
        table.insert("mail_from".into(), self.mail_from.to_string().into());
        table.insert(
            "mail_dir".into(),
            self.mail_dir.display().to_string().into(),
        );
        table.insert("outbox_worker".into(), self.outbox_worker.into());
        table.insert(
            "outbox_interval".into(),
            humantime::format_duration(self.outbox_interval)
                .to_string()
                .into(),
        );
        table.insert("webhook_worker".into(), self.webhook_worker.into());
        table.insert(
            "webhook_timeout".into(),
            humantime::format_duration(self.webhook_timeout)
                .to_string()
                .into(),
        );
        table.insert(
            "webhook_allow".into(),
            self.egress
                .hosts
                .iter()
                .cloned()
                .chain(self.egress.nets.iter().map(ToString::to_string))
                .map(toml::Value::from)
                .collect::<Vec<_>>()
                .into(),
        );
        table.insert(
            "invite_rate_limit".into(),
            i64::from(self.limits.invites_per_hour).into(),
        );
        table.insert(
            "resend_rate_limit".into(),
            i64::from(self.limits.resends_per_hour).into(),
        );
        table.insert(
            "login_rate_limit".into(),
            i64::from(self.limits.logins_per_minute).into(),
        );
        table.insert(
            "password_reset_rate_limit".into(),
            i64::from(self.limits.resets_per_hour_per_ip).into(),
        );
        table.insert(
            "verification_rate_limit".into(),
            i64::from(self.limits.verifications_per_hour).into(),
        );
        table.insert(
            "require_verified_email".into(),
            self.require_verified_email.into(),
        );
        let proxies: Vec<toml::Value> = self
            .trusted_proxies
            .iter()
            .map(|p| p.to_string().into())
            .collect();
        table.insert("trusted_proxies".into(), proxies.into());
        table.insert(
            "key_refresh_interval".into(),
            humantime::format_duration(self.key_refresh_interval)
                .to_string()
                .into(),
        );
        if self.key_encryption_key.is_some() {
            table.insert("key_encryption_key".into(), "REDACTED".into());
        }
        table.insert(
            "log_format".into(),
            match self.log_format {
                LogFormat::Text => "text",
                LogFormat::Json => "json",
            }
            .into(),
        );
        // Whole days as days: humantime would print 90 days as "2months 29days 2h 52m 48s".
        let kept = |d: Option<Duration>| match d {
            None => "forever".to_owned(),
            Some(d) if d.as_secs() % 86400 == 0 && d.subsec_nanos() == 0 => {
                format!("{}d", d.as_secs() / 86400)
            }
            Some(d) => humantime::format_duration(d).to_string(),
        };
        table.insert(
            "audit_retention".into(),
            kept(self.retention.audit_events).into(),
        );
        table.insert(
            "outbox_retention".into(),
            kept(self.retention.sent_mail).into(),
        );
        table.insert(
            "sqlite_synchronous".into(),
            self.sqlite_synchronous.as_str().into(),
        );
        let mut plans = toml::Table::new();
        for p in &self.usage.plans {
            let mut plan = toml::Table::new();
            if let Some(units) = p.monthly_units {
                plan.insert(
                    "monthly_units".into(),
                    i64::try_from(units).unwrap_or(i64::MAX).into(),
                );
            }
            plan.insert("overage".into(), p.overage.into());
            plans.insert(p.name.clone(), plan.into());
        }
        table.insert("plans".into(), plans.into());
        let meters: toml::Table = self
            .usage
            .meters
            .iter()
            .map(|(m, u)| (m.clone(), u.as_f64().into()))
            .collect();
        table.insert("meters".into(), meters.into());
        let mut permissions = toml::Table::new();
        for p in self.permissions.product() {
            let mut entry = toml::Table::new();
            if let Some(d) = &p.description {
                entry.insert("description".into(), d.clone().into());
            }
            let roles: Vec<toml::Value> = p.roles.iter().map(|r| r.as_str().into()).collect();
            entry.insert("roles".into(), roles.into());
            permissions.insert(p.key.clone(), entry.into());
        }
        table.insert("permissions".into(), permissions.into());
        toml::to_string(&table).unwrap_or_default()
    }
}

/// Plans and meter weights: the built-in ones, with the configured ones applied.
fn usage_settings(
    plans: Option<BTreeMap<String, PlanSettings>>,
    meters: Option<BTreeMap<String, f64>>,
) -> Result<UsageSettings, ConfigError> {
    let mut usage = UsageSettings::default();
    if let Some(plans) = plans {
        if !plans.contains_key(DEFAULT_PLAN) {
            return Err(ConfigError(format!(
                "[plans] must define the `{DEFAULT_PLAN}` plan: every new workspace is on it"
            )));
        }
        usage.plans = plans
            .into_iter()
            .map(|(name, p)| Plan {
                name,
                monthly_units: p.monthly_units,
                overage: p.overage,
            })
            .collect();
    }
    for (meter, weight) in meters.unwrap_or_default() {
        if !crate::domain::usage::valid_meter(&meter) {
            return Err(ConfigError(format!(
                "[meters] {meter:?} is not a meter name (a-z, 0-9, `_`, `.`, `-`, starting with a letter)"
            )));
        }
        let units = Units::from_decimal(weight).ok_or_else(|| {
            ConfigError(format!(
                "[meters] {meter} must be a non-negative number of event units with at most three decimals, not {weight}"
            ))
        })?;
        usage.meters.insert(meter, units);
    }
    Ok(usage)
}

/// A URL with its password replaced (or all of it, if it does not parse).
fn redact_url(url: &str) -> String {
    Url::parse(url)
        .map(|mut u| {
            if u.password().is_some() {
                let _ = u.set_password(Some("REDACTED"));
            }
            u.to_string()
        })
        .unwrap_or_else(|_| "REDACTED".into())
}

/// A retention period: `forever` (or unset) keeps everything.
fn retention(name: &str, value: Option<&str>) -> Result<Option<Duration>, ConfigError> {
    match value {
        None | Some("forever") => Ok(None),
        Some(v) => humantime::parse_duration(v)
            .ok()
            .filter(|d| !d.is_zero())
            .map(Some)
            .ok_or_else(|| {
                ConfigError(format!(
                    "{name} must be `forever` or a positive duration such as 90d or 400d, not {v:?}"
                ))
            }),
    }
}

fn duration(name: &str, value: &str) -> Result<Duration, ConfigError> {
    match humantime::parse_duration(value) {
        Ok(d) if !d.is_zero() => Ok(d),
        _ => Err(ConfigError(format!(
            "{name} must be a positive duration such as 15m, 30d or 45s, not {value:?}"
        ))),
    }
}

/// The permission catalogue from `[permissions]`.
fn catalogue(
    declared: Option<BTreeMap<String, PermissionSettings>>,
) -> Result<crate::domain::permission::Catalogue, ConfigError> {
    use crate::domain::{permission, role::Role};
    let mut product = Vec::new();
    for (key, p) in declared.unwrap_or_default() {
        let roles = p
            .roles
            .iter()
            .map(|r| {
                Role::parse(r).ok_or_else(|| {
                    ConfigError(format!(
                        "[permissions.{key:?}] roles: {r:?} is not a built-in role (owner, admin, editor, field_worker, viewer, demo)"
                    ))
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        product.push(permission::ProductPermission {
            key,
            description: p.description,
            roles,
        });
    }
    permission::Catalogue::new(product).map_err(|e| ConfigError(format!("[permissions] {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_need_no_configuration() {
        let c = Config::resolve(Settings::default()).expect("defaults are valid");
        assert_eq!(c.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(c.public_url.as_str(), "http://127.0.0.1:8080/");
        assert_eq!(c.access_token_ttl, Duration::from_secs(900));
        assert_eq!(c.refresh_token_ttl, Duration::from_secs(30 * 86400));
    }

    #[test]
    fn a_bad_public_url_says_what_to_change() {
        let err = Config::resolve(Settings {
            public_url: Some("not a url".into()),
            ..Settings::default()
        })
        .expect_err("must fail");
        assert!(err.to_string().contains("ROSTER_PUBLIC_URL"));
    }

    #[test]
    fn retention_keeps_everything_unless_told_and_synchronous_is_normal_or_full() {
        let c = Config::resolve(Settings::default()).expect("defaults are valid");
        assert_eq!(c.retention, Retention::default());
        assert_eq!(c.sqlite_synchronous, SqliteSynchronous::Normal);
        let c = Config::resolve(Settings {
            audit_retention: Some("30d".into()),
            outbox_retention: Some("forever".into()),
            sqlite_synchronous: Some("full".into()),
            ..Settings::default()
        })
        .expect("valid");
        assert_eq!(
            c.retention.audit_events,
            Some(Duration::from_secs(30 * 86400))
        );
        assert_eq!(c.retention.sent_mail, None);
        assert_eq!(c.sqlite_synchronous, SqliteSynchronous::Full);
        let out = c.redacted();
        assert!(out.contains("audit_retention = \"30d\""), "{out}");
        assert!(out.contains("outbox_retention = \"forever\""), "{out}");
        assert!(out.contains("sqlite_synchronous = \"full\""), "{out}");
        for (settings, named) in [
            (
                Settings {
                    sqlite_synchronous: Some("extra".into()),
                    ..Settings::default()
                },
                "ROSTER_SQLITE_SYNCHRONOUS",
            ),
            (
                Settings {
                    audit_retention: Some("0s".into()),
                    ..Settings::default()
                },
                "ROSTER_AUDIT_RETENTION",
            ),
            (
                Settings {
                    outbox_retention: Some("a while".into()),
                    ..Settings::default()
                },
                "ROSTER_OUTBOX_RETENTION",
            ),
        ] {
            let err = Config::resolve(settings).expect_err("must fail");
            assert!(err.to_string().contains(named), "{err}");
        }
    }

    #[test]
    fn print_config_redacts_the_database_password() {
        let c = Config::resolve(Settings {
            database_url: Some("postgres://roster:hunter2@db/roster".into()),
            smtp_url: Some("smtps://mailer:hunter2@mail.example.com".into()),
            ..Settings::default()
        })
        .expect("valid");
        let out = c.redacted();
        assert!(!out.contains("hunter2"), "{out}");
        assert!(out.contains("REDACTED"));
    }
}
