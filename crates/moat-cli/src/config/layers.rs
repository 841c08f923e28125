//! Reading the options in layers: the defaults, then the TOML file, then
//! `MOAT_*` variables, then flags. The file is read with serde (unknown keys
//! are errors naming the file, the line and the key); the environment and
//! the flags with clap, whose own defaults (shown by `--help`) are left out
//! so that they do not hide the file.

use std::ffi::OsString;
use std::path::Path;

use clap::error::{ContextKind, ContextValue, ErrorKind};
use clap::parser::ValueSource;
use clap::{ArgMatches, Command, FromArgMatches};

use super::{ConfigFile, Options};

/// Parse `args` (the program name first) with `command`. An invalid value
/// that came from a `MOAT_*` variable is reported with the variable's name.
pub fn parse_command_line(
    command: Command,
    args: Vec<OsString>,
) -> Result<ArgMatches, clap::Error> {
    command
        .clone()
        .try_get_matches_from(&args)
        .map_err(|e| name_the_variable(&command, e, &args))
}

/// The options of `moat serve` and `moat models`. `parsed` is what clap
/// made of `matches` (its defaults included); the file it names is read,
/// then every variable and flag that was given is laid over it.
pub fn load(parsed: Options, matches: &ArgMatches) -> anyhow::Result<Options> {
    load_with(&parsed.file, matches, |options, given| {
        options.update_from_arg_matches(given)
    })
}

/// The options of a command that reads only some of them (`moat keys`,
/// `moat usage`, `moat audit`): the file named by `file`, then what
/// `overlay` takes from the given variables and flags.
pub fn load_with(
    file: &ConfigFile,
    matches: &ArgMatches,
    overlay: impl FnOnce(&mut Options, &ArgMatches) -> Result<(), clap::Error>,
) -> anyhow::Result<Options> {
    let mut options = read_file(file.config.as_deref())?;
    options.file = file.clone();
    overlay(&mut options, &given(matches))?;
    Ok(options)
}

/// `matches` without the values clap filled in from its defaults: what the
/// environment and the command line said.
fn given(matches: &ArgMatches) -> ArgMatches {
    let mut given = matches.clone();
    let defaulted: Vec<String> = matches
        .ids()
        .filter(|id| matches.value_source(id.as_str()) == Some(ValueSource::DefaultValue))
        .map(|id| id.as_str().to_owned())
        .collect();
    for id in defaulted {
        let _ = given.try_clear_id(&id);
    }
    given
}

/// Read the file named by `--config`/`MOAT_CONFIG`; with none, the defaults.
fn read_file(path: Option<&Path>) -> anyhow::Result<Options> {
    let Some(path) = path else {
        return Ok(Options::default());
    };
    let text = std::fs::read_to_string(path)
        .map_err(|e| anyhow::anyhow!("cannot read configuration file {}: {e}", path.display()))?;
    parse_file(&text, path)
}

/// The file's text, read over the defaults; errors name `path` and the line.
pub fn parse_file(text: &str, path: &Path) -> anyhow::Result<Options> {
    toml::from_str(text).map_err(|e| {
        anyhow::anyhow!(
            "configuration file {}: {}",
            path.display(),
            message_with_line(&e, text)
        )
    })
}

fn message_with_line(error: &toml::de::Error, text: &str) -> String {
    match error.span() {
        Some(span) => {
            let line = text[..span.start.min(text.len())].matches('\n').count() + 1;
            format!("line {line}: {}", error.message())
        }
        None => error.message().to_owned(),
    }
}

/// Add "the value comes from the environment variable MOAT_…" to an invalid
/// value error whose flag was not on the command line (clap reads a
/// variable only then).
fn name_the_variable(command: &Command, mut error: clap::Error, args: &[OsString]) -> clap::Error {
    if !matches!(
        error.kind(),
        ErrorKind::InvalidValue | ErrorKind::ValueValidation
    ) {
        return error;
    }
    let Some(ContextValue::String(shown)) = error.get(ContextKind::InvalidArg) else {
        return error;
    };
    let Some(long) = shown
        .split_whitespace()
        .next()
        .and_then(|flag| flag.strip_prefix("--"))
    else {
        return error;
    };
    let Some(variable) = find_variable(command, long) else {
        return error;
    };
    let on_command_line = args.iter().skip(1).any(|a| {
        a.to_str().is_some_and(|a| {
            a.strip_prefix("--")
                .is_some_and(|a| a == long || a.starts_with(&format!("{long}=")))
        })
    });
    if on_command_line || std::env::var_os(&variable).is_none() {
        return error;
    }
    error.insert(
        ContextKind::Suggested,
        ContextValue::StyledStrs(vec![format!(
            "the value comes from the environment variable {}",
            variable.to_string_lossy()
        )
        .into()]),
    );
    error
}

/// The variable of the flag `--long`, in `command` or its subcommands.
fn find_variable(command: &Command, long: &str) -> Option<OsString> {
    command
        .get_arguments()
        .find(|a| a.get_long() == Some(long))
        .and_then(|a| a.get_env())
        .map(ToOwned::to_owned)
        .or_else(|| {
            command
                .get_subcommands()
                .find_map(|sub| find_variable(sub, long))
        })
}
