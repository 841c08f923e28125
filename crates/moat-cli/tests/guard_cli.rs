//! `moat guard scan` run as a process: exact JSON and text output, stdin,
//! and a clean error on input that is not UTF-8.

// Helpers of a test crate fail loudly too (clippy.toml allows it in tests).
#![allow(clippy::unwrap_used)]

use std::io::Write;
use std::process::{Command, Output, Stdio};

const TEXT: &str =
    "客户张三，身份证11010519491231002X，手机+86 138 1234 5678，邮箱zhang.san@example.com。\n";

fn moat(args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_moat"))
        .args(args)
        .env("MOAT_LOG", "error")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut pipe = child.stdin.take().unwrap();
    pipe.write_all(stdin.unwrap_or_default()).unwrap();
    drop(pipe);
    child.wait_with_output().unwrap()
}

fn stdout(output: &Output) -> String {
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout.clone()).unwrap()
}

#[test]
fn json_has_byte_offsets_text_and_mask() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("customers.txt");
    std::fs::write(&file, TEXT).unwrap();
    let out = stdout(&moat(
        &["guard", "scan", file.to_str().unwrap(), "--json"],
        None,
    ));
    let expected = concat!(
        r#"[{"kind":"id_card","start":24,"end":42,"text":"11010519491231002X","masked":"110105********002X"},"#,
        r#"{"kind":"mobile","start":51,"end":68,"text":"+86 138 1234 5678","masked":"138****5678"},"#,
        r#"{"kind":"email","start":77,"end":98,"text":"zhang.san@example.com","masked":"z***@example.com"}]"#,
        "\n"
    );
    assert_eq!(out, expected);
    let rows: Vec<serde_json::Value> = serde_json::from_str(&out).unwrap();
    for row in rows {
        let (start, end) = (
            row["start"].as_u64().unwrap() as usize,
            row["end"].as_u64().unwrap() as usize,
        );
        assert_eq!(&TEXT[start..end], row["text"].as_str().unwrap());
    }
}

#[test]
fn text_lines_from_stdin() {
    let out = stdout(&moat(&["guard", "scan", "-"], Some(TEXT.as_bytes())));
    assert_eq!(
        out,
        "id_card  24..42  110105********002X\nmobile  51..68  138****5678\nemail  77..98  z***@example.com\n"
    );
    let none = stdout(&moat(
        &["guard", "scan"],
        Some("nothing personal here".as_bytes()),
    ));
    assert_eq!(none, "");
    let empty = stdout(&moat(&["guard", "scan", "--json"], Some(b"")));
    assert_eq!(empty, "[]\n");
}

#[test]
fn input_that_is_not_utf8_is_refused() {
    let out = moat(&["guard", "scan", "-"], Some(b"ok \xff\xfe"));
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("not UTF-8 (at byte 3)"), "{err}");
}
