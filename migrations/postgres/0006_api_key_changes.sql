-- API keys can be described, and rotated: a rotated key names its successor (at most one, so
-- two concurrent rotations of one key cannot both succeed) and keeps working until its expiry.

ALTER TABLE api_keys ADD COLUMN description TEXT;
ALTER TABLE api_keys ADD COLUMN replaced_by UUID;
