//! Roles: what a principal holding them may use (models, tools, knowledge
//! bases, the admin API), how much (limits), and the per-role policies later
//! steps read (personal-data policy, audit content). Default deny: nothing
//! is allowed that no role names.

use std::collections::BTreeMap;
use std::sync::Arc;

use globset::{Glob, GlobMatcher};
use moat_guard::Policy;
use serde::Deserialize;

/// How much of a request's content the audit log keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AuditContent {
    /// Prompts and answers as sent.
    Full,
    /// After the personal-data guard.
    Masked,
    /// A hash only.
    Hash,
    /// Nothing of the content.
    None,
}

impl AuditContent {
    pub const fn name(self) -> &'static str {
        match self {
            Self::Full => "full",
            Self::Masked => "masked",
            Self::Hash => "hash",
            Self::None => "none",
        }
    }
}

/// Requests per minute, concurrent streams and tokens per UTC day; `None`
/// is no limit.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    pub requests_per_minute: Option<u32>,
    pub concurrent_streams: Option<u32>,
    pub tokens_per_day: Option<u64>,
}

impl Limits {
    /// The more generous of two limits, field by field (`None` wins).
    pub fn most_generous(self, other: Self) -> Self {
        fn max<T: Ord>(a: Option<T>, b: Option<T>) -> Option<T> {
            Some(a?.max(b?))
        }
        Self {
            requests_per_minute: max(self.requests_per_minute, other.requests_per_minute),
            concurrent_streams: max(self.concurrent_streams, other.concurrent_streams),
            tokens_per_day: max(self.tokens_per_day, other.tokens_per_day),
        }
    }

    pub fn is_unlimited(&self) -> bool {
        *self == Self::default()
    }
}

/// One `[[roles]]` entry of moat.toml, as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoleConfig {
    pub name: String,
    /// Models this role may use: names or globs (`qwen3-*`, `*`).
    #[serde(default)]
    pub models: Vec<String>,
    /// Server-side tools this role may call (names or globs).
    #[serde(default)]
    pub tools: Vec<String>,
    /// Server-side tools (names) offered to a chat request of this role
    /// that names none itself: no `moat.tools` and no `tools` of its own.
    #[serde(default)]
    pub default_tools: Vec<String>,
    /// Knowledge bases this role may read (names or globs).
    #[serde(default)]
    pub knowledge_bases: Vec<String>,
    /// Knowledge bases this role may create and change (names or globs):
    /// create a store of such a name, upload files, attach and detach them.
    /// Writing a store includes reading it.
    #[serde(default)]
    pub kb_write: Vec<String>,
    /// Knowledge bases (names or ids) a chat request of this role answers
    /// from when it names none itself (no `moat.knowledge_bases`).
    #[serde(default)]
    pub default_knowledge_bases: Vec<String>,
    /// Whether the admin API (keys, usage, audit) is open to this role.
    #[serde(default)]
    pub admin: bool,
    /// Whether this role may read the audit log (`GET /admin/audit`)
    /// without the rest of the admin API.
    #[serde(default)]
    pub auditor: bool,
    /// Personal-data policy for this role; default: the `[guard]` policy.
    pub pii_policy: Option<Policy>,
    /// Audit content capture for this role; default: `masked`.
    pub audit_content: Option<AuditContent>,
    /// Days a conversation of this role's holders is kept after its last
    /// change, then deleted; default: kept. With several roles, the
    /// shortest applies.
    pub conversation_retention_days: Option<u32>,
    /// Whether this role may read anyone's conversations (each such read
    /// is audited). Nobody else reads a conversation but its owner,
    /// administrators included.
    #[serde(default)]
    pub read_all_conversations: bool,
    /// Limits shared by everyone holding this role.
    #[serde(flatten)]
    pub limits: Limits,
    /// Limits of each key (or token subject) holding this role.
    #[serde(default)]
    pub per_key: Limits,
}

/// A list of names and globs.
#[derive(Debug, Clone, Default)]
pub struct Patterns {
    matchers: Vec<GlobMatcher>,
    written: Vec<String>,
}

impl Patterns {
    /// Compile `patterns`; the error names the bad one.
    pub fn new<S: AsRef<str>>(patterns: &[S]) -> Result<Self, String> {
        let mut matchers = Vec::with_capacity(patterns.len());
        let mut written = Vec::with_capacity(patterns.len());
        for p in patterns {
            let p = p.as_ref();
            let glob = Glob::new(p).map_err(|e| format!("`{p}` is not a valid pattern: {e}"))?;
            matchers.push(glob.compile_matcher());
            written.push(p.to_owned());
        }
        Ok(Self { matchers, written })
    }

    pub fn matches(&self, name: &str) -> bool {
        self.matchers.iter().any(|m| m.is_match(name))
    }

    pub fn as_written(&self) -> &[String] {
        &self.written
    }
}

/// A role, checked and compiled.
#[derive(Debug, Clone)]
pub struct Role {
    pub name: String,
    pub models: Patterns,
    pub tools: Patterns,
    pub default_tools: Vec<String>,
    pub knowledge_bases: Patterns,
    pub default_knowledge_bases: Vec<String>,
    pub kb_write: Patterns,
    pub admin: bool,
    pub auditor: bool,
    pub pii_policy: Option<Policy>,
    pub audit_content: AuditContent,
    pub conversation_retention_days: Option<u32>,
    pub read_all_conversations: bool,
    pub limits: Limits,
    pub per_key: Limits,
}

impl Role {
    pub fn from_config(config: &RoleConfig) -> Result<Self, String> {
        let at = |what: &str, e: String| format!("role `{}`, {what}: {e}", config.name);
        check_role_name(&config.name)?;
        Ok(Self {
            name: config.name.clone(),
            models: Patterns::new(&config.models).map_err(|e| at("models", e))?,
            tools: Patterns::new(&config.tools).map_err(|e| at("tools", e))?,
            default_tools: config.default_tools.clone(),
            knowledge_bases: Patterns::new(&config.knowledge_bases)
                .map_err(|e| at("knowledge_bases", e))?,
            default_knowledge_bases: config.default_knowledge_bases.clone(),
            kb_write: Patterns::new(&config.kb_write).map_err(|e| at("kb_write", e))?,
            admin: config.admin,
            auditor: config.auditor,
            pii_policy: config.pii_policy,
            audit_content: config.audit_content.unwrap_or(AuditContent::Masked),
            conversation_retention_days: check_retention(config.conversation_retention_days)
                .map_err(|e| at("conversation_retention_days", e))?,
            read_all_conversations: config.read_all_conversations,
            limits: config.limits,
            per_key: config.per_key,
        })
    }
}

/// The longest conversation retention, in days (a hundred years).
pub const MAX_RETENTION_DAYS: u32 = 36_500;

fn check_retention(days: Option<u32>) -> Result<Option<u32>, String> {
    match days {
        Some(d) if d == 0 || d > MAX_RETENTION_DAYS => Err(format!(
            "{d} days: give 1 to {MAX_RETENTION_DAYS} days, or leave it out to keep conversations"
        )),
        other => Ok(other),
    }
}

fn check_role_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "role name `{name}` must be 1-64 characters of letters, digits, `-`, `_` or `.`"
        ))
    }
}

/// Every role moat knows: the built-in `admin` and `user`, unless the
/// configuration redefines them, and the configured ones.
#[derive(Debug, Clone)]
pub struct Roles {
    by_name: BTreeMap<String, Arc<Role>>,
}

impl Roles {
    /// `admin`: every model, tool and knowledge base, and the admin API.
    /// `user`: every model; no tools, no knowledge bases, no admin API.
    pub fn builtin() -> Vec<RoleConfig> {
        let all = vec!["*".to_owned()];
        let base = RoleConfig {
            name: String::new(),
            models: all.clone(),
            tools: Vec::new(),
            default_tools: Vec::new(),
            knowledge_bases: Vec::new(),
            default_knowledge_bases: Vec::new(),
            kb_write: Vec::new(),
            admin: false,
            auditor: false,
            pii_policy: None,
            audit_content: None,
            conversation_retention_days: None,
            read_all_conversations: false,
            limits: Limits::default(),
            per_key: Limits::default(),
        };
        vec![
            RoleConfig {
                name: "admin".to_owned(),
                tools: all.clone(),
                knowledge_bases: all.clone(),
                kb_write: all,
                admin: true,
                ..base.clone()
            },
            RoleConfig {
                name: "user".to_owned(),
                ..base
            },
        ]
    }

    /// The built-in roles overlaid with `configured`; a name configured
    /// twice is an error.
    pub fn new(configured: &[RoleConfig]) -> Result<Self, String> {
        let mut by_name = BTreeMap::new();
        for config in Self::builtin() {
            by_name.insert(config.name.clone(), Arc::new(Role::from_config(&config)?));
        }
        let mut seen = std::collections::BTreeSet::new();
        for config in configured {
            if !seen.insert(config.name.as_str()) {
                return Err(format!("role `{}` is defined twice", config.name));
            }
            by_name.insert(config.name.clone(), Arc::new(Role::from_config(config)?));
        }
        Ok(Self { by_name })
    }

    pub fn get(&self, name: &str) -> Option<&Arc<Role>> {
        self.by_name.get(name)
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.by_name.keys().map(String::as_str)
    }

    /// The roles named in `names` that exist; unknown names are skipped
    /// (a token may carry groups that mean nothing to moat).
    pub fn resolve<S: AsRef<str>>(&self, names: &[S]) -> Vec<Arc<Role>> {
        names
            .iter()
            .filter_map(|n| self.by_name.get(n.as_ref()).cloned())
            .collect()
    }

    /// Every name in `names` is a role; the error lists the known ones.
    pub fn check_known<S: AsRef<str>>(&self, names: &[S]) -> Result<(), String> {
        for n in names {
            let n = n.as_ref();
            if !self.by_name.contains_key(n) {
                let known: Vec<&str> = self.names().collect();
                return Err(format!(
                    "unknown role `{n}`; the roles are: {}",
                    known.join(", ")
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn role(text: &str) -> RoleConfig {
        toml::from_str(text).unwrap()
    }

    #[test]
    fn conversation_retention_is_bounded_and_reading_all_is_off_by_default() {
        let r = Role::from_config(&role(
            "name = \"clerk\"\nconversation_retention_days = 30\nread_all_conversations = true",
        ))
        .unwrap();
        assert_eq!(r.conversation_retention_days, Some(30));
        assert!(r.read_all_conversations);
        let r = Role::from_config(&role("name = \"plain\"")).unwrap();
        assert_eq!(r.conversation_retention_days, None);
        assert!(!r.read_all_conversations);
        for days in ["0", "36501"] {
            let e = Role::from_config(&role(&format!(
                "name = \"bad\"\nconversation_retention_days = {days}"
            )))
            .unwrap_err();
            assert!(e.contains("conversation_retention_days"), "{e}");
        }
        // Negative or fractional days do not parse at all.
        assert!(
            toml::from_str::<RoleConfig>("name = \"n\"\nconversation_retention_days = -1").is_err()
        );
    }

    #[test]
    fn globs_and_names_match_models() {
        let r = Role::from_config(&role(
            "name = \"analyst\"\nmodels = [\"qwen3-*\", \"smollm2\"]",
        ))
        .unwrap();
        assert!(r.models.matches("qwen3-8b"));
        assert!(r.models.matches("smollm2"));
        assert!(!r.models.matches("smollm2-big"));
        assert!(!r.models.matches("llama"));
        assert!(!r.tools.matches("anything"));
    }

    #[test]
    fn builtin_roles_can_be_redefined_but_not_twice() {
        let roles = Roles::new(&[]).unwrap();
        assert!(roles.get("admin").unwrap().admin);
        assert!(roles.get("user").unwrap().models.matches("any-model"));
        assert!(!roles.get("user").unwrap().admin);
        let narrowed = Roles::new(&[role("name = \"user\"\nmodels = [\"small\"]")]).unwrap();
        assert!(!narrowed.get("user").unwrap().models.matches("big"));
        let twice = Roles::new(&[role("name = \"x\""), role("name = \"x\"")]);
        assert!(twice.unwrap_err().contains("twice"));
        let bad = Roles::new(&[role("name = \"x\"\nmodels = [\"a[\"]")]);
        assert!(bad.unwrap_err().contains("role `x`, models"));
        let err = roles.check_known(&["admin", "nobody"]).unwrap_err();
        assert!(
            err.contains("nobody") && err.contains("admin, user"),
            "{err}"
        );
    }

    #[test]
    fn limits_merge_to_the_most_generous() {
        let a = Limits {
            requests_per_minute: Some(10),
            concurrent_streams: None,
            tokens_per_day: Some(100),
        };
        let b = Limits {
            requests_per_minute: Some(20),
            concurrent_streams: Some(2),
            tokens_per_day: Some(50),
        };
        let m = a.most_generous(b);
        assert_eq!(m.requests_per_minute, Some(20));
        assert_eq!(m.concurrent_streams, None);
        assert_eq!(m.tokens_per_day, Some(100));
    }
}
