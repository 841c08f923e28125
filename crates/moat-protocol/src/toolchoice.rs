//! `tool_choice` of a chat request, parsed and checked against the tools
//! offered: `"none"`, `"auto"` (the default), `"required"` or
//! `{"type": "function", "function": {"name": ...}}`.

use serde_json::Value;

use crate::error::ApiError;

/// Whether and which tools the model must call.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum ToolChoice {
    /// No tool calls; the tools are not shown to the model.
    None,
    /// The model decides (the default).
    #[default]
    Auto,
    /// One or more calls of any of the tools.
    Required,
    /// Calls of this function only.
    Function(String),
}

impl ToolChoice {
    /// Parse `tool_choice` (absent: `auto`) for a request offering the
    /// tools named `tools`. A bad shape, a function not in `tools`, and
    /// `required` or a function with no tools are refused with a 400
    /// naming `tool_choice`.
    pub fn parse(value: Option<&Value>, tools: &[&str]) -> Result<Self, ApiError> {
        let choice = match value {
            None | Some(Value::Null) => Self::Auto,
            Some(Value::String(s)) => match s.as_str() {
                "none" => Self::None,
                "auto" => Self::Auto,
                "required" => Self::Required,
                other => {
                    return Err(invalid(format!(
                        "Invalid value: '{other}'. Supported values are: 'none', 'auto', and 'required'."
                    )))
                }
            },
            Some(Value::Object(map)) => {
                match map.get("type").and_then(Value::as_str) {
                    Some("function") => {}
                    Some(other) => {
                        return Err(invalid(format!(
                            "Invalid value: '{other}' for tool_choice.type. Supported values are: 'function'."
                        )))
                    }
                    None => return Err(invalid(
                        "Missing required parameter: 'tool_choice.type'.",
                    )),
                }
                let name = map
                    .get("function")
                    .and_then(|f| f.get("name"))
                    .and_then(Value::as_str)
                    .ok_or_else(|| {
                        invalid("Missing required parameter: 'tool_choice.function.name'.")
                    })?;
                Self::Function(name.to_owned())
            }
            Some(_) => {
                return Err(invalid(
                    "Invalid type for 'tool_choice': expected one of 'none', 'auto', 'required', or an object naming a function.",
                ))
            }
        };
        match &choice {
            Self::Required | Self::Function(_) if tools.is_empty() => Err(invalid(
                "Invalid value for 'tool_choice': 'tool_choice' is only allowed when 'tools' are specified.",
            )),
            Self::Function(name) if !tools.contains(&name.as_str()) => Err(invalid(format!(
                "Invalid value for 'tool_choice': no function named '{name}' was specified in the 'tools' parameter."
            ))),
            _ => Ok(choice),
        }
    }

    /// Whether the model must call a tool.
    pub fn forces_call(&self) -> bool {
        matches!(self, Self::Required | Self::Function(_))
    }
}

fn invalid(message: impl Into<String>) -> ApiError {
    ApiError::invalid_param("tool_choice", message)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    const TOOLS: [&str; 2] = ["get_weather", "send_email"];

    fn parse(value: Value) -> Result<ToolChoice, ApiError> {
        ToolChoice::parse(Some(&value), &TOOLS)
    }

    #[test]
    fn strings_and_named_functions_parse() {
        assert_eq!(ToolChoice::parse(None, &TOOLS).unwrap(), ToolChoice::Auto);
        assert_eq!(ToolChoice::parse(None, &[]).unwrap(), ToolChoice::Auto);
        assert_eq!(parse(Value::Null).unwrap(), ToolChoice::Auto);
        assert_eq!(parse(json!("none")).unwrap(), ToolChoice::None);
        assert_eq!(parse(json!("auto")).unwrap(), ToolChoice::Auto);
        assert_eq!(parse(json!("required")).unwrap(), ToolChoice::Required);
        let named = parse(json!({"type": "function", "function": {"name": "send_email"}})).unwrap();
        assert_eq!(named, ToolChoice::Function("send_email".into()));
        assert!(named.forces_call());
        assert!(!ToolChoice::Auto.forces_call());
        // `none` and `auto` need no tools.
        assert_eq!(
            ToolChoice::parse(Some(&json!("none")), &[]).unwrap(),
            ToolChoice::None
        );
    }

    #[test]
    fn bad_shapes_are_refused_naming_tool_choice() {
        for bad in [
            json!("sometimes"),
            json!(3),
            json!(["auto"]),
            json!({"function": {"name": "get_weather"}}),
            json!({"type": "custom", "function": {"name": "get_weather"}}),
            json!({"type": "function"}),
            json!({"type": "function", "function": {"name": 7}}),
        ] {
            let err = parse(bad.clone()).unwrap_err();
            assert_eq!(err.param.as_deref(), Some("tool_choice"), "{bad}");
            assert_eq!(err.status().as_u16(), 400);
        }
    }

    #[test]
    fn unknown_functions_and_forced_calls_without_tools_are_refused() {
        let unknown =
            parse(json!({"type": "function", "function": {"name": "rm_rf"}})).unwrap_err();
        assert!(unknown.message.contains("rm_rf"), "{}", unknown.message);
        assert_eq!(unknown.param.as_deref(), Some("tool_choice"));
        let required = ToolChoice::parse(Some(&json!("required")), &[]).unwrap_err();
        assert_eq!(required.param.as_deref(), Some("tool_choice"));
        let named = ToolChoice::parse(
            Some(&json!({"type": "function", "function": {"name": "get_weather"}})),
            &[],
        )
        .unwrap_err();
        assert_eq!(named.param.as_deref(), Some("tool_choice"));
    }
}
