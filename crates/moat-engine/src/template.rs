//! Chat templates: the Jinja template stored in the GGUF file, rendered with
//! minijinja in a sandbox (no file system, an instruction budget, bounded
//! output) with Hugging Face semantics: `messages`, `tools`,
//! `add_generation_prompt`, `bos_token`, `eos_token`, `raise_exception`,
//! `strftime_now`, Python string methods and a Python-compatible `tojson`.
//! Templates come only from model files, never from requests.

use minijinja::value::{Kwargs, Value as JValue};
use minijinja::{Environment, Error as JError, ErrorKind as JErrorKind};
use moat_protocol::time::{civil_from_days, Date};
use serde::Serialize;
use serde_json::{Map, Value};

/// Instructions one rendering may execute.
const FUEL: u64 = 2_000_000;
/// Longest prompt a template may produce.
const MAX_OUTPUT_BYTES: usize = 16 << 20;

/// ChatML, used when a model carries no template.
pub const CHATML: &str = "{%- for message in messages %}{{- '<|im_start|>' + message.role + '\n' + (message.content or '') + '<|im_end|>\n' }}{%- endfor %}{%- if add_generation_prompt %}{{- '<|im_start|>assistant\n' }}{%- endif %}";

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TemplateError {
    /// The template is not valid Jinja; found when the model loads.
    #[error("the model's chat template does not compile: {0}")]
    Compile(String),
    /// The template refused these messages (`raise_exception`) or failed on them.
    #[error("the model's chat template rejected the messages: {0}")]
    Render(String),
    #[error("the model's chat template exceeded its instruction budget")]
    OutOfFuel,
    #[error("the rendered prompt exceeds {MAX_OUTPUT_BYTES} bytes")]
    TooLarge,
}

/// A compiled chat template.
pub struct ChatTemplate {
    env: Environment<'static>,
    bos_token: String,
    eos_token: String,
    /// The template knows `<think>` blocks (Qwen3, DeepSeek-R1...).
    pub reasoning: bool,
    /// The template renders `tools` itself.
    pub supports_tools: bool,
}

/// What a template is rendered with.
#[derive(Debug, Default, Serialize)]
pub struct TemplateInput<'a> {
    pub messages: &'a [Value],
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tools: Option<&'a [Value]>,
    pub add_generation_prompt: bool,
}

impl ChatTemplate {
    /// Compile `source` (or ChatML when `None`).
    pub fn new(
        source: Option<&str>,
        bos_token: &str,
        eos_token: &str,
    ) -> Result<Self, TemplateError> {
        let source = source.unwrap_or(CHATML).to_owned();
        let reasoning = source.contains("<think>");
        let supports_tools = source.contains("tools");
        let mut env = Environment::new();
        env.set_fuel(Some(FUEL));
        env.set_recursion_limit(64);
        env.set_trim_blocks(false);
        env.set_lstrip_blocks(false);
        env.set_keep_trailing_newline(true);
        env.set_unknown_method_callback(minijinja_contrib::pycompat::unknown_method_callback);
        env.add_function("raise_exception", raise_exception);
        env.add_function("strftime_now", strftime_now);
        env.add_filter("tojson", tojson);
        env.add_template_owned("chat", source)
            .map_err(|e| TemplateError::Compile(describe(&e)))?;
        Ok(Self {
            env,
            bos_token: bos_token.to_owned(),
            eos_token: eos_token.to_owned(),
            reasoning,
            supports_tools,
        })
    }

    /// Render the prompt. `kwargs` (`chat_template_kwargs`) become extra
    /// template variables; they cannot override the reserved ones.
    pub fn render(
        &self,
        input: &TemplateInput<'_>,
        kwargs: Option<&Map<String, Value>>,
    ) -> Result<String, TemplateError> {
        let described;
        let messages = match input.tools {
            Some(tools) if !tools.is_empty() && !self.supports_tools => {
                described = with_tools_in_system_prompt(input.messages, tools)?;
                &described[..]
            }
            _ => input.messages,
        };
        let mut ctx = Map::new();
        if let Some(kwargs) = kwargs {
            for (k, v) in kwargs {
                ctx.insert(k.clone(), v.clone());
            }
        }
        ctx.insert("messages".into(), Value::from(messages.to_vec()));
        if let Some(tools) = input.tools {
            ctx.insert("tools".into(), Value::from(tools.to_vec()));
        }
        ctx.insert(
            "add_generation_prompt".into(),
            Value::Bool(input.add_generation_prompt),
        );
        ctx.insert("bos_token".into(), Value::from(self.bos_token.clone()));
        ctx.insert("eos_token".into(), Value::from(self.eos_token.clone()));
        let template = self
            .env
            .get_template("chat")
            .map_err(|e| TemplateError::Compile(describe(&e)))?;
        let out = template
            .render(JValue::from_serialize(&ctx))
            .map_err(|e| match e.kind() {
                JErrorKind::OutOfFuel => TemplateError::OutOfFuel,
                _ => TemplateError::Render(describe(&e)),
            })?;
        if out.len() > MAX_OUTPUT_BYTES {
            return Err(TemplateError::TooLarge);
        }
        Ok(out)
    }
}

/// For templates that ignore `tools`: the tools described in the system
/// message the way Hermes and Qwen models were trained on, so calls come
/// back as `<tool_call>` blocks. Prepended to the first system message, or
/// in a new one.
fn with_tools_in_system_prompt(
    messages: &[Value],
    tools: &[Value],
) -> Result<Vec<Value>, TemplateError> {
    let mut signatures = String::new();
    for tool in tools {
        let mut line = Vec::new();
        let mut ser = serde_json::Serializer::with_formatter(&mut line, PythonFormatter);
        tool.serialize(&mut ser)
            .map_err(|e| TemplateError::Render(e.to_string()))?;
        signatures.push('\n');
        signatures.push_str(&String::from_utf8_lossy(&line));
    }
    let description = format!(
        "You may call one or more functions to assist with the user query.\n\n\
         You are provided with function signatures within <tools></tools> XML tags:\n\
         <tools>{signatures}\n</tools>\n\n\
         For each function call, return a json object with function name and arguments \
         within <tool_call></tool_call> XML tags:\n\
         <tool_call>\n{{\"name\": <function-name>, \"arguments\": <args-json-object>}}\n</tool_call>"
    );
    let mut out = messages.to_vec();
    let system = out
        .first_mut()
        .filter(|m| m.get("role").and_then(Value::as_str) == Some("system"))
        .and_then(Value::as_object_mut);
    match system {
        Some(system) => {
            let existing = system
                .get("content")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let content = if existing.is_empty() {
                description
            } else {
                format!("{description}\n\n{existing}")
            };
            system.insert("content".into(), Value::String(content));
        }
        None => out.insert(
            0,
            serde_json::json!({"role": "system", "content": description}),
        ),
    }
    Ok(out)
}

/// The error's own message, with `raise_exception` text kept verbatim.
fn describe(e: &JError) -> String {
    match e.detail() {
        Some(d) => d.to_owned(),
        None => e.to_string(),
    }
}

fn raise_exception(message: String) -> Result<JValue, JError> {
    Err(JError::new(JErrorKind::InvalidOperation, message))
}

/// Python's `json.dumps(x, ensure_ascii=False, indent=indent)`, which is
/// what Hugging Face's `tojson` does: `", "` and `": "` separators, key
/// order kept, no HTML escaping (minijinja's own `tojson` escapes `<`).
fn tojson(value: JValue, kwargs: Kwargs) -> Result<JValue, JError> {
    let indent: Option<usize> = kwargs.get("indent")?;
    let _: Option<bool> = kwargs.get("ensure_ascii")?;
    let _: Option<bool> = kwargs.get("sort_keys")?;
    kwargs.assert_all_used()?;
    let json = serde_json::to_value(&value)
        .map_err(|e| JError::new(JErrorKind::InvalidOperation, e.to_string()))?;
    let mut out = Vec::new();
    let result = match indent {
        Some(n) => {
            let pad = vec![b' '; n];
            let fmt = serde_json::ser::PrettyFormatter::with_indent(&pad);
            let mut ser = serde_json::Serializer::with_formatter(&mut out, fmt);
            json.serialize(&mut ser)
        }
        None => {
            let mut ser = serde_json::Serializer::with_formatter(&mut out, PythonFormatter);
            json.serialize(&mut ser)
        }
    };
    result.map_err(|e| JError::new(JErrorKind::InvalidOperation, e.to_string()))?;
    let s = String::from_utf8(out)
        .map_err(|e| JError::new(JErrorKind::InvalidOperation, e.to_string()))?;
    Ok(JValue::from_safe_string(s))
}

/// serde_json formatter with Python's default separators.
struct PythonFormatter;

impl serde_json::ser::Formatter for PythonFormatter {
    fn begin_array_value<W: ?Sized + std::io::Write>(
        &mut self,
        writer: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        if first {
            Ok(())
        } else {
            writer.write_all(b", ")
        }
    }

    fn begin_object_key<W: ?Sized + std::io::Write>(
        &mut self,
        writer: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        if first {
            Ok(())
        } else {
            writer.write_all(b", ")
        }
    }

    fn begin_object_value<W: ?Sized + std::io::Write>(
        &mut self,
        writer: &mut W,
    ) -> std::io::Result<()> {
        writer.write_all(b": ")
    }
}

/// `strftime_now(format)` with the common `%Y %m %d %H %M %S %b %B %A %a %y %e %%`.
fn strftime_now(format: String) -> String {
    strftime(&format, moat_protocol::time::now_secs())
}

fn strftime(format: &str, secs: u64) -> String {
    const MONTHS: [&str; 12] = [
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ];
    const DAYS: [&str; 7] = [
        "Thursday",
        "Friday",
        "Saturday",
        "Sunday",
        "Monday",
        "Tuesday",
        "Wednesday",
    ];
    let days = secs / 86_400;
    let rem = secs % 86_400;
    let Date {
        year: y,
        month: m,
        day: d,
    } = civil_from_days(days as i64);
    let month = MONTHS[(m - 1) as usize];
    let weekday = DAYS[(days % 7) as usize];
    let mut out = String::new();
    let mut chars = format.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('Y') => out += &y.to_string(),
            Some('y') => out += &format!("{:02}", y % 100),
            Some('m') => out += &format!("{m:02}"),
            Some('d') => out += &format!("{d:02}"),
            Some('e') => out += &format!("{d:>2}"),
            Some('H') => out += &format!("{:02}", rem / 3600),
            Some('M') => out += &format!("{:02}", rem % 3600 / 60),
            Some('S') => out += &format!("{:02}", rem % 60),
            Some('B') => out += month,
            Some('b') => out += &month[..3],
            Some('A') => out += weekday,
            Some('a') => out += &weekday[..3],
            Some('%') => out.push('%'),
            Some(other) => {
                out.push('%');
                out.push(other);
            }
            None => out.push('%'),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    fn msgs(v: Value) -> Vec<Value> {
        v.as_array().unwrap().clone()
    }

    #[test]
    fn chatml_fallback_renders_a_conversation() {
        let t = ChatTemplate::new(None, "", "").unwrap();
        let m =
            msgs(json!([{"role":"system","content":"Be brief."},{"role":"user","content":"Hi"}]));
        let out = t
            .render(
                &TemplateInput {
                    messages: &m,
                    tools: None,
                    add_generation_prompt: true,
                },
                None,
            )
            .unwrap();
        assert_eq!(
            out,
            "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"
        );
    }

    #[test]
    fn raise_exception_becomes_a_render_error_with_its_message() {
        let t = ChatTemplate::new(
            Some("{% if messages[0].role != 'user' %}{{ raise_exception('Conversation must start with user') }}{% endif %}"),
            "",
            "",
        )
        .unwrap();
        let m = msgs(json!([{"role":"assistant","content":"x"}]));
        let err = t
            .render(
                &TemplateInput {
                    messages: &m,
                    ..Default::default()
                },
                None,
            )
            .unwrap_err();
        assert_eq!(
            err,
            TemplateError::Render("Conversation must start with user".into())
        );
    }

    #[test]
    fn infinite_loops_run_out_of_fuel() {
        let t = ChatTemplate::new(
            Some(
                "{% for a in range(100000) %}{% for b in range(100000) %}x{% endfor %}{% endfor %}",
            ),
            "",
            "",
        )
        .unwrap();
        let err = t.render(&TemplateInput::default(), None).unwrap_err();
        assert_eq!(err, TemplateError::OutOfFuel);
    }

    #[test]
    fn templates_cannot_include_files() {
        let t = ChatTemplate::new(Some("{% include '/etc/passwd' %}"), "", "").unwrap();
        assert!(matches!(
            t.render(&TemplateInput::default(), None),
            Err(TemplateError::Render(_))
        ));
    }

    #[test]
    fn tojson_matches_python_json_dumps() {
        let t = ChatTemplate::new(
            Some("{{ tools[0] | tojson }}|{{ tools[0] | tojson(indent=2) }}"),
            "",
            "",
        )
        .unwrap();
        let tools = msgs(
            json!([{"name":"get_weather","parameters":{"type":"object","properties":{"city":{"type":"string","description":"<city>"}}}}]),
        );
        let out = t
            .render(
                &TemplateInput {
                    tools: Some(&tools),
                    ..Default::default()
                },
                None,
            )
            .unwrap();
        let (compact, pretty) = out.split_once('|').unwrap();
        assert_eq!(
            compact,
            r#"{"name": "get_weather", "parameters": {"type": "object", "properties": {"city": {"type": "string", "description": "<city>"}}}}"#
        );
        assert!(pretty.starts_with("{\n  \"name\": \"get_weather\",\n"));
    }

    #[test]
    fn python_string_methods_and_kwargs_work() {
        let src = "{%- for m in messages %}{{ m.content.strip().startswith('a') }}{% endfor %}{% if enable_thinking is defined and enable_thinking is false %}<think>\n\n</think>{% endif %}";
        let t = ChatTemplate::new(Some(src), "", "").unwrap();
        let m = msgs(json!([{"role":"user","content":"  abc "}]));
        let kwargs = json!({"enable_thinking": false});
        let out = t
            .render(
                &TemplateInput {
                    messages: &m,
                    ..Default::default()
                },
                kwargs.as_object(),
            )
            .unwrap();
        assert_eq!(out, "True<think>\n\n</think>");
        assert!(t.reasoning);
    }

    #[test]
    fn kwargs_cannot_override_messages() {
        let t = ChatTemplate::new(Some("{{ messages | length }}"), "", "").unwrap();
        let m = msgs(json!([{"role":"user","content":"x"}]));
        let kwargs = json!({"messages": [1, 2, 3]});
        let out = t
            .render(
                &TemplateInput {
                    messages: &m,
                    ..Default::default()
                },
                kwargs.as_object(),
            )
            .unwrap();
        assert_eq!(out, "1");
    }

    fn weather_tool() -> Vec<Value> {
        msgs(
            json!([{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}]),
        )
    }

    fn render_with_tools(t: &ChatTemplate, m: &[Value]) -> String {
        let tools = weather_tool();
        t.render(
            &TemplateInput {
                messages: m,
                tools: Some(&tools),
                add_generation_prompt: true,
            },
            None,
        )
        .unwrap()
    }

    #[test]
    fn templates_without_tool_support_get_tools_in_the_system_prompt() {
        let t = ChatTemplate::new(None, "", "").unwrap();
        assert!(!t.supports_tools);
        let signature = r#"<tools>
{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}
</tools>"#;

        let m = msgs(
            json!([{"role":"system","content":"Be brief."},{"role":"user","content":"Weather in Oslo?"}]),
        );
        let out = render_with_tools(&t, &m);
        assert!(out.starts_with(
            "<|im_start|>system\nYou may call one or more functions to assist with the user query."
        ));
        assert!(out.contains(signature), "{out}");
        assert!(out.contains("<tool_call>\n{\"name\": <function-name>, \"arguments\": <args-json-object>}\n</tool_call>\n\nBe brief.<|im_end|>\n<|im_start|>user\nWeather in Oslo?"), "{out}");

        let m = msgs(json!([{"role":"user","content":"Weather in Oslo?"}]));
        let out = render_with_tools(&t, &m);
        assert!(out.starts_with("<|im_start|>system\nYou may call"));
        assert!(out.contains(signature));
        assert!(out.ends_with("</tool_call><|im_end|>\n<|im_start|>user\nWeather in Oslo?<|im_end|>\n<|im_start|>assistant\n"), "{out}");

        // Without tools, nothing is added.
        let plain = t
            .render(
                &TemplateInput {
                    messages: &m,
                    tools: Some(&[]),
                    add_generation_prompt: true,
                },
                None,
            )
            .unwrap();
        assert!(!plain.contains("<tools>"));
    }

    #[test]
    fn smollm2_template_gets_tools_instead_of_its_default_system_prompt() {
        // SmolLM2-135M-Instruct's template, as stored in its GGUF file.
        let src = "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}{{ '<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n' }}{% endif %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}";
        let t = ChatTemplate::new(Some(src), "", "").unwrap();
        assert!(!t.supports_tools);
        let m = msgs(json!([{"role":"user","content":"Weather in Oslo?"}]));
        let out = render_with_tools(&t, &m);
        assert!(out.starts_with("<|im_start|>system\nYou may call one or more functions"));
        assert_eq!(out.matches("get_weather").count(), 1);
        assert!(!out.contains("SmolLM"));
    }

    #[test]
    fn templates_with_tool_support_render_tools_once() {
        // The shape of Qwen3's template: tools in its own system block.
        let src = "{%- if tools %}<|im_start|>system\n{% if messages[0].role == 'system' %}{{ messages[0].content }}\n\n{% endif %}# Tools\n<tools>{% for tool in tools %}\n{{ tool | tojson }}{% endfor %}\n</tools><|im_end|>\n{%- endif %}{%- for message in messages %}{%- if message.role != 'system' %}<|im_start|>{{ message.role }}\n{{ message.content }}<|im_end|>\n{%- endif %}{%- endfor %}";
        let t = ChatTemplate::new(Some(src), "", "").unwrap();
        assert!(t.supports_tools);
        let m = msgs(
            json!([{"role":"system","content":"Be brief."},{"role":"user","content":"Weather?"}]),
        );
        let out = render_with_tools(&t, &m);
        assert_eq!(out.matches("<tools>").count(), 1, "{out}");
        assert_eq!(out.matches("get_weather").count(), 1, "{out}");
        assert!(!out.contains("You may call"));
        assert!(out.starts_with("<|im_start|>system\nBe brief.\n\n# Tools\n<tools>"));
    }

    #[test]
    fn strftime_formats_known_dates() {
        // 2024-02-29 13:05:09 UTC
        let secs = 1_709_211_909;
        assert_eq!(
            strftime("%d %b %Y %H:%M:%S %A", secs),
            "29 Feb 2024 13:05:09 Thursday"
        );
        assert_eq!(strftime("%B %e, %y %%", secs), "February 29, 24 %");
    }
}
