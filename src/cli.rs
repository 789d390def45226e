//! The command line: `serve`, `migrate`, `worker`, `user create|set-password`,
//! `workspace set-plan`, `api-key create`, `keys rotate|list`, `audit verify`, `backup`,
//! `openapi`, `print-config`. Every setting is a flag, a `ROSTER_*` variable or a TOML key.

use std::{io::BufRead, path::PathBuf, process::ExitCode, sync::Arc};

use anyhow::Context;
use clap::{Parser, Subcommand};
use secrecy::{ExposeSecret, SecretString};

use crate::{
    app::{app, AppState},
    config::{Config, Settings},
    domain::{
        api_key::NewKey, audit::Actor, clock::SystemClock, email::Email, session::RequestMeta,
        user::parse_name, workspace::WorkspaceRef, Error,
    },
    outbox::Worker,
    store, telemetry,
};

#[derive(Parser)]
#[command(name = "roster", version, about = "Self-hosted workspaces service")]
struct Cli {
    /// Optional TOML file with settings (flags and environment variables override it).
    #[arg(long, global = true, env = "ROSTER_CONFIG")]
    config: Option<PathBuf>,
    #[command(flatten)]
    settings: Settings,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the HTTP service (applies migrations first).
    Serve,
    /// Apply database migrations and exit.
    Migrate,
    /// Run only the workers (deliver queued mail and webhooks) until stopped.
    Worker,
    /// Manage user accounts.
    #[command(subcommand)]
    User(UserCommand),
    /// Manage workspaces.
    #[command(subcommand)]
    Workspace(WorkspaceCommand),
    /// Manage API keys.
    #[command(subcommand, name = "api-key")]
    ApiKey(ApiKeyCommand),
    /// Manage the JWT signing keys.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Check the audit log.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Write a consistent copy of the SQLite database to PATH, also while the service runs
    /// (on PostgreSQL, use pg_dump).
    Backup {
        /// The new file; an existing file is never overwritten.
        path: PathBuf,
    },
    /// Print the native OpenAPI document.
    Openapi,
    /// Print the resolved configuration, secrets redacted.
    PrintConfig,
}

#[derive(Subcommand)]
enum UserCommand {
    /// Create a user (and their personal workspace). The password is read from standard input.
    Create {
        #[arg(long)]
        email: String,
        #[arg(long)]
        name: String,
    },
    /// Set a user's password, read from standard input.
    SetPassword {
        #[arg(long)]
        email: String,
    },
    /// Mark a user's email address verified (audited).
    VerifyEmail {
        /// The account's email address.
        email: String,
    },
    /// Remove a user's second factor (TOTP secret and recovery codes), e.g. when they lost
    /// their authenticator; audited. They sign in with their password alone until they enrol.
    DisableMfa {
        /// The user's email.
        email: String,
    },
    /// Every user: email, name, verified, MFA, created.
    List {
        /// One JSON object per user, in an array.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum WorkspaceCommand {
    /// Put a workspace on a plan (one of the configured plans; see `print-config`).
    SetPlan {
        /// The workspace's id or slug.
        workspace: String,
        /// The plan, e.g. `free`, `developer`, `pro`, `enterprise`.
        plan: String,
    },
}

#[derive(Subcommand)]
enum KeysCommand {
    /// Start signing with a new key; older keys keep verifying until their tokens have expired.
    Rotate,
    /// List the stored keys: kid, created, retiring at, sealed, signing.
    List,
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Check the hash chain of one workspace, or of every workspace and account, and report
    /// the first broken link of each; exits non-zero if any is broken.
    Verify {
        /// The workspace's id or slug; every chain if absent.
        workspace: Option<String>,
    },
}

#[derive(Subcommand)]
enum ApiKeyCommand {
    /// Create an API key for a user and print its secret (shown once).
    Create {
        #[arg(long)]
        email: String,
        #[arg(long)]
        name: Option<String>,
        /// Lifetime, e.g. `90d`; no expiry if absent.
        #[arg(long)]
        expires_in: Option<String>,
        #[arg(long)]
        read_only: bool,
    },
}

/// Parses the command line and runs the command.
pub fn run() -> ExitCode {
    let cli = Cli::parse();
    let config = match Config::load(cli.settings.clone(), cli.config.as_ref()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(dispatch(cli.command, config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn dispatch(command: Command, config: Config) -> anyhow::Result<()> {
    match command {
        Command::Openapi => {
            println!("{}", crate::http::native_openapi().to_pretty_json()?);
            Ok(())
        }
        Command::PrintConfig => {
            print!("{}", config.redacted());
            Ok(())
        }
        Command::Serve => serve(config).await,
        Command::Backup { path } => backup(&config, &path).await,
        Command::Audit(AuditCommand::Verify { workspace }) => {
            let state = AppState::build(config, Arc::new(SystemClock)).await?;
            verify_audit(&state.core, workspace.as_deref()).await
        }
        Command::Worker => {
            telemetry::init_logging(config.log_format);
            let state = AppState::build(config, Arc::new(SystemClock)).await?;
            let worker = Worker::new(state.core.clone(), state.mailer()?);
            let hooks =
                crate::webhooks::Worker::new(state.core.clone(), state.config.webhook_timeout)?;
            tracing::info!("outbox and webhook workers running");
            let (stop, stopped) = tokio::sync::watch::channel(false);
            let interval = state.config.outbox_interval;
            let until_stopped = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
                let _ = rx.wait_for(|s| *s).await;
            };
            let hooks = tokio::spawn(hooks.run(interval, until_stopped(stopped.clone())));
            let mail = tokio::spawn(worker.run(interval, until_stopped(stopped)));
            shutdown_signal().await;
            let _ = stop.send(true);
            let _ = tokio::join!(hooks, mail);
            Ok(())
        }
        Command::Migrate => {
            telemetry::init_logging(config.log_format);
            AppState::build(config, Arc::new(SystemClock)).await?;
            println!("migrations applied");
            Ok(())
        }
        Command::User(cmd) => {
            let state = AppState::build(config, Arc::new(SystemClock)).await?;
            user(state, cmd).await
        }
        Command::Workspace(WorkspaceCommand::SetPlan { workspace, plan }) => {
            let state = AppState::build(config, Arc::new(SystemClock)).await?;
            let core = &state.core;
            let actor = Actor::new(None, &operator(), core.clock.now());
            let ws = core
                .set_plan(&WorkspaceRef::parse(&workspace), &plan, &actor)
                .await
                .map_err(|e| match e {
                    Error::NotFound => {
                        anyhow::anyhow!("no workspace with the id or slug {workspace:?}")
                    }
                    e => describe(e),
                })?;
            println!("workspace {} ({}) is on plan {}", ws.slug, ws.id, ws.plan);
            Ok(())
        }
        Command::Keys(cmd) => {
            let state = AppState::build(config, Arc::new(SystemClock)).await?;
            keys(&state, cmd).await
        }
        Command::ApiKey(ApiKeyCommand::Create {
            email,
            name,
            expires_in,
            read_only,
        }) => {
            let state = AppState::build(config, Arc::new(SystemClock)).await?;
            let core = &state.core;
            let email = Email::parse(&email).map_err(describe)?;
            let user_id = core
                .store
                .read()
                .credentials(email.key())
                .await?
                .map(|c| c.user_id)
                .context("no user with that email")?;
            let expires_at = expires_in
                .map(|d| -> anyhow::Result<_> {
                    let d = humantime::parse_duration(&d)
                        .context("--expires-in is a duration such as 90d")?;
                    Ok(core.clock.now() + chrono::Duration::from_std(d)?)
                })
                .transpose()?;
            let (key, secret) = core
                .create_api_key(
                    user_id,
                    NewKey {
                        name,
                        expires_at,
                        read_only,
                        description: None,
                    },
                    &operator(),
                )
                .await
                .map_err(describe)?;
            eprintln!("created API key {} ({})", key.id, key.prefix);
            println!("{secret}");
            Ok(())
        }
    }
}

/// `roster backup PATH`: SQLite's `VACUUM INTO`, a consistent copy taken inside one read
/// transaction, so writers carry on meanwhile. The database is not migrated first.
async fn backup(config: &Config, path: &std::path::Path) -> anyhow::Result<()> {
    let url = config.database_url.expose_secret();
    if store::kind_of(url) != store::Kind::Sqlite {
        anyhow::bail!(
            "roster backup copies SQLite databases; for PostgreSQL use pg_dump, for example:\n  \
             pg_dump --format=custom --file=roster.dump \"$ROSTER_DATABASE_URL\"\n\
             and restore into an empty database with:\n  \
             pg_restore --dbname=\"$ROSTER_DATABASE_URL\" roster.dump"
        );
    }
    if path.exists() {
        anyhow::bail!(
            "{} already exists; roster backup never overwrites a file: name a new one",
            path.display()
        );
    }
    let target = path
        .to_str()
        .context("the backup path must be valid UTF-8")?;
    let options = store::Options {
        max_connections: 1,
        sqlite_full_sync: false,
    };
    let store = store::connect(url, options)
        .await
        .context("cannot open the database named by ROSTER_DATABASE_URL (--database)")?;
    if !store.backup_into(target).await? {
        anyhow::bail!("this database has no online backup");
    }
    println!("backup written to {}", path.display());
    Ok(())
}

/// `roster audit verify [WS]`: one line per chain; an error when any chain is broken.
async fn verify_audit(core: &crate::domain::Core, workspace: Option<&str>) -> anyhow::Result<()> {
    let reports = match workspace {
        Some(ws) => vec![core
            .verify_workspace_chain(&WorkspaceRef::parse(ws))
            .await
            .map_err(|e| match e {
                Error::NotFound => anyhow::anyhow!("no workspace with the id or slug {ws:?}"),
                e => describe(e),
            })?],
        None => {
            let mut all = Vec::new();
            for chain in core.audit_chains().await.map_err(describe)? {
                all.push(core.verify_chain(chain).await.map_err(describe)?);
            }
            all
        }
    };
    let mut broken = 0;
    for r in &reports {
        let first = r.first_seq.unwrap_or(0);
        match &r.broken {
            None => println!(
                "ok      {} {}: {} events checked (seq {first} to {}), head {}{}",
                r.kind,
                r.chain_id,
                r.checked,
                r.head_seq,
                r.head_hash.as_deref().unwrap_or("-"),
                match r.unchained {
                    0 => String::new(),
                    n => format!("; {n} events from before the chain not covered"),
                }
            ),
            Some(b) => {
                broken += 1;
                let event = b.event_id.map_or("-".to_owned(), |id| id.to_string());
                println!(
                    "BROKEN  {} {}: event {event} at seq {}: {}: {}",
                    r.kind,
                    r.chain_id,
                    b.seq,
                    b.fault.as_str(),
                    b.detail
                );
            }
        }
    }
    if broken > 0 {
        anyhow::bail!("{broken} of {} audit chains are broken", reports.len());
    }
    println!("{} audit chains verified", reports.len());
    Ok(())
}

async fn user(state: AppState, cmd: UserCommand) -> anyhow::Result<()> {
    let core = &state.core;
    match cmd {
        UserCommand::Create { email, name } => {
            let password = read_password()?;
            crate::domain::password::validate("password", &password).map_err(describe)?;
            let email = Email::parse(&email).map_err(describe)?;
            let name = parse_name("name", &name).map_err(describe)?;
            let hash = core.passwords.hash(password).await.map_err(describe)?;
            let user = core
                .create_account(email, name, Some(hash), true, &operator())
                .await
                .map_err(describe)?;
            println!("{}", user.id);
        }
        UserCommand::SetPassword { email } => {
            let password = read_password()?;
            core.set_password(&email, password)
                .await
                .map_err(describe)?;
            println!("password set");
        }
        UserCommand::VerifyEmail { email } => {
            let user = core
                .mark_verified_by_operator(&email, &operator())
                .await
                .map_err(describe)?;
            println!("{} verified", user.email);
        }
        UserCommand::DisableMfa { email } => {
            core.operator_disable_mfa(&email, &operator())
                .await
                .map_err(describe)?;
            println!("two-factor authentication disabled for {email}");
        }
        UserCommand::List { json } => {
            let users = core.list_users().await.map_err(describe)?;
            let time = |t: chrono::DateTime<chrono::Utc>| {
                t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
            };
            if json {
                let rows: Vec<_> = users
                    .iter()
                    .map(|u| {
                        serde_json::json!({
                            "email": u.email, "name": u.name, "email_verified": u.email_verified,
                            "mfa": u.mfa_enabled, "created_at": time(u.created_at),
                        })
                    })
                    .collect();
                println!("{}", serde_json::Value::Array(rows));
            } else {
                println!(
                    "{:<40} {:<30} {:<8} {:<4} created",
                    "email", "name", "verified", "mfa"
                );
                let yes = |b: bool| if b { "yes" } else { "no" };
                for u in &users {
                    println!(
                        "{:<40} {:<30} {:<8} {:<4} {}",
                        u.email,
                        u.name,
                        yes(u.email_verified),
                        yes(u.mfa_enabled),
                        time(u.created_at),
                    );
                }
            }
        }
    }
    Ok(())
}

async fn keys(state: &AppState, cmd: KeysCommand) -> anyhow::Result<()> {
    let core = &state.core;
    match cmd {
        KeysCommand::Rotate => {
            let key = core.rotate_signing_key().await.map_err(describe)?;
            let retiring = core
                .signing_keys()
                .await
                .map_err(describe)?
                .into_iter()
                .filter_map(|k| k.retires_at)
                .max();
            println!("{}", key.kid);
            match retiring {
                Some(at) => eprintln!(
                    "new signing key {}; every replica signs with it within {}; older keys verify until {}",
                    key.kid,
                    humantime::format_duration(state.config.key_refresh_interval),
                    at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
                ),
                None => eprintln!("new signing key {}", key.kid),
            }
        }
        KeysCommand::List => {
            println!(
                "{:<18} {:<22} {:<22} {:<6} signing",
                "kid", "created", "retires", "sealed"
            );
            let time = |t: chrono::DateTime<chrono::Utc>| {
                t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
            };
            for k in core.signing_keys().await.map_err(describe)? {
                println!(
                    "{:<18} {:<22} {:<22} {:<6} {}",
                    k.kid,
                    time(k.created_at),
                    k.retires_at.map_or_else(|| "-".to_owned(), time),
                    if k.sealed { "yes" } else { "no" },
                    if k.signing { "yes" } else { "no" },
                );
            }
        }
    }
    Ok(())
}

/// The request metadata of an operator command, as audit events record it.
fn operator() -> RequestMeta {
    RequestMeta {
        ip: None,
        user_agent: Some("roster-cli".into()),
    }
}

fn read_password() -> anyhow::Result<SecretString> {
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .context("cannot read the password from standard input")?;
    Ok(SecretString::from(
        line.trim_end_matches(['\r', '\n']).to_owned(),
    ))
}

/// Turns a domain error into an operator-readable message.
fn describe(e: Error) -> anyhow::Error {
    match e {
        Error::Validation(fields) => anyhow::anyhow!(
            "{}",
            fields
                .iter()
                .map(|f| format!("{}: {}", f.field, f.message))
                .collect::<Vec<_>>()
                .join("; ")
        ),
        Error::NotFound => anyhow::anyhow!("no such user"),
        other => anyhow::anyhow!("{other}"),
    }
}

/// How many connections may wait to be accepted (the kernel may cap it lower, at
/// `net.core.somaxconn`): a burst of new connections queues rather than being dropped, which
/// would cost each dropped client a one-second SYN retry.
const LISTEN_BACKLOG: u32 = 4096;

/// A listening socket on `addr` (address reuse on, as `TcpListener::bind` does).
fn listen_on(addr: std::net::SocketAddr) -> std::io::Result<tokio::net::TcpListener> {
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(LISTEN_BACKLOG)
}

async fn serve(config: Config) -> anyhow::Result<()> {
    telemetry::init_logging(config.log_format);
    let listen = config.listen;
    let state = AppState::build(config, Arc::new(SystemClock)).await?;
    let listener = listen_on(listen).with_context(|| {
        format!("cannot listen on {listen}; choose another address with ROSTER_LISTEN (--listen)")
    })?;
    tracing::info!(
        address = %listener.local_addr()?,
        public_url = %state.config.public_url,
        backend = ?state.core.store.kind(),
        "roster listening"
    );
    if !state.config.public_url_configured {
        tracing::warn!(
            public_url = %state.config.public_url,
            issuer = %state.core.keys.issuer(),
            "no ROSTER_PUBLIC_URL (--public-url) set: invitation links name this process's listen \
             address, and tokens carry the issuer fixed in the database at the first start; \
             behind a load balancer, set ROSTER_PUBLIC_URL to the address clients use"
        );
    }
    let (stop_worker, worker_stopped) = tokio::sync::oneshot::channel::<()>();
    let worker = if state.config.outbox_worker {
        let worker = Worker::new(state.core.clone(), state.mailer()?);
        let interval = state.config.outbox_interval;
        Some(tokio::spawn(worker.run(interval, async {
            let _ = worker_stopped.await;
        })))
    } else {
        None
    };
    let (stop_hooks, hooks_stopped) = tokio::sync::oneshot::channel::<()>();
    let hooks = if state.config.webhook_worker {
        let hooks = crate::webhooks::Worker::new(state.core.clone(), state.config.webhook_timeout)?;
        let interval = state.config.outbox_interval;
        Some(tokio::spawn(hooks.run(interval, async {
            let _ = hooks_stopped.await;
        })))
    } else {
        None
    };
    let limits = state.config.connections;
    crate::server::serve(listener, app(state), limits, shutdown_signal()).await;
    let _ = stop_worker.send(());
    let _ = stop_hooks.send(());
    if let Some(worker) = worker {
        let _ = worker.await;
    }
    if let Some(hooks) = hooks {
        let _ = hooks.await;
    }
    tracing::info!("shut down");
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutdown requested; finishing in-flight requests");
}
