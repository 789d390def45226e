//! The permission catalogue: Roster's own permissions, the ones the product declares for itself
//! (namespaced apart from Roster's), the fixed presets of the six built-in roles, and `Grants`,
//! the set a member, a custom role or a workspace key holds — two bitsets, so that checking one
//! is a mask and "may not hold more than the granter" is a subset test.

use std::collections::BTreeSet;

use super::{role::Role, Error, Result};

/// One of Roster's permissions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Permission {
    WorkspaceRead,
    WorkspaceUpdate,
    WorkspaceDelete,
    MembersList,
    MembersRead,
    MembersManage,
    RolesManage,
    InvitationsManage,
    SessionsRevoke,
    AuditRead,
    UsageRead,
    UsageRecord,
    ApiKeysManage,
    WebhooksManage,
}

impl Permission {
    pub const ALL: [Permission; 14] = [
        Permission::WorkspaceRead,
        Permission::WorkspaceUpdate,
        Permission::WorkspaceDelete,
        Permission::MembersList,
        Permission::MembersRead,
        Permission::MembersManage,
        Permission::RolesManage,
        Permission::InvitationsManage,
        Permission::SessionsRevoke,
        Permission::AuditRead,
        Permission::UsageRead,
        Permission::UsageRecord,
        Permission::ApiKeysManage,
        Permission::WebhooksManage,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Permission::WorkspaceRead => "workspace:read",
            Permission::WorkspaceUpdate => "workspace:update",
            Permission::WorkspaceDelete => "workspace:delete",
            Permission::MembersList => "members:list",
            Permission::MembersRead => "members:read",
            Permission::MembersManage => "members:manage",
            Permission::RolesManage => "roles:manage",
            Permission::InvitationsManage => "invitations:manage",
            Permission::SessionsRevoke => "sessions:revoke",
            Permission::AuditRead => "audit:read",
            Permission::UsageRead => "usage:read",
            Permission::UsageRecord => "usage:record",
            Permission::ApiKeysManage => "api_keys:manage",
            Permission::WebhooksManage => "webhooks:manage",
        }
    }

    /// What the permission allows, as "may not …" refusals say it.
    pub fn describe(self) -> &'static str {
        match self {
            Permission::WorkspaceRead => "read this workspace",
            Permission::WorkspaceUpdate => "update this workspace",
            Permission::WorkspaceDelete => "delete this workspace",
            Permission::MembersList => "list members",
            Permission::MembersRead => "read members",
            Permission::MembersManage => "manage members",
            Permission::RolesManage => "manage roles",
            Permission::InvitationsManage => "manage invitations",
            Permission::SessionsRevoke => "revoke the sessions of this workspace",
            Permission::AuditRead => "read the audit log",
            Permission::UsageRead => "read usage",
            Permission::UsageRecord => "record usage",
            Permission::ApiKeysManage => "manage the workspace's API keys",
            Permission::WebhooksManage => "manage the workspace's webhooks",
        }
    }

    pub fn parse(s: &str) -> Option<Permission> {
        Permission::ALL.into_iter().find(|p| p.as_str() == s)
    }

    fn bit(self) -> u32 {
        1 << (self as u32)
    }
}

/// The namespaces Roster keeps for itself (its permissions and the ones it will add); a product
/// permission lives in any other.
pub const RESERVED_NAMESPACES: [&str; 13] = [
    "workspace",
    "members",
    "roles",
    "invitations",
    "sessions",
    "audit",
    "usage",
    "api_keys",
    "webhooks",
    "ownership",
    "mfa",
    "billing",
    "roster",
];

/// The most permissions a product may declare.
pub const MAX_PRODUCT_PERMISSIONS: usize = 64;

/// A permission the product declares (in the configuration file), with the built-in roles that
/// hold it (owners hold every permission).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProductPermission {
    pub key: String,
    pub description: Option<String>,
    pub roles: Vec<Role>,
}

/// Checks the shape of a product permission's key: `namespace:action`, lower-case letters,
/// digits, `_`, `-` and `.`, at most 100 characters, in a namespace Roster does not keep.
pub fn check_product_key(key: &str) -> std::result::Result<(), String> {
    let Some((namespace, action)) = key.split_once(':') else {
        return Err(format!("{key:?} is not of the form namespace:action"));
    };
    let word = |s: &str| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "_-.:".contains(c))
    };
    if key.len() > 100 || !word(namespace) || !word(action) {
        return Err(format!(
            "{key:?}: a permission is at most 100 characters of a-z, 0-9, '_', '-', '.' and ':'"
        ));
    }
    if RESERVED_NAMESPACES.contains(&namespace) {
        return Err(format!(
            "{key:?}: the namespace {namespace:?} is Roster's own; choose another"
        ));
    }
    Ok(())
}

/// A set of permissions: Roster's as one bit each, the product's as one bit per declared
/// permission (in declaration order).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Grants {
    roster: u32,
    product: u64,
}

impl Grants {
    pub const NONE: Grants = Grants {
        roster: 0,
        product: 0,
    };

    pub fn of(permissions: &[Permission]) -> Grants {
        Grants {
            roster: permissions.iter().fold(0, |acc, p| acc | p.bit()),
            product: 0,
        }
    }

    pub fn has(&self, permission: Permission) -> bool {
        self.roster & permission.bit() != 0
    }

    /// Whether every permission of `other` is also in `self`.
    pub fn contains(&self, other: &Grants) -> bool {
        other.roster & !self.roster == 0 && other.product & !self.product == 0
    }

    /// The permissions of `self` that `holder` lacks.
    pub fn beyond(&self, holder: &Grants) -> Grants {
        Grants {
            roster: self.roster & !holder.roster,
            product: self.product & !holder.product,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.roster == 0 && self.product == 0
    }

    /// Only the permissions also in `other`.
    pub fn intersect(&self, other: &Grants) -> Grants {
        Grants {
            roster: self.roster & other.roster,
            product: self.product & other.product,
        }
    }

    /// Refuses with 403 `insufficient_role` unless `permission` is held (`holder` names who
    /// holds these grants in the message: "the viewer role", "this API key").
    pub fn require_as(&self, permission: Permission, holder: &str) -> Result<()> {
        if self.has(permission) {
            Ok(())
        } else {
            Err(Error::forbidden(
                "insufficient_role",
                format!("{holder} may not {}", permission.describe()),
            ))
        }
    }

    /// As `require_as`, for the caller's role.
    pub fn require(&self, permission: Permission) -> Result<()> {
        self.require_as(permission, "your role")
    }
}

/// Every permission there is (Roster's and the product's) and the built-in roles' presets.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Catalogue {
    product: Vec<ProductPermission>,
}

/// One permission of the catalogue, as listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogueEntry {
    pub key: String,
    pub description: String,
    /// Declared by the product (not one of Roster's).
    pub product: bool,
}

impl Catalogue {
    /// The catalogue with the product's permissions; refuses a bad key, a repeat or too many.
    pub fn new(product: Vec<ProductPermission>) -> std::result::Result<Catalogue, String> {
        if product.len() > MAX_PRODUCT_PERMISSIONS {
            return Err(format!(
                "at most {MAX_PRODUCT_PERMISSIONS} product permissions can be declared"
            ));
        }
        let mut seen = BTreeSet::new();
        for p in &product {
            check_product_key(&p.key)?;
            if !seen.insert(p.key.as_str()) {
                return Err(format!("the permission {:?} is declared twice", p.key));
            }
        }
        Ok(Catalogue { product })
    }

    /// The product's declared permissions.
    pub fn product(&self) -> &[ProductPermission] {
        &self.product
    }

    /// Every permission: Roster's first, then the product's in declaration order.
    pub fn entries(&self) -> Vec<CatalogueEntry> {
        Permission::ALL
            .iter()
            .map(|p| CatalogueEntry {
                key: p.as_str().to_owned(),
                description: p.describe().to_owned(),
                product: false,
            })
            .chain(self.product.iter().map(|p| CatalogueEntry {
                key: p.key.clone(),
                description: p.description.clone().unwrap_or_default(),
                product: true,
            }))
            .collect()
    }

    fn all_product(&self) -> u64 {
        match self.product.len() {
            64 => u64::MAX,
            n => (1u64 << n) - 1,
        }
    }

    /// Every permission (what an owner holds).
    pub fn everything(&self) -> Grants {
        Grants {
            roster: Grants::of(&Permission::ALL).roster,
            product: self.all_product(),
        }
    }

    /// What a stored role holds: a custom role's stored permissions, else the preset.
    pub fn held(&self, role: &super::role::Assignment) -> super::role::Held {
        super::role::Held {
            base: role.base,
            grants: match &role.custom {
                Some((_, stored)) => self.parse_stored(stored),
                None => self.preset(role.base),
            },
        }
    }

    /// The fixed preset of a built-in role: PRODUCT.md's table, as permissions, plus the
    /// product permissions declared for the role.
    pub fn preset(&self, role: Role) -> Grants {
        use Permission::*;
        if role == Role::Owner {
            return self.everything();
        }
        let roster: &[Permission] = match role {
            Role::Owner => &[],
            Role::Admin => &[
                WorkspaceRead,
                WorkspaceUpdate,
                MembersList,
                MembersRead,
                MembersManage,
                RolesManage,
                InvitationsManage,
                AuditRead,
                UsageRead,
                UsageRecord,
                ApiKeysManage,
                WebhooksManage,
            ],
            Role::Editor | Role::FieldWorker | Role::Viewer => {
                &[WorkspaceRead, MembersList, MembersRead]
            }
            Role::Demo => &[MembersList],
        };
        let mut grants = Grants::of(roster);
        for (i, p) in self.product.iter().enumerate() {
            if p.roles.contains(&role) {
                grants.product |= 1 << i;
            }
        }
        grants
    }

    /// The grants a list of names stands for; an unknown name is refused (422 under `field`).
    pub fn parse(&self, names: &[String], field: &str) -> Result<Grants> {
        let mut grants = Grants::NONE;
        for name in names {
            let name = name.trim();
            if let Some(p) = Permission::parse(name) {
                grants.roster |= p.bit();
            } else if let Some(i) = self.product.iter().position(|p| p.key == name) {
                grants.product |= 1 << i;
            } else {
                return Err(Error::invalid(
                    field,
                    "unknown_permission",
                    format!(
                        "{name:?} is not a permission; GET /v1/permissions lists them (a \
                         product permission is declared in the configuration file)"
                    ),
                ));
            }
        }
        Ok(grants)
    }

    /// The grants stored as text (`names`, space-separated); names no longer declared are
    /// ignored (they grant nothing).
    pub fn parse_stored(&self, text: &str) -> Grants {
        let mut grants = Grants::NONE;
        for name in text.split_ascii_whitespace() {
            if let Some(p) = Permission::parse(name) {
                grants.roster |= p.bit();
            } else if let Some(i) = self.product.iter().position(|p| p.key == name) {
                grants.product |= 1 << i;
            }
        }
        grants
    }

    /// The names of a set of grants, Roster's first, in catalogue order.
    pub fn names(&self, grants: &Grants) -> Vec<String> {
        Permission::ALL
            .iter()
            .filter(|p| grants.has(**p))
            .map(|p| p.as_str().to_owned())
            .chain(
                self.product
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| grants.product & (1 << i) != 0)
                    .map(|(_, p)| p.key.clone()),
            )
            .collect()
    }

    /// The text a set of grants is stored as.
    pub fn stored(&self, grants: &Grants) -> String {
        self.names(grants).join(" ")
    }

    /// Whether `grants` holds the permission named `name`; `None` for an unknown name.
    pub fn holds(&self, grants: &Grants, name: &str) -> Option<bool> {
        if let Some(p) = Permission::parse(name) {
            return Some(grants.has(p));
        }
        let i = self.product.iter().position(|p| p.key == name)?;
        Some(grants.product & (1 << i) != 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_presets_reproduce_the_permission_table() {
        use Permission::*;
        let c = Catalogue::default();
        for role in Role::ALL {
            let g = c.preset(role);
            let manager = matches!(role, Role::Owner | Role::Admin);
            assert_eq!(g.has(WorkspaceRead), role != Role::Demo);
            assert_eq!(g.has(MembersRead), role != Role::Demo);
            assert!(g.has(MembersList));
            for p in [
                WorkspaceUpdate,
                MembersManage,
                InvitationsManage,
                AuditRead,
                UsageRead,
                UsageRecord,
                RolesManage,
                ApiKeysManage,
            ] {
                assert_eq!(g.has(p), manager, "{role:?} {p:?}");
            }
            assert_eq!(g.has(WorkspaceDelete), role == Role::Owner);
            assert_eq!(g.has(SessionsRevoke), role == Role::Owner);
        }
    }

    #[test]
    fn product_permissions_are_namespaced_apart_from_rosters() {
        assert!(check_product_key("reports:export").is_ok());
        assert!(check_product_key("members:export").is_err());
        assert!(check_product_key("reports").is_err());
        assert!(check_product_key("Reports:Export").is_err());
        let c = Catalogue::new(vec![ProductPermission {
            key: "reports:export".into(),
            description: None,
            roles: vec![Role::Admin],
        }])
        .expect("valid");
        assert_eq!(
            c.holds(&c.preset(Role::Admin), "reports:export"),
            Some(true)
        );
        assert_eq!(
            c.holds(&c.preset(Role::Editor), "reports:export"),
            Some(false)
        );
        assert_eq!(
            c.holds(&c.preset(Role::Owner), "reports:export"),
            Some(true)
        );
        assert_eq!(c.holds(&c.preset(Role::Owner), "reports:print"), None);
    }

    #[test]
    fn stored_grants_round_trip_and_subsets_are_judged_by_bit() {
        let c = Catalogue::new(vec![ProductPermission {
            key: "reports:export".into(),
            description: None,
            roles: vec![],
        }])
        .expect("valid");
        let names = vec!["audit:read".to_owned(), "reports:export".to_owned()];
        let g = c.parse(&names, "permissions").expect("known");
        assert_eq!(c.names(&g), names);
        assert_eq!(c.parse_stored(&c.stored(&g)), g);
        assert!(c.everything().contains(&g));
        assert!(!c.preset(Role::Admin).contains(&g));
        assert_eq!(
            c.names(&g.beyond(&c.preset(Role::Admin))),
            vec!["reports:export"]
        );
        assert!(c.parse(&["nope:x".to_owned()], "permissions").is_err());
    }
}
