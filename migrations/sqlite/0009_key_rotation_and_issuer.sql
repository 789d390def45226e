-- Signing keys that rotate: a key stops verifying at `retires_at` (NULL: it is current), and
-- its private half may be sealed (`sealed` = 1: nonce || ChaCha20-Poly1305 ciphertext, the kid
-- as associated data).
ALTER TABLE signing_keys ADD COLUMN retires_at INTEGER;
ALTER TABLE signing_keys ADD COLUMN sealed INTEGER NOT NULL DEFAULT 0;

-- Values fixed once for the whole deployment (the first process to start writes them; every
-- replica reads them): the JWT issuer when no public URL is configured.
CREATE TABLE service_settings (
    name  TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL
);
