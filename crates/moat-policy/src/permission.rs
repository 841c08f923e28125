//! Step 3, authorization: what a principal may do, asked in one place. A
//! route states the [`Permission`] it needs in its handler's types; the
//! gateway asks for models, tools and knowledge bases with the same
//! function, [`authorize`].

use std::fmt;

use moat_protocol::{ErrorCode, ErrorKind};

use crate::Principal;

/// Something a caller may or may not do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permission<'a> {
    /// Use the model of this name (chat, completions, embeddings).
    Model(&'a str),
    /// Have the server-side tool of this name offered and run. `roles` are
    /// the roles the tool's own definition lets use it, besides the roles
    /// that list the tool.
    Tool { name: &'a str, roles: &'a [String] },
    /// Read the knowledge base of this name.
    KnowledgeBase(&'a str),
    /// Create or change the knowledge base of this name (`None`: some
    /// knowledge base, as uploading a file asks).
    KnowledgeBaseWrite(Option<&'a str>),
    /// Use the admin API.
    Admin,
    /// Read the audit log.
    Audit,
    /// Read conversations that are not one's own.
    ReadAllConversations,
}

/// A permission the caller does not have. Names are echoed as the caller
/// sent them; whether a named thing exists is never said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Denied {
    what: DeniedWhat,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum DeniedWhat {
    Model(String),
    Tool(String),
    KnowledgeBase(String),
    KnowledgeBaseWrite(Option<String>),
    Admin,
    Audit,
    ReadAllConversations,
}

impl Denied {
    /// The tool `name` is not the caller's (or not registered: the same
    /// answer, so names cannot be probed).
    pub fn tool(name: &str) -> Self {
        Self {
            what: DeniedWhat::Tool(name.to_owned()),
        }
    }
}

/// May `principal` do `permission`? The one authorization function.
pub fn authorize(principal: &Principal, permission: Permission<'_>) -> Result<(), Denied> {
    let allowed = match permission {
        Permission::Model(model) => {
            principal.roles.iter().any(|r| r.models.matches(model))
                && principal
                    .key_models
                    .as_ref()
                    .is_none_or(|p| p.matches(model))
        }
        Permission::Tool { name, roles } => {
            principal.roles.iter().any(|r| r.tools.matches(name))
                || principal
                    .roles
                    .iter()
                    .any(|r| roles.iter().any(|allowed| *allowed == r.name))
        }
        Permission::KnowledgeBase(name) => principal
            .roles
            .iter()
            .any(|r| r.knowledge_bases.matches(name) || r.kb_write.matches(name)),
        Permission::KnowledgeBaseWrite(Some(name)) => {
            principal.roles.iter().any(|r| r.kb_write.matches(name))
        }
        Permission::KnowledgeBaseWrite(None) => principal
            .roles
            .iter()
            .any(|r| !r.kb_write.as_written().is_empty()),
        Permission::Admin => principal.roles.iter().any(|r| r.admin),
        Permission::Audit => principal.roles.iter().any(|r| r.admin || r.auditor),
        Permission::ReadAllConversations => {
            principal.roles.iter().any(|r| r.read_all_conversations)
        }
    };
    if allowed {
        return Ok(());
    }
    let what = match permission {
        Permission::Model(model) => DeniedWhat::Model(model.to_owned()),
        Permission::Tool { name, .. } => DeniedWhat::Tool(name.to_owned()),
        Permission::KnowledgeBase(name) => DeniedWhat::KnowledgeBase(name.to_owned()),
        Permission::KnowledgeBaseWrite(name) => {
            DeniedWhat::KnowledgeBaseWrite(name.map(str::to_owned))
        }
        Permission::Admin => DeniedWhat::Admin,
        Permission::Audit => DeniedWhat::Audit,
        Permission::ReadAllConversations => DeniedWhat::ReadAllConversations,
    };
    Err(Denied { what })
}

impl fmt::Display for Denied {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.what {
            DeniedWhat::Model(model) => {
                write!(f, "You are not allowed to use the model `{model}`.")
            }
            DeniedWhat::Tool(name) => write!(f, "You are not allowed to use the tool `{name}`."),
            DeniedWhat::KnowledgeBase(name) => {
                write!(
                    f,
                    "You are not allowed to read the knowledge base `{name}`."
                )
            }
            DeniedWhat::KnowledgeBaseWrite(Some(name)) => write!(
                f,
                "You are not allowed to create or change the knowledge base `{name}`."
            ),
            DeniedWhat::KnowledgeBaseWrite(None) => f.write_str(
                "You are not allowed to add documents to knowledge bases; a role with \
                 `kb_write` is needed.",
            ),
            DeniedWhat::Admin => {
                f.write_str("This API is for administrators; your key's roles do not include one.")
            }
            DeniedWhat::Audit => f.write_str("The audit log is for auditors and administrators."),
            DeniedWhat::ReadAllConversations => f.write_str(
                "Only a role with `read_all_conversations` may read other people's conversations.",
            ),
        }
    }
}

impl ErrorCode for Denied {
    fn error_kind(&self) -> ErrorKind {
        match self.what {
            DeniedWhat::Model(_) => ErrorKind::ModelNotAllowed,
            DeniedWhat::Tool(_) => ErrorKind::ToolNotAllowed,
            DeniedWhat::KnowledgeBase(_)
            | DeniedWhat::KnowledgeBaseWrite(_)
            | DeniedWhat::Admin
            | DeniedWhat::Audit
            | DeniedWhat::ReadAllConversations => ErrorKind::PermissionDenied,
        }
    }

    fn param(&self) -> Option<String> {
        match self.what {
            DeniedWhat::Model(_) => Some("model".to_owned()),
            DeniedWhat::Tool(_) => Some("moat.tools".to_owned()),
            DeniedWhat::KnowledgeBase(_) => Some("knowledge_base".to_owned()),
            DeniedWhat::KnowledgeBaseWrite(_)
            | DeniedWhat::Admin
            | DeniedWhat::Audit
            | DeniedWhat::ReadAllConversations => None,
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use moat_protocol::ApiError;

    use super::*;
    use crate::role::{RoleConfig, Roles};
    use crate::Credential;

    fn principal(roles_toml: &str, names: &[&str]) -> Principal {
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
            key_models: None,
        }
    }

    const ROLES: &str = r#"
[[roles]]
name = "analyst"
models = ["qwen3-*"]
tools = ["weather"]
knowledge_bases = ["handbook"]

[[roles]]
name = "auditor"
auditor = true

[[roles]]
name = "editor"
kb_write = ["team-*"]
"#;

    #[test]
    fn one_function_answers_every_permission() {
        let analyst = principal(ROLES, &["analyst"]);
        assert!(authorize(&analyst, Permission::Model("qwen3-8b")).is_ok());
        assert!(authorize(&analyst, Permission::KnowledgeBase("handbook")).is_ok());
        assert!(authorize(&analyst, Permission::Admin).is_err());
        assert!(authorize(&analyst, Permission::Audit).is_err());
        let auditor = principal(ROLES, &["auditor"]);
        assert!(authorize(&auditor, Permission::Audit).is_ok());
        assert!(authorize(&auditor, Permission::Admin).is_err());
        assert!(authorize(&auditor, Permission::Model("qwen3-8b")).is_err());
        // Not even administrators read others' conversations by default.
        let admin = principal(ROLES, &["admin"]);
        assert!(authorize(&admin, Permission::ReadAllConversations).is_err());
        let reader = principal(READER, &["reader"]);
        assert!(authorize(&reader, Permission::ReadAllConversations).is_ok());
    }

    const READER: &str = r#"
[[roles]]
name = "reader"
read_all_conversations = true
"#;

    #[test]
    fn writing_a_knowledge_base_is_granted_by_kb_write_and_includes_reading() {
        let editor = principal(ROLES, &["editor"]);
        assert!(authorize(&editor, Permission::KnowledgeBaseWrite(Some("team-hr"))).is_ok());
        assert!(authorize(&editor, Permission::KnowledgeBase("team-hr")).is_ok());
        assert!(authorize(&editor, Permission::KnowledgeBaseWrite(None)).is_ok());
        assert!(authorize(&editor, Permission::KnowledgeBaseWrite(Some("handbook"))).is_err());
        let analyst = principal(ROLES, &["analyst"]);
        // Reading is not writing.
        assert!(authorize(&analyst, Permission::KnowledgeBaseWrite(Some("handbook"))).is_err());
        assert!(authorize(&analyst, Permission::KnowledgeBaseWrite(None)).is_err());
        let error =
            ApiError::from(authorize(&analyst, Permission::KnowledgeBaseWrite(None)).unwrap_err());
        assert_eq!(error.kind, ErrorKind::PermissionDenied);
        assert!(error.message.contains("kb_write"), "{}", error.message);
    }

    #[test]
    fn a_tool_is_allowed_by_a_role_listing_it_or_by_its_own_roles() {
        let analyst = principal(ROLES, &["analyst"]);
        let none: &[String] = &[];
        assert!(authorize(
            &analyst,
            Permission::Tool {
                name: "weather",
                roles: none
            }
        )
        .is_ok());
        assert!(authorize(
            &analyst,
            Permission::Tool {
                name: "shell",
                roles: none
            }
        )
        .is_err());
        let own = ["analyst".to_owned()];
        assert!(authorize(
            &analyst,
            Permission::Tool {
                name: "shell",
                roles: &own
            }
        )
        .is_ok());
        let other = ["auditor".to_owned()];
        assert!(authorize(
            &analyst,
            Permission::Tool {
                name: "shell",
                roles: &other
            }
        )
        .is_err());
    }

    #[test]
    fn refusals_map_to_their_error_kinds_and_params() {
        let nobody = principal(ROLES, &[]);
        let error = |p| ApiError::from(authorize(&nobody, p).unwrap_err());
        let model = error(Permission::Model("secret-model"));
        assert_eq!(model.kind, ErrorKind::ModelNotAllowed);
        assert_eq!(model.param.as_deref(), Some("model"));
        assert_eq!(
            model.message,
            "You are not allowed to use the model `secret-model`."
        );
        let tool = error(Permission::Tool {
            name: "shell",
            roles: &[],
        });
        assert_eq!(tool.kind, ErrorKind::ToolNotAllowed);
        assert_eq!(tool.param.as_deref(), Some("moat.tools"));
        let admin = error(Permission::Admin);
        assert_eq!(admin.kind, ErrorKind::PermissionDenied);
        assert_eq!(admin.param, None);
        assert_eq!(error(Permission::Audit).kind, ErrorKind::PermissionDenied);
        assert_eq!(
            error(Permission::KnowledgeBase("hr")).kind,
            ErrorKind::PermissionDenied
        );
    }
}
