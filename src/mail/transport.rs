//! Delivering a rendered message: over SMTP, or into a folder for development.

use std::path::PathBuf;

use async_trait::async_trait;
use lettre::{
    message::{header::ContentType, Mailbox, MultiPart, SinglePart},
    AsyncFileTransport, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor,
};

use super::Mail;

/// Something that delivers mail; an error means "not delivered, try again later".
#[async_trait]
pub trait Mailer: Send + Sync {
    async fn send(&self, mail: &Mail) -> anyhow::Result<()>;
}

fn build(from: &Mailbox, mail: &Mail) -> anyhow::Result<Message> {
    Ok(Message::builder()
        .from(from.clone())
        .to(mail.to.parse()?)
        .subject(&mail.subject)
        .multipart(
            MultiPart::alternative()
                .singlepart(
                    SinglePart::builder()
                        .header(ContentType::TEXT_PLAIN)
                        .body(mail.text.clone()),
                )
                .singlepart(
                    SinglePart::builder()
                        .header(ContentType::TEXT_HTML)
                        .body(mail.html.clone()),
                ),
        )?)
}

/// Delivers through an SMTP server (`smtp://host:port`, `smtps://…`, with optional
/// `user:password@`).
pub struct SmtpMailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl SmtpMailer {
    pub fn new(url: &str, from: Mailbox) -> anyhow::Result<Self> {
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)?
            .timeout(Some(std::time::Duration::from_secs(20)))
            .build();
        Ok(SmtpMailer { transport, from })
    }
}

#[async_trait]
impl Mailer for SmtpMailer {
    async fn send(&self, mail: &Mail) -> anyhow::Result<()> {
        self.transport.send(build(&self.from, mail)?).await?;
        Ok(())
    }
}

/// Writes each message as an `.eml` file into a folder and logs its path.
pub struct FileMailer {
    transport: AsyncFileTransport<Tokio1Executor>,
    dir: PathBuf,
    from: Mailbox,
}

impl FileMailer {
    pub fn new(dir: PathBuf, from: Mailbox) -> anyhow::Result<Self> {
        std::fs::create_dir_all(&dir)?;
        Ok(FileMailer {
            transport: AsyncFileTransport::new(&dir),
            dir,
            from,
        })
    }
}

#[async_trait]
impl Mailer for FileMailer {
    async fn send(&self, mail: &Mail) -> anyhow::Result<()> {
        let id = self.transport.send(build(&self.from, mail)?).await?;
        let path = self.dir.join(format!("{id}.eml"));
        tracing::info!(path = %path.display(), to = %mail.to, "mail written (no SMTP server configured)");
        Ok(())
    }
}
