//! Workspaces. This part holds what accounts need: the personal workspace's slug.

use rand::{rngs::OsRng, RngCore};

/// Turns a name into a URL-safe slug: lower-case ASCII letters and digits joined by `-`.
pub fn slugify(name: &str) -> String {
    let mut slug = String::new();
    for c in name.chars().flat_map(char::to_lowercase) {
        if c.is_ascii_alphanumeric() {
            slug.push(c);
        } else if !slug.ends_with('-') && !slug.is_empty() {
            slug.push('-');
        }
        if slug.len() >= 40 {
            break;
        }
    }
    let slug = slug.trim_end_matches('-').to_owned();
    if slug.is_empty() {
        "workspace".to_owned()
    } else {
        slug
    }
}

/// A slug for a personal workspace: the owner's name and a random suffix, so two people with
/// the same name never collide.
pub fn personal_slug(owner_name: &str) -> String {
    format!("{}-{:08x}", slugify(owner_name), OsRng.next_u32())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_are_lowercase_ascii_joined_by_dashes() {
        assert_eq!(slugify("  Ada's  Big Team! "), "ada-s-big-team");
        assert_eq!(slugify("Ünïcode ☃"), "n-code");
        assert_eq!(slugify("!!!"), "workspace");
        assert!(slugify(&"x".repeat(500)).len() <= 40);
    }
}
