//! Tests of the layers (defaults < file < environment < flags) through the
//! real command line parser, and of the defaults: the ones `--help` and the
//! docs show are the ones used, and they are the crates' own.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::ffi::OsString;
use std::path::PathBuf;
use std::sync::Mutex;

use clap::{Args, Command, FromArgMatches};
use moat_engine::EngineConfig;
use moat_policy::failures::FailureSettings;
use moat_router::embedded::EmbeddedSettings;
use moat_server::{ConnectionLimits, ToolLoopSettings};

use super::*;

/// Tests that set `MOAT_*` variables take turns: the environment is the
/// process's.
static ENVIRONMENT: Mutex<()> = Mutex::new(());

/// `moat serve` as the binary declares it.
fn serve_command() -> Command {
    Command::new("moat").subcommand(Options::augment_args(Command::new("serve")))
}

/// The options of `moat serve ARGS` with `file` as its configuration file
/// (through `MOAT_CONFIG`) and `env` set.
pub(super) fn layered(
    file: Option<&str>,
    args: &[&str],
    env: &[(&str, &str)],
) -> anyhow::Result<Options> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("moat.toml");
    let mut env = env.to_vec();
    let config = path.to_string_lossy().into_owned();
    if let Some(text) = file {
        std::fs::write(&path, text)?;
        env.push(("MOAT_CONFIG", &config));
    }
    let argv = ["moat", "serve"]
        .iter()
        .chain(args)
        .map(OsString::from)
        .collect();
    let matches = with_env(&env, || parse_command_line(serve_command(), argv))?;
    let (_, sub) = matches.subcommand().expect("serve");
    load(Options::from_arg_matches(sub)?, sub)
}

/// Run `f` with exactly `env` among the variables of `moat serve`.
fn with_env<T>(env: &[(&str, &str)], f: impl FnOnce() -> T) -> T {
    let _turn = ENVIRONMENT.lock().unwrap_or_else(|e| e.into_inner());
    let command = serve_command();
    let serve = command.find_subcommand("serve").expect("serve");
    for arg in serve.get_arguments() {
        if let Some(var) = arg.get_env() {
            std::env::remove_var(var);
        }
    }
    for (k, v) in env {
        std::env::set_var(k, v);
    }
    let out = f();
    for (k, _) in env {
        std::env::remove_var(k);
    }
    out
}

#[test]
fn each_layer_wins_over_the_one_before() {
    let file = "parallel = 2\nlisten = \"0.0.0.0:9000\"\n\
                [store]\nurl = \"file.db\"\n\
                [connections]\nmax_per_client = 8\n";
    let defaults = layered(None, &[], &[]).unwrap();
    assert_eq!(defaults.parallel, 4);
    assert_eq!(defaults.listen.to_string(), "127.0.0.1:8080");
    assert_eq!(defaults.store.url, "data/moat.db");
    assert_eq!(defaults.connections.max_per_client, 64);

    // The flags' own defaults do not hide the file.
    let from_file = layered(Some(file), &[], &[]).unwrap();
    assert_eq!(from_file.parallel, 2);
    assert_eq!(from_file.listen.to_string(), "0.0.0.0:9000");
    assert_eq!(from_file.store.url, "file.db");
    assert_eq!(from_file.connections.max_per_client, 8);

    let env = [
        ("MOAT_PARALLEL", "3"),
        ("MOAT_STORE", "env.db"),
        ("MOAT_MAX_CONNECTIONS_PER_CLIENT", "16"),
    ];
    let from_env = layered(Some(file), &[], &env).unwrap();
    assert_eq!(from_env.parallel, 3);
    assert_eq!(from_env.listen.to_string(), "0.0.0.0:9000");
    assert_eq!(from_env.store.url, "env.db");
    assert_eq!(from_env.connections.max_per_client, 16);

    let flags = [
        "--parallel",
        "8",
        "--store=flag.db",
        "--max-connections-per-client",
        "32",
    ];
    let from_flags = layered(Some(file), &flags, &env).unwrap();
    assert_eq!(from_flags.parallel, 8);
    assert_eq!(from_flags.listen.to_string(), "0.0.0.0:9000");
    assert_eq!(from_flags.store.url, "flag.db");
    assert_eq!(from_flags.connections.max_per_client, 32);
}

#[test]
fn lists_take_one_or_many_and_commas() {
    let one = layered(Some("models_dir = \"a\"\n"), &[], &[]).unwrap();
    assert_eq!(one.models_dir, [PathBuf::from("a")]);
    let env = layered(
        Some("models_dir = [\"a\", \"b\"]\n"),
        &[],
        &[("MOAT_MODELS_DIR", "c,d")],
    )
    .unwrap();
    assert_eq!(env.models_dir, [PathBuf::from("c"), PathBuf::from("d")]);
    let proxies = layered(
        Some("trusted_proxies = [\"10.0.0.1\"]\n"),
        &["--trusted-proxies", "10.0.0.0/8,192.168.0.1"],
        &[],
    )
    .unwrap();
    assert_eq!(proxies.trusted_proxies, ["10.0.0.0/8", "192.168.0.1"]);
}

#[test]
fn the_tool_grammar_switch_goes_through_every_layer() {
    let grammar = |file: Option<&str>, args: &[&str], env: &[(&str, &str)]| {
        let options = layered(file, args, env).unwrap();
        EmbeddedSettings::from(&options).tool_grammar
    };
    let off = "tool_grammar = \"off\"\n";
    assert!(grammar(None, &[], &[]));
    assert!(!grammar(Some(off), &[], &[]));
    assert!(grammar(Some(off), &[], &[("MOAT_TOOL_GRAMMAR", "on")]));
    assert!(!grammar(None, &[], &[("MOAT_TOOL_GRAMMAR", "off")]));
    // What benches/tool_validity.py and older scripts set.
    assert!(!grammar(None, &[], &[("MOAT_TOOL_GRAMMAR", "0")]));
    assert!(!grammar(None, &[], &[("MOAT_TOOL_GRAMMAR", "OFF")]));
    assert!(!grammar(
        Some(off),
        &["--tool-grammar", "off"],
        &[("MOAT_TOOL_GRAMMAR", "on")]
    ));
    assert!(grammar(
        Some(off),
        &["--tool-grammar", "on"],
        &[("MOAT_TOOL_GRAMMAR", "off")]
    ));
    let err = layered(Some("tool_grammar = \"maybe\"\n"), &[], &[])
        .unwrap_err()
        .to_string();
    assert!(err.contains("maybe") && err.contains("line 1"), "{err}");
}

#[test]
fn a_bad_value_from_the_environment_names_the_variable() {
    let err = layered(None, &[], &[("MOAT_PARALLEL", "many")]).unwrap_err();
    let text = err
        .downcast_ref::<clap::Error>()
        .expect("a command line error")
        .render()
        .to_string();
    assert!(
        text.contains("MOAT_PARALLEL") && text.contains("many"),
        "{text}"
    );
    let err = layered(None, &[], &[("MOAT_TOOL_GRAMMAR", "maybe")]).unwrap_err();
    let text = err
        .downcast_ref::<clap::Error>()
        .unwrap()
        .render()
        .to_string();
    assert!(text.contains("MOAT_TOOL_GRAMMAR"), "{text}");
    // A bad flag is the flag's fault, even with the variable set.
    let err = layered(None, &["--parallel", "x"], &[("MOAT_PARALLEL", "3")]).unwrap_err();
    let text = err
        .downcast_ref::<clap::Error>()
        .unwrap()
        .render()
        .to_string();
    assert!(
        text.contains("--parallel") && !text.contains("MOAT_PARALLEL"),
        "{text}"
    );
}

#[test]
fn unknown_keys_in_a_table_name_the_file_the_line_and_the_key() {
    let err = layered(
        Some("parallel = 2\n[connections]\nmax_per_clients = 3\n"),
        &[],
        &[],
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("moat.toml") && err.contains("line 3") && err.contains("max_per_clients"),
        "{err}"
    );
    let err = layered(Some("config = \"other.toml\"\n"), &[], &[])
        .unwrap_err()
        .to_string();
    assert!(err.contains("unknown field `config`"), "{err}");
}

/// The defaults `--help` shows, the file's and `Options::default()` are
/// one, and each section's are its crate's.
#[test]
fn every_layer_has_the_same_defaults_and_they_are_the_crates() {
    let parsed = with_env(&[], || {
        let matches = serve_command()
            .try_get_matches_from(["moat", "serve"])
            .unwrap();
        Options::from_arg_matches(matches.subcommand().unwrap().1).unwrap()
    });
    let empty = layers::parse_file("", std::path::Path::new("moat.toml")).unwrap();
    let default = Options::default();
    assert_eq!(format!("{parsed:?}"), format!("{default:?}"));
    assert_eq!(format!("{empty:?}"), format!("{default:?}"));

    assert_eq!(
        EngineConfig::try_from(&default).unwrap(),
        EngineConfig::default()
    );
    assert_eq!(
        EmbeddedSettings::from(&default),
        EmbeddedSettings::default()
    );
    assert_eq!(
        ConnectionLimits::try_from(&default.connections).unwrap(),
        ConnectionLimits::default()
    );
    assert_eq!(
        ToolLoopSettings::try_from(&default.tool_loop).unwrap(),
        ToolLoopSettings::default()
    );
    assert_eq!(
        FailureSettings::try_from(&default.auth).unwrap(),
        FailureSettings::default()
    );
    let c = Config::resolve(default).unwrap();
    assert_eq!(
        c.max_body_bytes,
        moat_server::ServerOptions::DEFAULT_MAX_BODY_BYTES
    );
    assert_eq!(
        c.shutdown_grace,
        moat_server::ServerOptions::DEFAULT_SHUTDOWN_GRACE
    );
    assert_eq!(c.audit.retention, moat_audit::MIN_RETENTION);
    assert_eq!(c.guard.policy, moat_guard::Policy::default());
}

/// docs/configuration.md names every flag and variable of `moat serve`,
/// with the default `--help` shows.
#[test]
fn the_configuration_reference_lists_every_flag_with_its_default() {
    let doc = include_str!("../../../../docs/configuration.md");
    let command = serve_command();
    let serve = command.find_subcommand("serve").unwrap();
    for arg in serve.get_arguments() {
        // `--config` names the file itself; the page's first lines say so.
        let Some(long) = arg.get_long().filter(|l| *l != "config") else {
            continue;
        };
        let flag = format!("`--{long}`");
        let row = doc
            .lines()
            .find(|l| l.starts_with('|') && l.contains(&flag))
            .unwrap_or_else(|| panic!("docs/configuration.md has no row for {flag}"));
        if let Some(var) = arg.get_env() {
            let var = format!("`{}`", var.to_string_lossy());
            assert!(row.contains(&var), "the row of {flag} does not name {var}");
        }
        for default in arg.get_default_values() {
            let default = format!("`{}`", default.to_string_lossy());
            assert!(
                row.contains(&default),
                "the row of {flag} does not give its default {default}"
            );
        }
    }
}
