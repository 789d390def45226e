//! Access tokens: EdDSA (Ed25519) JWTs signed with keys kept in the database, so that every
//! replica signs and verifies alike. Verification pins the algorithm, the `typ` header, the
//! issuer and audience, and allows at most 5 s of clock leeway.

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

use super::{Error, Result};
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

/// A signing key as stored.
#[derive(Clone)]
pub struct SigningKey {
    pub kid: String,
    /// PKCS#8 v2 document of the Ed25519 key pair.
    pub private_der: Vec<u8>,
    /// The raw 32-byte public key.
    pub public_raw: Vec<u8>,
    pub created_at: DateTime<Utc>,
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
        })
    }
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

struct Keys {
    signing: Option<(String, EncodingKey)>,
    verifying: HashMap<String, DecodingKey>,
    jwks: serde_json::Value,
}

/// The service's signing keys: the newest signs, all verify.
pub struct KeyRing {
    store: Store,
    issuer: String,
    ttl: Duration,
    keys: RwLock<Keys>,
    last_reload: Mutex<Option<Instant>>,
    /// Tokens whose signature and claims checked out, by SHA-256 of the token. A token is
    /// immutable, so its signature stays valid; everything that can change — expiry against the
    /// clock, and the session, read from the database on every request — is still checked on
    /// every use. Only the Ed25519 verification is skipped.
    verified: Mutex<HashMap<[u8; 32], AccessClaims>>,
}

impl KeyRing {
    /// Loads the keys from the store (the bootstrap at migration time made sure one exists).
    pub async fn load(store: Store, issuer: String, ttl: Duration) -> Result<KeyRing> {
        let keys = build(store.read().signing_keys().await?)?;
        if keys.signing.is_none() {
            return Err(Error::Internal(anyhow::anyhow!(
                "no signing key in the database; run `roster migrate`"
            )));
        }
        Ok(KeyRing {
            store,
            issuer,
            ttl,
            keys: RwLock::new(keys),
            last_reload: Mutex::new(None),
            verified: Mutex::new(HashMap::new()),
        })
    }

    /// The issuer every token carries.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The JSON Web Key Set of the public keys.
    pub fn jwks(&self) -> serde_json::Value {
        self.read().jwks.clone()
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
            iss: self.issuer.clone(),
            aud: AUDIENCE.to_owned(),
            sub: user_id,
            sid: session_id,
            ws: workspace_id,
            iat: now.timestamp(),
            exp: (now + self.ttl).timestamp(),
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
                let claims = self.verify_signature(token).await?;
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

    /// The checks that do not depend on time: header, signature, issuer, audience, type.
    async fn verify_signature(&self, token: &str) -> Result<AccessClaims> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| Error::Unauthenticated)?;
        if header.alg != Algorithm::EdDSA || header.typ.as_deref() != Some(ACCESS_TYP) {
            return Err(Error::Unauthenticated);
        }
        let kid = header.kid.ok_or(Error::Unauthenticated)?;
        let claims = match self.verify_with(&kid, token) {
            Some(result) => result,
            None if self.reload_allowed() => {
                let fresh = build(self.store.read().signing_keys().await?)?;
                *self
                    .keys
                    .write()
                    .unwrap_or_else(std::sync::PoisonError::into_inner) = fresh;
                self.verify_with(&kid, token)
                    .ok_or(Error::Unauthenticated)?
            }
            None => return Err(Error::Unauthenticated),
        }?;
        if claims.typ != "access" {
            return Err(Error::Unauthenticated);
        }
        Ok(claims)
    }

    fn verify_with(&self, kid: &str, token: &str) -> Option<Result<AccessClaims>> {
        let keys = self.read();
        let key = keys.verifying.get(kid)?;
        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.set_issuer(&[&self.issuer]);
        validation.set_audience(&[AUDIENCE]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        // Expiry is checked against the service clock, with our own leeway.
        validation.validate_exp = false;
        validation.leeway = 0;
        Some(
            jsonwebtoken::decode::<AccessClaims>(token, key, &validation)
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

fn build(stored: Vec<SigningKey>) -> Result<Keys> {
    let mut verifying = HashMap::new();
    let mut jwks = Vec::new();
    let mut newest: Option<&SigningKey> = None;
    for key in &stored {
        let x = URL_SAFE_NO_PAD.encode(&key.public_raw);
        let decoding = DecodingKey::from_ed_components(&x)
            .map_err(|e| anyhow::anyhow!("stored public key {} is invalid: {e}", key.kid))?;
        verifying.insert(key.kid.clone(), decoding);
        jwks.push(serde_json::json!({
            "kty": "OKP", "crv": "Ed25519", "x": x, "kid": key.kid, "alg": "EdDSA", "use": "sig",
        }));
        if newest.is_none_or(|n| key.created_at > n.created_at) {
            newest = Some(key);
        }
    }
    let signing = newest.map(|k| (k.kid.clone(), EncodingKey::from_ed_der(&k.private_der)));
    Ok(Keys {
        signing,
        verifying,
        jwks: serde_json::json!({ "keys": jwks }),
    })
}
