//! Wiring: `AppState` (the domain core, metrics, configuration) and `app()`, the router.

use std::sync::Arc;

use anyhow::Context;
use metrics_exporter_prometheus::PrometheusHandle;
use secrecy::ExposeSecret;

use crate::{
    config::{Config, SqliteSynchronous},
    domain::{
        clock::Clock, password::Passwords, token::KeyRing, token::SigningKey, Core, CoreSettings,
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
        store
            .migrate(SigningKey::generate(clock.now())?)
            .await
            .context("cannot apply database migrations")?;
        let access_ttl = chrono::Duration::from_std(config.access_token_ttl)?;
        let refresh_ttl = chrono::Duration::from_std(config.refresh_token_ttl)?;
        let keys = KeyRing::load(store.clone(), config.issuer(), access_ttl).await?;
        let core = Core {
            store,
            clock,
            keys,
            passwords: Passwords::new(config.password_hash_concurrency)?,
            settings: CoreSettings {
                access_ttl,
                refresh_ttl,
                public_url: config.public_url.to_string(),
                limits: config.limits,
                usage: config.usage.clone(),
                retention: config.retention,
            },
        };
        Ok(AppState {
            core: Arc::new(core),
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

/// The whole HTTP application.
pub fn app(state: AppState) -> axum::Router {
    crate::http::router(state)
}
