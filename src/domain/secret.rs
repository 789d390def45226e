//! Opaque secrets (refresh tokens, API keys): 32 bytes from the OS RNG, shown once, stored as
//! SHA-256 only.

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use rand::{rngs::OsRng, RngCore};
use sha2::{Digest, Sha256};

/// A freshly generated secret: the text handed out once, and the hash that is stored.
pub struct NewSecret {
    pub text: String,
    pub hash: Vec<u8>,
}

/// Generates `prefix` followed by 32 random bytes in unpadded base64url.
pub fn generate(prefix: &str) -> NewSecret {
    let mut bytes = [0u8; 32];
    OsRng.fill_bytes(&mut bytes);
    let text = format!("{prefix}{}", URL_SAFE_NO_PAD.encode(bytes));
    let hash = hash(&text);
    NewSecret { text, hash }
}

/// The stored form of a secret. Lookups go by this hash through a unique index, so no
/// secret is ever compared in variable time.
pub fn hash(text: &str) -> Vec<u8> {
    Sha256::digest(text.as_bytes()).to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_carry_their_prefix_and_256_bits() {
        let s = generate("rk_");
        assert!(s.text.starts_with("rk_"));
        assert_eq!(s.text.len(), 3 + 43);
        assert_eq!(s.hash, hash(&s.text));
        assert_ne!(generate("rk_").text, s.text);
    }
}
