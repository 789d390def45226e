//! The second factor: TOTP (RFC 6238: HMAC-SHA-1, 6 digits, 30 s steps, ±1 step of drift)
//! with ten one-time recovery codes; enrolling, confirming, disabling, regenerating codes; the
//! sign-in ticket an enrolled account gets instead of tokens, and completing it. A code works
//! once (its step is spent with a conditional update), a recovery code once; wrong codes are
//! counted per ticket and per user in the database.

use chrono::{DateTime, Duration, Utc};
use qrcode::{render::svg, EcLevel, QrCode};
use rand::{rngs::OsRng, RngCore};
use subtle::ConstantTimeEq;
use totp_rs::{Algorithm, Secret, TOTP};
use uuid::Uuid;

use super::{
    audit::{self, Actor},
    auth::Principal,
    email::Email,
    policy::{self, RateLimit},
    secret,
    session::{RequestMeta, SignedIn},
    Core, Error, Result,
};
use crate::store::{TotpFactorRow, Tx};

/// The issuer authenticator apps show beside the account.
pub const ISSUER: &str = "Roster";
/// Seconds per TOTP step.
const STEP_SECS: i64 = 30;
const DIGITS: usize = 6;
/// Bytes of a TOTP secret (160 bits, what RFC 4226 recommends for HMAC-SHA-1).
const SECRET_LEN: usize = 20;
/// Recovery codes handed out at confirmation (and at each regeneration).
pub const RECOVERY_CODES: usize = 10;
/// Bytes of a recovery code (80 bits: 16 base32 characters, typed in groups of four).
const RECOVERY_CODE_LEN: usize = 10;
/// Prefix of sign-in tickets, so a leaked one is recognisable.
pub const TICKET_PREFIX: &str = "mfa_";
/// How long a sign-in ticket may be completed.
pub const TICKET_TTL: Duration = Duration::minutes(5);
/// Wrong codes that close a ticket (the password must be given again).
pub const TICKET_MAX_FAILURES: i64 = 5;
/// Wrong codes per user per window after which every further try is refused until it ends.
pub const USER_MAX_FAILURES: u32 = 10;
/// The window wrong codes are counted in (seconds).
pub const USER_FAILURE_WINDOW_SECS: i64 = 15 * 60;

/// A freshly issued, pending TOTP secret: shown once, for the authenticator app.
#[derive(Debug, Clone)]
pub struct Enrolment {
    /// The secret in base32 (unpadded), for typing in by hand.
    pub secret: String,
    pub otpauth_uri: String,
    /// The `otpauth://` URI as a QR code, an SVG document.
    pub qr_svg: String,
}

/// Where a user's second factor stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MfaStatus {
    pub enabled: bool,
    /// A secret was issued and awaits its first code.
    pub pending: bool,
    pub confirmed_at: Option<DateTime<Utc>>,
    pub recovery_codes_left: u64,
}

/// What proves the second factor.
#[derive(Debug, Clone)]
pub enum SecondFactor {
    /// A 6-digit code from the authenticator.
    Code(String),
    /// One of the recovery codes.
    RecoveryCode(String),
}

impl SecondFactor {
    /// From a request carrying exactly one of `code` and `recovery_code`.
    pub fn from_fields(code: Option<String>, recovery_code: Option<String>) -> Result<Self> {
        match (code, recovery_code) {
            (Some(code), None) => Ok(SecondFactor::Code(code)),
            (None, Some(code)) => Ok(SecondFactor::RecoveryCode(code)),
            _ => Err(Error::invalid(
                "code",
                "required",
                "give exactly one of `code` and `recovery_code`",
            )),
        }
    }

    /// The proof with its shape checked: a code's digits, a recovery code's hash.
    fn parse(self) -> Result<Proof> {
        Ok(match self {
            SecondFactor::Code(code) => Proof::Code(parse_code(&code)?),
            SecondFactor::RecoveryCode(code) => Proof::RecoveryCode(parse_recovery_code(&code)?),
        })
    }
}

/// A second factor whose shape has been checked.
enum Proof {
    Code(String),
    /// The SHA-256 of the normalised recovery code.
    RecoveryCode(Vec<u8>),
}

impl Proof {
    fn method(&self) -> &'static str {
        match self {
            Proof::Code(_) => "totp",
            Proof::RecoveryCode(_) => "recovery_code",
        }
    }
}

/// A sign-in that awaits its second factor: the ticket `POST /v1/auth/mfa` completes.
#[derive(Debug, Clone)]
pub struct MfaChallenge {
    pub ticket: String,
    pub expires_at: DateTime<Utc>,
}

/// What a password sign-in leads to.
#[derive(Debug, Clone)]
pub enum Login {
    /// Tokens: the account has no second factor.
    SignedIn(Box<SignedIn>),
    /// The account has a second factor: no tokens until it is given.
    MfaRequired(MfaChallenge),
}

impl Login {
    /// The tokens, for a surface that has no second step: an account with a second factor is
    /// refused (`mfa_required`) and gets no tokens there.
    pub fn without_second_step(self) -> Result<SignedIn> {
        match self {
            Login::SignedIn(signed_in) => Ok(*signed_in),
            Login::MfaRequired(_) => Err(Error::forbidden(
                "mfa_required",
                "this account uses two-factor authentication, which this API cannot complete; \
                 sign in through POST /v1/auth/login and POST /v1/auth/mfa",
            )),
        }
    }
}

/// The refusal of a workspace that requires MFA, to a member without it.
pub fn mfa_required() -> Error {
    Error::forbidden(
        "mfa_required",
        "this workspace requires two-factor authentication; enrol with POST /v1/me/mfa/totp",
    )
}

fn wrong_code() -> Error {
    Error::rejected(
        "mfa_code_invalid",
        "the code is wrong, expired or already used",
    )
}

fn ticket_invalid() -> Error {
    Error::rejected(
        "mfa_ticket_invalid",
        "the MFA ticket is unknown, expired, already used or closed after too many wrong codes; \
         sign in again",
    )
}

fn not_enabled() -> Error {
    Error::conflict(
        "mfa_not_enabled",
        "two-factor authentication is not enabled",
    )
}

fn session_required() -> Error {
    Error::forbidden(
        "session_required",
        "two-factor authentication is managed with a signed-in session, not an API key",
    )
}

/// A 6-digit code, spaces allowed between digits.
fn parse_code(raw: &str) -> Result<String> {
    let code: String = raw.chars().filter(|c| *c != ' ').collect();
    if code.len() == DIGITS && code.bytes().all(|b| b.is_ascii_digit()) {
        Ok(code)
    } else {
        Err(Error::invalid("code", "invalid", "a code is 6 digits"))
    }
}

/// A recovery code as stored: lower case, dashes and spaces dropped.
fn parse_recovery_code(raw: &str) -> Result<Vec<u8>> {
    let code: String = raw
        .chars()
        .filter(|c| *c != '-' && *c != ' ')
        .map(|c| c.to_ascii_lowercase())
        .collect();
    if code.len() == 16 && code.bytes().all(|b| matches!(b, b'a'..=b'z' | b'2'..=b'7')) {
        Ok(secret::hash(&code))
    } else {
        Err(Error::invalid(
            "recovery_code",
            "invalid",
            "a recovery code is 16 letters and digits, as xxxx-xxxx-xxxx-xxxx",
        ))
    }
}

/// A sign-in ticket's hash, once it looks like one.
fn parse_ticket(raw: &str) -> Result<Vec<u8>> {
    if raw.starts_with(TICKET_PREFIX) && raw.len() <= 100 && raw.is_ascii() {
        Ok(secret::hash(raw))
    } else {
        Err(Error::invalid(
            "ticket",
            "invalid",
            "not an MFA ticket (they start with `mfa_`)",
        ))
    }
}

/// New recovery codes: what the user is shown, and what is stored.
fn new_recovery_codes() -> Vec<(String, Vec<u8>)> {
    (0..RECOVERY_CODES)
        .map(|_| {
            let mut bytes = [0u8; RECOVERY_CODE_LEN];
            OsRng.fill_bytes(&mut bytes);
            let plain = match Secret::Raw(bytes.to_vec()).to_encoded() {
                Secret::Encoded(text) => text.to_ascii_lowercase(),
                Secret::Raw(_) => unreachable!("to_encoded gives an encoded secret"),
            };
            let shown = plain
                .as_bytes()
                .chunks(4)
                .map(|c| String::from_utf8_lossy(c).into_owned())
                .collect::<Vec<_>>()
                .join("-");
            (shown, secret::hash(&plain))
        })
        .collect()
}

fn totp(secret: Vec<u8>, account: &str) -> TOTP {
    TOTP::new_unchecked(
        Algorithm::SHA1,
        DIGITS,
        0,
        STEP_SECS.unsigned_abs(),
        secret,
        Some(ISSUER.to_owned()),
        account.replace(':', ""),
    )
}

/// The step a code belongs to, among the current one and one either side, that is later than
/// `after` (a spent step never matches again).
fn matching_step(secret: &[u8], code: &str, now: DateTime<Utc>, after: i64) -> Option<i64> {
    let current = now.timestamp().div_euclid(STEP_SECS);
    let generator = totp(secret.to_vec(), "");
    let mut found = None;
    for step in [current - 1, current, current + 1] {
        let Ok(time) = u64::try_from(step * STEP_SECS) else {
            continue;
        };
        let expected = generator.generate(time);
        if bool::from(expected.as_bytes().ct_eq(code.as_bytes())) && step > after {
            found = Some(step);
        }
    }
    found
}

/// The associated data a user's sealed secret is bound to.
fn seal_label(user_id: Uuid) -> String {
    format!("totp:{user_id}")
}

/// The counter of a user's wrong codes.
fn failure_limit(user_id: Uuid) -> RateLimit {
    RateLimit {
        bucket: format!("mfa_failures:{user_id}"),
        window_secs: USER_FAILURE_WINDOW_SECS,
        limit: USER_MAX_FAILURES,
    }
}

impl Core {
    /// The secret of a stored factor, opened when sealed.
    fn totp_secret(&self, user_id: Uuid, row: &TotpFactorRow) -> Result<Vec<u8>> {
        if !row.sealed {
            return Ok(row.secret.clone());
        }
        let kek = self.keys.kek().ok_or_else(|| {
            Error::Internal(anyhow::anyhow!(
                "a TOTP secret is sealed; set ROSTER_KEY_ENCRYPTION_KEY to the key that sealed it"
            ))
        })?;
        kek.open(&seal_label(user_id), &row.secret)
            .map_err(|e| Error::Internal(anyhow::anyhow!("TOTP secret of {user_id}: {e}")))
    }

    /// Checks a second factor inside `tx`, charging the attempt to the user's counter of wrong
    /// codes first (`RateLimited` once it is full: nothing is checked then). A right code has
    /// its step spent (`confirming` a pending factor, or on an enabled one), a right recovery
    /// code is spent, and the attempt is uncounted; `false` for a wrong one, which stays
    /// counted once the caller commits.
    async fn check_second_factor(
        &self,
        tx: &mut Tx<'_>,
        user_id: Uuid,
        factor: &TotpFactorRow,
        proof: &Proof,
        now: DateTime<Utc>,
    ) -> Result<bool> {
        let limit = failure_limit(user_id);
        policy::charge(tx, std::slice::from_ref(&limit), now).await?;
        let right = match proof {
            Proof::Code(code) => {
                let secret = self.totp_secret(user_id, factor)?;
                match matching_step(&secret, code, now, factor.last_used_step) {
                    Some(step) if factor.confirmed_at.is_none() => {
                        tx.confirm_totp(user_id, step, now).await?
                    }
                    Some(step) => tx.spend_totp_step(user_id, step).await?,
                    None => false,
                }
            }
            Proof::RecoveryCode(hash) => {
                factor.confirmed_at.is_some() && tx.spend_recovery_code(user_id, hash, now).await?
            }
        };
        if right {
            policy::refund(tx, &limit, now).await?;
        }
        Ok(right)
    }

    /// Issues a new pending TOTP secret to the signed-in user (replacing a pending one);
    /// `mfa_already_enabled` when they have a confirmed factor. Sealed at rest when a
    /// key-encryption key is configured.
    pub async fn enrol_totp(&self, principal: &Principal, meta: &RequestMeta) -> Result<Enrolment> {
        principal.session_id().ok_or_else(session_required)?;
        let user_id = principal.user_id;
        let me = self.me(user_id).await?;
        let mut raw = vec![0u8; SECRET_LEN];
        OsRng.fill_bytes(&mut raw);
        let generator = totp(raw.clone(), &me.email);
        let otpauth_uri = generator.get_url();
        let qr_svg = QrCode::with_error_correction_level(otpauth_uri.as_bytes(), EcLevel::M)
            .map_err(|e| Error::Internal(anyhow::anyhow!("QR code: {e}")))?
            .render::<svg::Color<'_>>()
            .min_dimensions(200, 200)
            .build();
        let (stored, sealed) = match self.keys.kek() {
            Some(kek) => (
                kek.seal(&seal_label(user_id), &raw)
                    .map_err(|e| Error::Internal(anyhow::anyhow!("sealing a TOTP secret: {e}")))?,
                true,
            ),
            None => (raw, false),
        };
        let actor = self.actor(Some(user_id), meta);
        let mut tx = self.store.write().await?;
        if !tx
            .put_pending_totp(user_id, &stored, sealed, actor.at)
            .await?
        {
            return Err(Error::conflict(
                "mfa_already_enabled",
                "two-factor authentication is already enabled; disable it first",
            ));
        }
        audit::record(&mut tx, &audit::mfa_totp_enrolled(&actor, user_id)).await?;
        tx.commit().await?;
        Ok(Enrolment {
            secret: generator.get_secret_base32(),
            otpauth_uri,
            qr_svg,
        })
    }

    /// Confirms the pending secret with a first code: MFA is on, and the ten recovery codes
    /// are answered (shown this once; stored hashed). `mfa_not_pending` without a pending
    /// secret; a wrong code is `mfa_code_invalid`, counted against the user's wrong codes.
    pub async fn confirm_totp(
        &self,
        principal: &Principal,
        code: &str,
        meta: &RequestMeta,
    ) -> Result<Vec<String>> {
        principal.session_id().ok_or_else(session_required)?;
        let code = Proof::Code(parse_code(code)?);
        let user_id = principal.user_id;
        let actor = self.actor(Some(user_id), meta);
        let mut tx = self.store.write().await?;
        let factor = match tx.totp_factor(user_id).await? {
            Some(f) if f.confirmed_at.is_none() => f,
            _ => {
                return Err(Error::conflict(
                    "mfa_not_pending",
                    "no TOTP secret awaits confirmation; enrol with POST /v1/me/mfa/totp",
                ))
            }
        };
        if !self
            .check_second_factor(&mut tx, user_id, &factor, &code, actor.at)
            .await?
        {
            tx.commit().await?;
            return Err(wrong_code());
        }
        let codes = replace_recovery_codes(&mut tx, user_id, actor.at).await?;
        audit::record(&mut tx, &audit::mfa_enabled(&actor, user_id, codes.len())).await?;
        tx.commit().await?;
        Ok(codes)
    }

    /// Where the user's second factor stands.
    pub async fn mfa_status(&self, user_id: Uuid) -> Result<MfaStatus> {
        let mut db = self.store.read();
        let factor = db.totp_factor(user_id).await?;
        let confirmed_at = factor.as_ref().and_then(|f| f.confirmed_at).map(|t| t.0);
        let recovery_codes_left = if confirmed_at.is_some() {
            db.recovery_codes_left(user_id).await?
        } else {
            0
        };
        Ok(MfaStatus {
            enabled: confirmed_at.is_some(),
            pending: factor.is_some() && confirmed_at.is_none(),
            confirmed_at,
            recovery_codes_left,
        })
    }

    /// Turns the user's second factor off, given a current code or a recovery code: the
    /// secret and the recovery codes go.
    pub async fn disable_mfa(
        &self,
        principal: &Principal,
        proof: SecondFactor,
        meta: &RequestMeta,
    ) -> Result<()> {
        principal.session_id().ok_or_else(session_required)?;
        let proof = proof.parse()?;
        let user_id = principal.user_id;
        let actor = self.actor(Some(user_id), meta);
        let mut tx = self.store.write().await?;
        let factor = enabled_factor(&mut tx, user_id).await?;
        if !self
            .check_second_factor(&mut tx, user_id, &factor, &proof, actor.at)
            .await?
        {
            tx.commit().await?;
            return Err(wrong_code());
        }
        tx.delete_totp(user_id).await?;
        tx.delete_recovery_codes(user_id).await?;
        audit::record(
            &mut tx,
            &audit::mfa_disabled(&actor, user_id, proof.method()),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Replaces the user's recovery codes with ten new ones, given a current code.
    pub async fn regenerate_recovery_codes(
        &self,
        principal: &Principal,
        code: &str,
        meta: &RequestMeta,
    ) -> Result<Vec<String>> {
        principal.session_id().ok_or_else(session_required)?;
        let code = Proof::Code(parse_code(code)?);
        let user_id = principal.user_id;
        let actor = self.actor(Some(user_id), meta);
        let mut tx = self.store.write().await?;
        let factor = enabled_factor(&mut tx, user_id).await?;
        if !self
            .check_second_factor(&mut tx, user_id, &factor, &code, actor.at)
            .await?
        {
            tx.commit().await?;
            return Err(wrong_code());
        }
        let codes = replace_recovery_codes(&mut tx, user_id, actor.at).await?;
        audit::record(
            &mut tx,
            &audit::mfa_recovery_codes_regenerated(&actor, user_id, codes.len()),
        )
        .await?;
        tx.commit().await?;
        Ok(codes)
    }

    /// Issues the ticket a sign-in answers for an account with a second factor.
    pub(super) async fn mfa_challenge(&self, user_id: Uuid) -> Result<MfaChallenge> {
        let now = self.clock.now();
        let ticket = secret::generate(TICKET_PREFIX);
        let expires_at = now + TICKET_TTL;
        self.store
            .read()
            .insert_mfa_ticket(&ticket.hash, user_id, now, expires_at)
            .await?;
        Ok(MfaChallenge {
            ticket: ticket.text,
            expires_at,
        })
    }

    /// Completes a sign-in with its ticket and a second factor: the session starts and its
    /// tokens are answered, as a sign-in without MFA would. The ticket works once, for
    /// `TICKET_TTL`, and closes after `TICKET_MAX_FAILURES` wrong codes; every wrong code also
    /// counts against the user (`USER_MAX_FAILURES` per window, then 429).
    pub async fn complete_mfa(
        &self,
        ticket: &str,
        proof: SecondFactor,
        meta: &RequestMeta,
    ) -> Result<SignedIn> {
        let hash = parse_ticket(ticket)?;
        let proof = proof.parse()?;
        let now = self.clock.now();
        let mut tx = self.store.write().await?;
        let found = tx.mfa_ticket(&hash).await?.ok_or_else(ticket_invalid)?;
        if found.used_at.is_some()
            || found.expires_at.0 <= now
            || found.failures >= TICKET_MAX_FAILURES
        {
            return Err(ticket_invalid());
        }
        let user_id = found.user_id;
        let actor = Actor::new(Some(user_id), meta, now);
        let factor = match tx.totp_factor(user_id).await? {
            Some(f) if f.confirmed_at.is_some() => f,
            // The factor was removed since the password was checked: sign in again.
            _ => return Err(ticket_invalid()),
        };
        if !self
            .check_second_factor(&mut tx, user_id, &factor, &proof, now)
            .await?
        {
            tx.fail_mfa_ticket(&hash).await?;
            tx.commit().await?;
            return Err(wrong_code());
        }
        if !tx.spend_mfa_ticket(&hash, TICKET_MAX_FAILURES, now).await? {
            return Err(ticket_invalid());
        }
        if let Proof::RecoveryCode(_) = proof {
            let left = tx.recovery_codes_left(user_id).await?;
            audit::record(
                &mut tx,
                &audit::mfa_recovery_code_used(&actor, user_id, left),
            )
            .await?;
        }
        let opened = self.open_session(&mut tx, user_id, None, &actor).await?;
        tx.commit().await?;
        self.session_signed_in(opened).await
    }

    /// Removes a user's second factor and recovery codes (operator command); `mfa_not_enabled`
    /// when they have none, `NotFound` for no such user.
    pub async fn operator_disable_mfa(&self, email: &str, meta: &RequestMeta) -> Result<()> {
        let email = Email::parse(email)?;
        let actor = self.actor(None, meta);
        let mut tx = self.store.write().await?;
        let user_id = tx
            .credentials(email.key())
            .await?
            .ok_or(Error::NotFound)?
            .user_id;
        if !tx.delete_totp(user_id).await? {
            return Err(not_enabled());
        }
        tx.delete_recovery_codes(user_id).await?;
        audit::record(&mut tx, &audit::mfa_disabled(&actor, user_id, "operator")).await?;
        tx.commit().await?;
        Ok(())
    }
}

/// The user's confirmed factor, or `mfa_not_enabled`.
async fn enabled_factor(tx: &mut Tx<'_>, user_id: Uuid) -> Result<TotpFactorRow> {
    match tx.totp_factor(user_id).await? {
        Some(f) if f.confirmed_at.is_some() => Ok(f),
        _ => Err(not_enabled()),
    }
}

/// Replaces the user's recovery codes with a new set; the codes to show.
async fn replace_recovery_codes(
    tx: &mut Tx<'_>,
    user_id: Uuid,
    now: DateTime<Utc>,
) -> Result<Vec<String>> {
    tx.delete_recovery_codes(user_id).await?;
    let mut shown = Vec::with_capacity(RECOVERY_CODES);
    for (code, hash) in new_recovery_codes() {
        tx.insert_recovery_code(user_id, &hash, now).await?;
        shown.push(code);
    }
    Ok(shown)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_match_their_step_and_one_either_side_only_once_spent_steps_are_past() {
        let secret = vec![7u8; SECRET_LEN];
        let now = DateTime::from_timestamp(1_700_000_000, 0).expect("time");
        let step = now.timestamp() / STEP_SECS;
        let code_at = |s: i64| totp(secret.clone(), "").generate((s * STEP_SECS) as u64);
        assert_eq!(matching_step(&secret, &code_at(step), now, 0), Some(step));
        assert_eq!(
            matching_step(&secret, &code_at(step - 1), now, 0),
            Some(step - 1)
        );
        assert_eq!(
            matching_step(&secret, &code_at(step + 1), now, 0),
            Some(step + 1)
        );
        assert_eq!(matching_step(&secret, &code_at(step - 2), now, 0), None);
        assert_eq!(matching_step(&secret, &code_at(step + 2), now, 0), None);
        assert_eq!(matching_step(&secret, &code_at(step), now, step), None);
    }

    #[test]
    fn recovery_codes_are_ten_distinct_groups_of_four_that_parse_back_to_their_hash() {
        let codes = new_recovery_codes();
        assert_eq!(codes.len(), RECOVERY_CODES);
        for (shown, hash) in &codes {
            assert_eq!(shown.len(), 19, "{shown}");
            assert_eq!(&parse_recovery_code(shown).expect("parses"), hash);
            assert_eq!(
                &parse_recovery_code(&shown.to_uppercase().replace('-', " ")).expect("parses"),
                hash
            );
        }
        let mut hashes: Vec<_> = codes.iter().map(|c| c.1.clone()).collect();
        hashes.dedup();
        assert_eq!(hashes.len(), RECOVERY_CODES);
        assert!(parse_recovery_code("not-a-code").is_err());
        assert!(parse_code("12345").is_err());
        assert!(parse_code("１２３４５６").is_err());
        assert_eq!(parse_code("123 456").expect("code"), "123456");
    }
}
