//! From verified claims to a [`TokenIdentity`]: subject, roles, expiry.

use std::collections::BTreeMap;

use serde_json::Value;

use super::error::JwtError;
use super::TokenIdentity;

/// What to read from the claims.
#[derive(Debug)]
pub(crate) struct ClaimMapping {
    pub(crate) issuer: String,
    pub(crate) subject_claim: String,
    pub(crate) roles_claim: String,
    pub(crate) role_map: BTreeMap<String, Vec<String>>,
}

impl ClaimMapping {
    /// The identity in `claims`, whose signature, times and audience are
    /// already checked.
    pub(crate) fn identity(&self, claims: &Value) -> Result<TokenIdentity, JwtError> {
        // jsonwebtoken also accepts an array of issuers; moat wants exactly one.
        match claims.get("iss") {
            Some(Value::String(iss)) if *iss == self.issuer => {}
            Some(_) => return Err(JwtError::WrongIssuer),
            None => return Err(JwtError::MissingClaim("iss".to_owned())),
        }
        let subject = match lookup(claims, &self.subject_claim) {
            Some(Value::String(subject)) if !subject.is_empty() => subject.clone(),
            Some(_) => return Err(JwtError::InvalidClaim(self.subject_claim.clone())),
            None => return Err(JwtError::MissingClaim(self.subject_claim.clone())),
        };
        let expires_at = match claims.get("exp") {
            Some(Value::Number(exp)) => exp
                .as_i64()
                .or_else(|| exp.as_f64().map(|f| f as i64))
                .ok_or_else(|| JwtError::InvalidClaim("exp".to_owned()))?,
            Some(_) => return Err(JwtError::InvalidClaim("exp".to_owned())),
            None => return Err(JwtError::MissingClaim("exp".to_owned())),
        };
        let roles = self.roles(lookup(claims, &self.roles_claim));
        Ok(TokenIdentity {
            issuer: self.issuer.clone(),
            subject,
            roles,
            expires_at,
        })
    }

    /// Moat roles from the roles claim: its string values, through
    /// `role_map` when one is set, without duplicates.
    fn roles(&self, claim: Option<&Value>) -> Vec<String> {
        let values: Vec<&str> = match claim {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::String(one)) => vec![one.as_str()],
            Some(Value::Array(many)) => {
                let strings: Vec<&str> = many.iter().filter_map(Value::as_str).collect();
                if strings.len() != many.len() {
                    tracing::debug!(
                        claim = %self.roles_claim,
                        ignored = many.len() - strings.len(),
                        "roles claim holds values that are not strings; ignored"
                    );
                }
                strings
            }
            Some(_) => {
                tracing::debug!(
                    claim = %self.roles_claim,
                    "roles claim is neither a string nor a list; no roles"
                );
                Vec::new()
            }
        };
        let mut roles: Vec<String> = Vec::new();
        let mut push = |role: &str| {
            if !roles.iter().any(|r| r == role) {
                roles.push(role.to_owned());
            }
        };
        for value in values {
            if self.role_map.is_empty() {
                push(value);
            } else if let Some(mapped) = self.role_map.get(value) {
                mapped.iter().for_each(|role| push(role));
            }
        }
        roles
    }
}

/// The claim at `path`: a top-level claim of that exact name (names such as
/// `https://example.com/roles` contain dots), else the dotted path through
/// nested objects.
fn lookup<'a>(claims: &'a Value, path: &str) -> Option<&'a Value> {
    if let Some(value) = claims.get(path) {
        return Some(value);
    }
    path.split('.')
        .try_fold(claims, |value, segment| value.get(segment))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    fn mapping(roles_claim: &str, role_map: &[(&str, &[&str])]) -> ClaimMapping {
        ClaimMapping {
            issuer: "https://idp".to_owned(),
            subject_claim: "sub".to_owned(),
            roles_claim: roles_claim.to_owned(),
            role_map: role_map
                .iter()
                .map(|(k, v)| (k.to_string(), v.iter().map(|r| r.to_string()).collect()))
                .collect(),
        }
    }

    #[test]
    fn dotted_paths_and_dotted_names_are_both_found() {
        let claims = json!({
            "realm_access": {"roles": ["a"]},
            "https://example.com/roles": ["b"],
        });
        assert_eq!(lookup(&claims, "realm_access.roles"), Some(&json!(["a"])));
        assert_eq!(
            lookup(&claims, "https://example.com/roles"),
            Some(&json!(["b"]))
        );
        assert_eq!(lookup(&claims, "realm_access.groups"), None);
        assert_eq!(lookup(&claims, "realm_access.roles.x"), None);
    }

    #[test]
    fn roles_are_strings_mapped_and_deduplicated() {
        let plain = mapping("roles", &[]);
        assert_eq!(plain.roles(Some(&json!("one"))), ["one"]);
        assert_eq!(
            plain.roles(Some(&json!(["a", 1, "a", {"x": 1}, "b"]))),
            ["a", "b"]
        );
        assert!(plain.roles(Some(&json!(42))).is_empty());
        assert!(plain.roles(Some(&json!({"a": true}))).is_empty());
        assert!(plain.roles(None).is_empty());

        let mapped = mapping(
            "groups",
            &[("/staff", &["user"]), ("/ops", &["user", "admin"])],
        );
        assert_eq!(
            mapped.roles(Some(&json!(["/ops", "/staff", "/unknown"]))),
            ["user", "admin"]
        );
    }

    #[test]
    fn subject_and_expiry_are_required() {
        let m = mapping("roles", &[]);
        let ok = m
            .identity(&json!({"iss": "https://idp", "sub": "alice", "exp": 10}))
            .unwrap();
        assert_eq!(ok.subject, "alice");
        assert_eq!(ok.expires_at, 10);
        assert!(matches!(
            m.identity(&json!({"iss": "https://idp", "exp": 10})),
            Err(JwtError::MissingClaim(c)) if c == "sub"
        ));
        assert!(matches!(
            m.identity(&json!({"iss": "https://idp", "sub": 7, "exp": 10})),
            Err(JwtError::InvalidClaim(_))
        ));
        assert!(matches!(
            m.identity(&json!({"iss": ["https://idp"], "sub": "a", "exp": 10})),
            Err(JwtError::WrongIssuer)
        ));
    }
}
