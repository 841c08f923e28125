//! Who is calling, once authenticated: an API key or a token subject, with
//! the roles that say what it may do.

use std::sync::Arc;

use moat_guard::Policy;

use crate::permission::{authorize, Permission};
use crate::role::{AuditContent, Limits, Patterns, Role};

/// How the caller proved who it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credential {
    /// An API key; `id` is the key's id (never its secret).
    ApiKey { id: String },
    /// An OIDC/JWT bearer token from `issuer` for `subject`.
    Token { issuer: String, subject: String },
}

/// An authenticated caller.
#[derive(Debug, Clone)]
pub struct Principal {
    /// Stable id for limits, usage and audit: the key id, or
    /// `oidc:SUBJECT` for tokens.
    pub id: String,
    /// The key's name or the token's subject, for people reading logs.
    pub name: String,
    pub credential: Credential,
    pub roles: Vec<Arc<Role>>,
    /// A key's own model allow-list, narrowing what its roles allow.
    pub key_models: Option<Patterns>,
}

impl Principal {
    /// May this caller do `permission`? The one authorization function,
    /// [`authorize`], as a yes or no.
    pub fn may(&self, permission: Permission<'_>) -> bool {
        authorize(self, permission).is_ok()
    }

    /// The server-side tools this caller's roles offer by default, each
    /// once, in the order the roles list them.
    pub fn default_tools(&self) -> Vec<String> {
        self.every_role(|r| &r.default_tools)
    }

    /// The knowledge bases this caller's roles answer from by default,
    /// each once, in the order the roles list them.
    pub fn default_knowledge_bases(&self) -> Vec<String> {
        self.every_role(|r| &r.default_knowledge_bases)
    }

    /// The names `list` gives over all roles, each once, in role order.
    fn every_role(&self, list: impl Fn(&crate::Role) -> &Vec<String>) -> Vec<String> {
        let mut names: Vec<String> = Vec::new();
        for name in self.roles.iter().flat_map(|r| list(r)) {
            if !names.contains(name) {
                names.push(name.clone());
            }
        }
        names
    }

    pub fn role_names(&self) -> Vec<&str> {
        self.roles.iter().map(|r| r.name.as_str()).collect()
    }

    /// The strictest personal-data policy among the roles that set one
    /// (block, then mask, then pseudonymize, then allow); `None` when no
    /// role sets one and the server-wide policy applies.
    pub fn pii_policy(&self) -> Option<Policy> {
        fn strictness(p: Policy) -> u8 {
            match p {
                Policy::Block => 3,
                Policy::Mask => 2,
                Policy::Pseudonymize => 1,
                Policy::Allow => 0,
            }
        }
        self.roles
            .iter()
            .filter_map(|r| r.pii_policy)
            .max_by_key(|p| strictness(*p))
    }

    /// The audit content policy that keeps the least among the roles
    /// (`masked` with no roles).
    pub fn audit_content(&self) -> AuditContent {
        self.roles
            .iter()
            .map(|r| r.audit_content)
            .max()
            .unwrap_or(AuditContent::Masked)
    }

    /// Days this caller's conversations are kept after their last
    /// change: the shortest retention of its roles; `None`: kept.
    pub fn conversation_retention_days(&self) -> Option<u32> {
        self.roles
            .iter()
            .filter_map(|r| r.conversation_retention_days)
            .min()
    }

    /// Limits of this caller itself: the most generous `per_key` limits
    /// of its roles.
    pub fn own_limits(&self) -> Limits {
        let mut limits = self.roles.iter().map(|r| r.per_key);
        let first = limits.next().unwrap_or_default();
        limits.fold(first, Limits::most_generous)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::role::{RoleConfig, Roles};

    fn principal(roles_toml: &str, names: &[&str], key_models: Option<&[&str]>) -> Principal {
        #[derive(serde::Deserialize)]
        struct File {
            roles: Vec<RoleConfig>,
        }
        let file: File = toml::from_str(roles_toml).unwrap();
        let roles = Roles::new(&file.roles).unwrap();
        Principal {
            id: "key_test".to_owned(),
            name: "test".to_owned(),
            credential: Credential::ApiKey {
                id: "key_test".to_owned(),
            },
            roles: roles.resolve(names),
            key_models: key_models.map(|m| Patterns::new(m).unwrap()),
        }
    }

    const ROLES: &str = r#"
[[roles]]
name = "analyst"
models = ["qwen3-*"]
tools = ["weather"]
pii_policy = "mask"
audit_content = "hash"
per_key = { requests_per_minute = 10 }

[[roles]]
name = "clinician"
models = ["med-*"]
knowledge_bases = ["wards"]
pii_policy = "block"
audit_content = "full"
per_key = { requests_per_minute = 30, tokens_per_day = 1000 }
"#;

    #[test]
    fn default_deny_without_a_role() {
        let p = principal(ROLES, &[], None);
        assert!(!p.may(Permission::Model("qwen3-8b")));
        assert!(!p.may(Permission::Tool {
            name: "weather",
            roles: &[]
        }));
        assert!(!p.may(Permission::Admin));
        assert_eq!(p.pii_policy(), None);
        let p = principal(ROLES, &["no-such-role"], None);
        assert!(!p.may(Permission::Model("qwen3-8b")));
    }

    #[test]
    fn roles_add_up_and_the_key_list_narrows() {
        let p = principal(ROLES, &["analyst", "clinician"], None);
        assert!(p.may(Permission::Model("qwen3-8b")) && p.may(Permission::Model("med-7b")));
        assert!(
            p.may(Permission::Tool {
                name: "weather",
                roles: &[]
            }) && !p.may(Permission::Tool {
                name: "shell",
                roles: &[]
            })
        );
        assert!(p.may(Permission::KnowledgeBase("wards")));
        assert_eq!(p.pii_policy(), Some(Policy::Block));
        assert_eq!(p.audit_content(), AuditContent::Hash);
        assert_eq!(p.own_limits().requests_per_minute, Some(30));
        assert_eq!(p.own_limits().tokens_per_day, None);
        let narrowed = principal(ROLES, &["analyst"], Some(&["qwen3-0.6b"]));
        assert!(narrowed.may(Permission::Model("qwen3-0.6b")));
        assert!(!narrowed.may(Permission::Model("qwen3-8b")));
        // A key list cannot widen what the roles allow.
        let widened = principal(ROLES, &["analyst"], Some(&["*"]));
        assert!(!widened.may(Permission::Model("med-7b")));
    }

    #[test]
    fn builtin_admin_may_do_everything() {
        let p = principal("roles = []", &["admin"], None);
        assert!(
            p.may(Permission::Admin)
                && p.may(Permission::Model("x"))
                && p.may(Permission::Tool {
                    name: "y",
                    roles: &[]
                })
        );
    }
}
