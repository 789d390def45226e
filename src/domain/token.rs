//! Access tokens: EdDSA (Ed25519) JWTs signed with keys kept in the database, so that every
//! replica signs and verifies alike; rotation (the newest current key signs, retiring keys
//! verify until their last token has expired) and the issuer fixed once per deployment.

use std::{collections::HashMap, time::Instant};

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use chrono::{DateTime, Duration, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use ring::{
    rand::SystemRandom,
    signature::{Ed25519KeyPair, KeyPair},
};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::sync::{Mutex, RwLock};
use uuid::Uuid;

use super::{key_seal::KeyEncryptionKey, Core, Error, Result};
use crate::store::Store;

/// The `typ` header of an access token (RFC 9068).
pub const ACCESS_TYP: &str = "at+jwt";
/// The `aud` of every access token.
pub const AUDIENCE: &str = "roster";
/// The most clock skew tolerated when checking `exp`.
pub const LEEWAY_SECS: i64 = 5;
/// How many verified tokens are remembered (their signature checks are skipped on a hit).
const VERIFIED_CACHE: usize = 10_000;
/// How often an unknown `kid` may trigger a reload of the keys from the database.
const RELOAD_INTERVAL: std::time::Duration = std::time::Duration::from_secs(1);
/// The `service_settings` entry of the issuer fixed at the first start without a public URL.
const ISSUER_SETTING: &str = "jwt_issuer";

/// A signing key as stored.
#[derive(Clone)]
pub struct SigningKey {
    pub kid: String,
    /// PKCS#8 v2 document of the Ed25519 key pair, or (when `sealed`) its encryption.
    pub private_der: Vec<u8>,
    /// The raw 32-byte public key.
    pub public_raw: Vec<u8>,
    pub created_at: DateTime<Utc>,
    /// When it stops verifying (set when a newer key replaces it); `None` while current.
    pub retires_at: Option<DateTime<Utc>>,
    /// Whether `private_der` is sealed with the key-encryption key (`key_seal`).
    pub sealed: bool,
}

impl SigningKey {
    /// Generates a new Ed25519 key pair from the OS RNG.
    pub fn generate(now: DateTime<Utc>) -> Result<SigningKey> {
        let rng = SystemRandom::new();
        let doc = Ed25519KeyPair::generate_pkcs8(&rng)
            .map_err(|_| anyhow::anyhow!("cannot generate an Ed25519 key"))?;
        let pair = Ed25519KeyPair::from_pkcs8(doc.as_ref())
            .map_err(|_| anyhow::anyhow!("generated Ed25519 key does not parse"))?;
        let public_raw = pair.public_key().as_ref().to_vec();
        let kid = URL_SAFE_NO_PAD.encode(&Sha256::digest(&public_raw)[..12]);
        Ok(SigningKey {
            kid,
            private_der: doc.as_ref().to_vec(),
            public_raw,
            created_at: now,
            retires_at: None,
            sealed: false,
        })
    }

    /// This key with its private half sealed under `kek`, if one is given (and it is not yet).
    pub fn sealed_with(mut self, kek: Option<&KeyEncryptionKey>) -> Result<SigningKey> {
        if let (Some(kek), false) = (kek, self.sealed) {
            self.private_der = kek
                .seal(&self.kid, &self.private_der)
                .map_err(anyhow::Error::from)?;
            self.sealed = true;
        }
        Ok(self)
    }

    /// The PKCS#8 document, opened with `kek` when sealed.
    fn private_pkcs8(&self, kek: Option<&KeyEncryptionKey>) -> Result<Vec<u8>> {
        if !self.sealed {
            return Ok(self.private_der.clone());
        }
        let kek = kek.ok_or_else(|| super::key_seal::SealError::Missing {
            kid: self.kid.clone(),
        });
        Ok(kek
            .and_then(|k| k.open(&self.kid, &self.private_der))
            .map_err(anyhow::Error::from)?)
    }
}

/// A stored key as an operator sees it (`roster keys list`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyInfo {
    pub kid: String,
    pub created_at: DateTime<Utc>,
    pub retires_at: Option<DateTime<Utc>>,
    pub sealed: bool,
    /// Whether this process signs with it now.
    pub signing: bool,
}

/// The claims of an access token.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AccessClaims {
    pub iss: String,
    pub aud: String,
    /// The user.
    pub sub: Uuid,
    /// The session; checked against the database on every request.
    pub sid: Uuid,
    /// The workspace the session is bound to, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ws: Option<Uuid>,
    pub iat: i64,
    pub exp: i64,
    /// Always `access`; other token kinds never verify as access tokens.
    pub typ: String,
}

/// How the key ring is set up.
#[derive(Debug, Clone)]
pub struct KeyRingSettings {
    pub issuer: String,
    /// Lifetime of an access token.
    pub ttl: Duration,
    /// How often every process re-reads the keys, so that it signs with a rotated key within
    /// this time (see `Core::rotate_signing_key`).
    pub refresh: Duration,
    /// Seals new private keys, and opens sealed ones.
    pub kek: Option<KeyEncryptionKey>,
}

struct Verifying {
    key: DecodingKey,
    x: String,
    retires_at: Option<DateTime<Utc>>,
}

struct Keys {
    signing: Option<(String, EncodingKey)>,
    verifying: HashMap<String, Verifying>,
    stored: Vec<SigningKey>,
}

/// The service's signing keys: the newest current one signs, every unretired one verifies.
pub struct KeyRing {
    store: Store,
    settings: KeyRingSettings,
    keys: RwLock<Keys>,
    last_reload: Mutex<Option<Instant>>,
    /// Tokens whose signature and claims checked out, by SHA-256 of the token. A token is
    /// immutable, so its signature stays valid; everything that can change — expiry against the
    /// clock, and the session, read from the database on every request — is still checked on
    /// every use. Only the Ed25519 verification is skipped. (A key retires only after every
    /// token it signed has expired, so a remembered token never outlives its key.)
    verified: Mutex<HashMap<[u8; 32], AccessClaims>>,
}

impl KeyRing {
    /// Loads the keys from the store (the bootstrap at migration time made sure one exists).
    /// A sealed signing key that the configured key-encryption key cannot open is an error.
    pub async fn load(store: Store, settings: KeyRingSettings) -> Result<KeyRing> {
        let keys = build(store.read().signing_keys().await?, settings.kek.as_ref())?;
        if keys.signing.is_none() {
            return Err(Error::Internal(anyhow::anyhow!(
                "no signing key in the database; run `roster migrate`"
            )));
        }
        Ok(KeyRing {
            store,
            settings,
            keys: RwLock::new(keys),
            last_reload: Mutex::new(None),
            verified: Mutex::new(HashMap::new()),
        })
    }

    /// Re-reads the keys from the database: a key rotated by any process signs here from now on.
    /// On failure the keys in use stay.
    pub async fn refresh(&self) -> Result<()> {
        let fresh = build(
            self.store.read().signing_keys().await?,
            self.settings.kek.as_ref(),
        )?;
        *self
            .keys
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = fresh;
        Ok(())
    }

    /// How often `refresh` should run.
    pub fn refresh_interval(&self) -> Duration {
        self.settings.refresh
    }

    /// The key-encryption key that seals secrets at rest, when one is configured.
    pub fn kek(&self) -> Option<&KeyEncryptionKey> {
        self.settings.kek.as_ref()
    }

    /// The issuer every token carries.
    pub fn issuer(&self) -> &str {
        &self.settings.issuer
    }

    /// How long a replaced key must keep verifying: a process may sign with it until its next
    /// refresh, and that token lives one access-token lifetime plus the leeway.
    fn retirement_delay(&self) -> Duration {
        self.settings.refresh + self.settings.ttl + Duration::seconds(LEEWAY_SECS + 1)
    }

    /// The JSON Web Key Set of the public keys that verify at `now`.
    pub fn jwks(&self, now: DateTime<Utc>) -> serde_json::Value {
        let keys = self.read();
        let mut listed: Vec<(&String, &Verifying)> = keys
            .verifying
            .iter()
            .filter(|(_, v)| v.retires_at.is_none_or(|t| t > now))
            .collect();
        listed.sort_by(|a, b| a.0.cmp(b.0));
        let jwks: Vec<serde_json::Value> = listed
            .into_iter()
            .map(|(kid, v)| {
                serde_json::json!({
                    "kty": "OKP", "crv": "Ed25519", "x": v.x, "kid": kid, "alg": "EdDSA",
                    "use": "sig",
                })
            })
            .collect();
        serde_json::json!({ "keys": jwks })
    }

    /// The kid this process signs with.
    pub fn signing_kid(&self) -> Option<String> {
        self.read().signing.as_ref().map(|(kid, _)| kid.clone())
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Keys> {
        self.keys
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Signs an access token for a session.
    pub fn issue(
        &self,
        user_id: Uuid,
        session_id: Uuid,
        workspace_id: Option<Uuid>,
        now: DateTime<Utc>,
    ) -> Result<String> {
        let keys = self.read();
        let (kid, key) = keys
            .signing
            .as_ref()
            .ok_or_else(|| anyhow::anyhow!("no signing key"))?;
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(kid.clone());
        header.typ = Some(ACCESS_TYP.to_owned());
        let claims = AccessClaims {
            iss: self.settings.issuer.clone(),
            aud: AUDIENCE.to_owned(),
            sub: user_id,
            sid: session_id,
            ws: workspace_id,
            iat: now.timestamp(),
            exp: (now + self.settings.ttl).timestamp(),
            typ: "access".to_owned(),
        };
        jsonwebtoken::encode(&header, &claims, key)
            .map_err(|e| Error::Internal(anyhow::anyhow!("signing failed: {e}")))
    }

    /// Verifies an access token's signature and claims at time `now`. Whether its session is
    /// still active is the caller's next step.
    pub async fn verify(&self, token: &str, now: DateTime<Utc>) -> Result<AccessClaims> {
        let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        let cached = self.verified_cache().get(&digest).cloned();
        let claims = match cached {
            Some(claims) => claims,
            None => {
                let claims = self.verify_signature(token, now).await?;
                let mut cache = self.verified_cache();
                if cache.len() >= VERIFIED_CACHE {
                    cache.clear();
                }
                cache.insert(digest, claims.clone());
                claims
            }
        };
        if claims.exp + LEEWAY_SECS < now.timestamp() {
            return Err(Error::Unauthenticated);
        }
        Ok(claims)
    }

    fn verified_cache(&self) -> std::sync::MutexGuard<'_, HashMap<[u8; 32], AccessClaims>> {
        self.verified
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The checks done once per token: header (no `crit`), signature with a key that has not
    /// retired at `now`, issuer, audience, type.
    async fn verify_signature(&self, token: &str, now: DateTime<Utc>) -> Result<AccessClaims> {
        if has_crit(token) {
            return Err(Error::Unauthenticated);
        }
        let header = jsonwebtoken::decode_header(token).map_err(|_| Error::Unauthenticated)?;
        if header.alg != Algorithm::EdDSA || header.typ.as_deref() != Some(ACCESS_TYP) {
            return Err(Error::Unauthenticated);
        }
        let kid = header.kid.ok_or(Error::Unauthenticated)?;
        let claims = match self.verify_with(&kid, token, now) {
            Some(result) => result,
            None if self.reload_allowed() => {
                self.refresh().await?;
                self.verify_with(&kid, token, now)
                    .ok_or(Error::Unauthenticated)?
            }
            None => return Err(Error::Unauthenticated),
        }?;
        if claims.typ != "access" {
            return Err(Error::Unauthenticated);
        }
        Ok(claims)
    }

    fn verify_with(
        &self,
        kid: &str,
        token: &str,
        now: DateTime<Utc>,
    ) -> Option<Result<AccessClaims>> {
        let keys = self.read();
        let key = keys.verifying.get(kid)?;
        if key.retires_at.is_some_and(|t| t <= now) {
            return Some(Err(Error::Unauthenticated));
        }
        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.set_issuer(&[&self.settings.issuer]);
        validation.set_audience(&[AUDIENCE]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        // Expiry is checked against the service clock, with our own leeway.
        validation.validate_exp = false;
        validation.leeway = 0;
        Some(
            jsonwebtoken::decode::<AccessClaims>(token, &key.key, &validation)
                .map(|data| data.claims)
                .map_err(|_| Error::Unauthenticated),
        )
    }

    fn reload_allowed(&self) -> bool {
        let mut last = self
            .last_reload
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let due = last.is_none_or(|t| t.elapsed() >= RELOAD_INTERVAL);
        if due {
            *last = Some(Instant::now());
        }
        due
    }
}

/// Whether the token's protected header carries `crit` (RFC 7515 §4.1.11): we implement no
/// extension, so any `crit` — and a header that is not a JSON object — means refusal.
/// `jsonwebtoken` ignores unknown header fields, so the header is read here first.
fn has_crit(token: &str) -> bool {
    let Some((segment, _)) = token.split_once('.') else {
        return true;
    };
    URL_SAFE_NO_PAD
        .decode(segment)
        .ok()
        .and_then(|json| {
            serde_json::from_slice::<serde_json::Map<String, serde_json::Value>>(&json).ok()
        })
        .is_none_or(|header| header.contains_key("crit"))
}

fn build(stored: Vec<SigningKey>, kek: Option<&KeyEncryptionKey>) -> Result<Keys> {
    let mut verifying = HashMap::new();
    for key in &stored {
        let x = URL_SAFE_NO_PAD.encode(&key.public_raw);
        let decoding = DecodingKey::from_ed_components(&x)
            .map_err(|e| anyhow::anyhow!("stored public key {} is invalid: {e}", key.kid))?;
        verifying.insert(
            key.kid.clone(),
            Verifying {
                key: decoding,
                x,
                retires_at: key.retires_at,
            },
        );
    }
    // The newest current key signs; if every key has been replaced (a rotation whose new key
    // is not readable here cannot happen: it is inserted in the same transaction), the newest.
    let newest = stored
        .iter()
        .filter(|k| k.retires_at.is_none())
        .max_by_key(|k| k.created_at)
        .or_else(|| stored.iter().max_by_key(|k| k.created_at));
    let signing = match newest {
        Some(k) => Some((
            k.kid.clone(),
            EncodingKey::from_ed_der(&k.private_pkcs8(kek)?),
        )),
        None => None,
    };
    Ok(Keys {
        signing,
        verifying,
        stored,
    })
}

/// The issuer of every token. A configured public URL is the issuer, and is recorded in the
/// database; without one, the process takes the issuer recorded there — by the last process
/// that had one configured, or else by the first to start (its own default) — so that replicas
/// behind a load balancer, each with its own listen address, still agree.
pub async fn deployment_issuer(
    store: &Store,
    configured: Option<String>,
    default: &str,
) -> Result<String> {
    let mut tx = store.write().await?;
    let issuer = match configured {
        Some(issuer) => {
            tx.set_service_setting(ISSUER_SETTING, &issuer).await?;
            issuer
        }
        None => {
            tx.set_service_setting_once(ISSUER_SETTING, default).await?;
            tx.service_setting(ISSUER_SETTING)
                .await?
                .ok_or_else(|| anyhow::anyhow!("the issuer setting vanished"))?
        }
    };
    tx.commit().await?;
    Ok(issuer)
}

impl Core {
    /// Replaces the signing key: a new key signs from now on (in this process at once, in every
    /// other within its key refresh interval); every older key keeps verifying until every
    /// token it can still sign has expired, then verifies no more. Keys retired before now are
    /// deleted, and with a key-encryption key set, plaintext private keys still stored are
    /// sealed. The new key.
    pub async fn rotate_signing_key(&self) -> Result<KeyInfo> {
        let now = self.clock.now();
        let kek = self.keys.settings.kek.as_ref();
        let new = SigningKey::generate(now)?.sealed_with(kek)?;
        let mut tx = self.store.write().await?;
        tx.prune_signing_keys(now).await?;
        tx.retire_signing_keys(now + self.keys.retirement_delay())
            .await?;
        if kek.is_some() {
            for old in tx.signing_keys().await?.into_iter().filter(|k| !k.sealed) {
                let old = old.sealed_with(kek)?;
                tx.seal_signing_key(&old.kid, &old.private_der).await?;
            }
        }
        tx.insert_signing_key(&new).await?;
        tx.commit().await?;
        self.keys.refresh().await?;
        Ok(KeyInfo {
            kid: new.kid,
            created_at: new.created_at,
            retires_at: None,
            sealed: new.sealed,
            signing: true,
        })
    }

    /// The stored keys, oldest first, as this process last read them.
    pub async fn signing_keys(&self) -> Result<Vec<KeyInfo>> {
        self.keys.refresh().await?;
        let keys = self.keys.read();
        let signing = keys.signing.as_ref().map(|(kid, _)| kid.as_str());
        Ok(keys
            .stored
            .iter()
            .map(|k| KeyInfo {
                kid: k.kid.clone(),
                created_at: k.created_at,
                retires_at: k.retires_at,
                sealed: k.sealed,
                signing: signing == Some(k.kid.as_str()),
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn segment(json: &str) -> String {
        URL_SAFE_NO_PAD.encode(json)
    }

    #[test]
    fn a_crit_header_or_an_unreadable_header_counts_as_critical() {
        let body = segment("{}");
        let token = |h: &str| format!("{}.{body}.sig", segment(h));
        assert!(!has_crit(&token(
            r#"{"alg":"EdDSA","typ":"at+jwt","kid":"k"}"#
        )));
        assert!(has_crit(&token(
            r#"{"alg":"EdDSA","crit":["exp"],"exp":1}"#
        )));
        assert!(has_crit(&token(r#"{"alg":"EdDSA","crit":[]}"#)));
        assert!(has_crit(&token(r#"{"alg":"EdDSA","crit":null}"#)));
        assert!(has_crit(&token(r#"["not", "an", "object"]"#)));
        assert!(has_crit("no-dots-at-all"));
        assert!(has_crit("%%%.e30.sig"));
    }
}
