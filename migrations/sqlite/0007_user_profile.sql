-- Profile fields a client writes and reads back: a picture URL, when onboarding was completed,
-- and the product-updates opt-in (the Pupil Cloud v2 profile; the native /v1/me too).
ALTER TABLE users ADD COLUMN photo_url TEXT;
ALTER TABLE users ADD COLUMN onboarded_at INTEGER;
ALTER TABLE users ADD COLUMN product_updates_subscribed INTEGER NOT NULL DEFAULT 0;
