//! The native API (`/v1`), one file per resource.

mod account_deletion;
pub mod account_links;
mod account_pages;
mod accounts;
mod api_key_changes;
mod api_keys;
mod audit;
mod audit_chain;
mod bad_input;
mod emails;
mod invitations;
mod members;
pub mod mfa;
mod operations;
mod ownership_transfer;
mod password_and_sign_out;
mod roles;
mod sessions;
mod tokens;
mod usage;
mod webhook_settings;
mod webhooks;
mod workspace_api_keys;
mod workspaces;
