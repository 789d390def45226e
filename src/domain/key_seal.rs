//! Signing keys encrypted at rest: ChaCha20-Poly1305 under a key-encryption key the operator
//! supplies (`ROSTER_KEY_ENCRYPTION_KEY`), with the key's `kid` as associated data.

use base64::{engine::general_purpose::STANDARD, Engine};
use chacha20poly1305::{
    aead::{Aead, AeadCore, KeyInit, OsRng, Payload},
    ChaCha20Poly1305, Key, Nonce,
};

/// Bytes of the nonce stored in front of each ciphertext.
const NONCE_LEN: usize = 12;

/// The key that seals the private signing keys. Its bytes are never printed.
#[derive(Clone)]
pub struct KeyEncryptionKey(Key);

impl std::fmt::Debug for KeyEncryptionKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KeyEncryptionKey(REDACTED)")
    }
}

/// Why a sealed key could not be opened or a key-encryption key not read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SealError {
    #[error("the key-encryption key must be 32 bytes encoded in base64 (e.g. `openssl rand -base64 32`)")]
    BadKey,
    #[error("signing key {kid} does not open with this key-encryption key (a different ROSTER_KEY_ENCRYPTION_KEY sealed it)")]
    WrongKey { kid: String },
    #[error("cannot encrypt a signing key")]
    Seal,
    #[error("signing key {kid} is encrypted at rest; set ROSTER_KEY_ENCRYPTION_KEY to the key that sealed it")]
    Missing { kid: String },
}

impl KeyEncryptionKey {
    /// Reads a key given as 32 bytes in (standard, padded or not) base64.
    pub fn from_base64(text: &str) -> Result<KeyEncryptionKey, SealError> {
        let text = text.trim();
        let bytes = STANDARD
            .decode(text)
            .or_else(|_| base64::engine::general_purpose::STANDARD_NO_PAD.decode(text))
            .map_err(|_| SealError::BadKey)?;
        let bytes: [u8; 32] = bytes.try_into().map_err(|_| SealError::BadKey)?;
        Ok(KeyEncryptionKey(Key::from(bytes)))
    }

    /// `nonce || ciphertext` of `plaintext`, bound to `kid`.
    pub fn seal(&self, kid: &str, plaintext: &[u8]) -> Result<Vec<u8>, SealError> {
        let nonce = ChaCha20Poly1305::generate_nonce(&mut OsRng);
        let sealed = ChaCha20Poly1305::new(&self.0)
            .encrypt(
                &nonce,
                Payload {
                    msg: plaintext,
                    aad: kid.as_bytes(),
                },
            )
            .map_err(|_| SealError::Seal)?;
        let mut out = Vec::with_capacity(NONCE_LEN + sealed.len());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        Ok(out)
    }

    /// The plaintext of what `seal` made for `kid`; an error if another key sealed it, it was
    /// altered, or it belongs to another kid.
    pub fn open(&self, kid: &str, sealed: &[u8]) -> Result<Vec<u8>, SealError> {
        let wrong = || SealError::WrongKey {
            kid: kid.to_owned(),
        };
        if sealed.len() < NONCE_LEN {
            return Err(wrong());
        }
        let (nonce, ciphertext) = sealed.split_at(NONCE_LEN);
        ChaCha20Poly1305::new(&self.0)
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: ciphertext,
                    aad: kid.as_bytes(),
                },
            )
            .map_err(|_| wrong())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kek(byte: u8) -> KeyEncryptionKey {
        KeyEncryptionKey::from_base64(&STANDARD.encode([byte; 32])).expect("key")
    }

    #[test]
    fn a_sealed_key_opens_only_with_its_key_and_its_kid() {
        let sealed = kek(1).seal("kid-a", b"private").expect("seal");
        assert_ne!(&sealed[NONCE_LEN..], b"private");
        assert_eq!(
            kek(1).open("kid-a", &sealed).as_deref(),
            Ok(&b"private"[..])
        );
        assert!(matches!(
            kek(2).open("kid-a", &sealed),
            Err(SealError::WrongKey { .. })
        ));
        assert!(matches!(
            kek(1).open("kid-b", &sealed),
            Err(SealError::WrongKey { .. })
        ));
        let mut tampered = sealed.clone();
        tampered[NONCE_LEN] ^= 1;
        assert!(kek(1).open("kid-a", &tampered).is_err());
        assert!(kek(1).open("kid-a", &sealed[..4]).is_err());
    }

    #[test]
    fn a_key_encryption_key_is_32_bytes_of_base64() {
        assert!(KeyEncryptionKey::from_base64(&STANDARD.encode([7u8; 32])).is_ok());
        assert_eq!(
            KeyEncryptionKey::from_base64(&STANDARD.encode([7u8; 16])).err(),
            Some(SealError::BadKey)
        );
        assert_eq!(
            KeyEncryptionKey::from_base64("not base64 at all!").err(),
            Some(SealError::BadKey)
        );
    }
}
