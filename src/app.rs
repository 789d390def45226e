//! Wiring: `AppState` (the domain core, metrics, configuration) and `app()`, the router.

use std::sync::Arc;

use anyhow::Context;
use metrics_exporter_prometheus::PrometheusHandle;
use secrecy::ExposeSecret;

use crate::{
    config::{Config, SqliteSynchronous},
    domain::{
        clock::Clock,
        password::Passwords,
        token::{self, KeyRing, KeyRingSettings, SigningKey},
        Core, CoreSettings,
    },
    mail::{FileMailer, Mailer, SmtpMailer},
    store, telemetry,
};

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub core: Arc<Core>,
    pub config: Arc<Config>,
    pub metrics: PrometheusHandle,
}

impl AppState {
    /// Connects to the database, applies migrations, loads the signing keys.
    pub async fn build(config: Config, clock: Arc<dyn Clock>) -> anyhow::Result<AppState> {
        let store = store::connect(
            config.database_url.expose_secret(),
            store::Options {
                max_connections: config.database_max_connections,
                sqlite_full_sync: config.sqlite_synchronous == SqliteSynchronous::Full,
            },
        )
        .await
        .context("cannot open the database named by ROSTER_DATABASE_URL (--database)")?;
        let first_key =
            SigningKey::generate(clock.now())?.sealed_with(config.key_encryption_key.as_ref())?;
        store
            .migrate(first_key)
            .await
            .context("cannot apply database migrations")?;
        let access_ttl = chrono::Duration::from_std(config.access_token_ttl)?;
        let refresh_ttl = chrono::Duration::from_std(config.refresh_token_ttl)?;
        let issuer =
            token::deployment_issuer(&store, config.configured_issuer(), &config.issuer()).await?;
        let keys = KeyRing::load(
            store.clone(),
            KeyRingSettings {
                issuer,
                ttl: access_ttl,
                refresh: chrono::Duration::from_std(config.key_refresh_interval)?,
                kek: config.key_encryption_key.clone(),
            },
        )
        .await
        .context("cannot load the signing keys")?;
        let core = Core {
            store,
            clock,
            keys,
            passwords: Passwords::new(config.password_hash_concurrency)?,
            touches: Default::default(),
            settings: CoreSettings {
                access_ttl,
                refresh_ttl,
                public_url: config.public_url.to_string(),
                limits: config.limits,
                usage: config.usage.clone(),
                retention: config.retention,
                require_verified_email: config.require_verified_email,
                permissions: config.permissions.clone(),
                egress: config.egress.clone(),
            },
        };
        let core = Arc::new(core);
        tokio::spawn(refresh_keys(Arc::downgrade(&core)));
        Ok(AppState {
            core,
            config: Arc::new(config),
            metrics: telemetry::metrics_handle(),
        })
    }
}

impl AppState {
    /// The mail transport the configuration names: SMTP, or the development folder.
    pub fn mailer(&self) -> anyhow::Result<Arc<dyn Mailer>> {
        let from = self.config.mail_from.clone();
        Ok(match &self.config.smtp_url {
            Some(url) => Arc::new(SmtpMailer::new(url.expose_secret(), from)?),
            None => Arc::new(FileMailer::new(self.config.mail_dir.clone(), from)?),
        })
    }
}

/// Re-reads the signing keys every key refresh interval for as long as the core lives, so
/// that a key rotated by any process signs here within that interval.
async fn refresh_keys(core: std::sync::Weak<Core>) {
    let Some(every) = core
        .upgrade()
        .and_then(|c| c.keys.refresh_interval().to_std().ok())
    else {
        return;
    };
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await;
    loop {
        tick.tick().await;
        let Some(core) = core.upgrade() else { return };
        if let Err(e) = core.keys.refresh().await {
            tracing::warn!(error = %e, "cannot re-read the signing keys; keeping those in use");
        }
    }
}

/// The whole HTTP application.
pub fn app(state: AppState) -> axum::Router {
    crate::http::router(state)
}
