//! The fallback PDF reader: poppler's `pdftotext`, run as a child process
//! when it is installed (`pdftotext -layout -enc UTF-8 -q - -`, the PDF on
//! standard input, the text on standard output). The child is killed at the
//! extraction's deadline.

use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::blocks::text_too_large;
use super::ExtractError;

/// The program looked up on `PATH`.
const PROGRAM: &str = "pdftotext";

/// How often the child is checked for having exited.
const POLL: Duration = Duration::from_millis(10);

/// The text of `pdf`, one string a page; `Ok(None)` when `pdftotext` is not
/// installed or could not read the file. Text beyond `max_text_bytes` is
/// [`ExtractError::TooLarge`], a child still running at `deadline`
/// [`ExtractError::TimedOut`].
pub(crate) fn pages(
    pdf: &[u8],
    max_text_bytes: usize,
    deadline: Instant,
) -> Result<Option<Vec<String>>, ExtractError> {
    let spawned = Command::new(PROGRAM)
        .args(["-layout", "-enc", "UTF-8", "-q", "-", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn();
    let Ok(mut child) = spawned else {
        return Ok(None);
    };
    let stdin = child.stdin.take();
    let stdout = child.stdout.take();
    std::thread::scope(|scope| {
        // The child reads its input while it writes its output: feed and
        // drain it on threads of their own so neither pipe can fill up.
        let feeder = std::thread::Builder::new().spawn_scoped(scope, move || {
            if let Some(mut stdin) = stdin {
                // A child that stops reading (a damaged file) closes the
                // pipe; that is its exit status's business.
                let _ = stdin.write_all(pdf);
            }
        });
        let drainer = std::thread::Builder::new()
            .spawn_scoped(scope, move || stdout.map(|out| drain(out, max_text_bytes)));
        let (Ok(feeder), Ok(drainer)) = (feeder, drainer) else {
            let _ = child.kill();
            let _ = child.wait();
            return Ok(None);
        };
        let status = loop {
            match child.try_wait() {
                Ok(Some(status)) => break Some(status),
                Ok(None) if Instant::now() >= deadline => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(ExtractError::TimedOut);
                }
                Ok(None) => std::thread::sleep(POLL),
                Err(_) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    break None;
                }
            }
        };
        let _ = feeder.join();
        let drained = drainer.join().ok().flatten();
        let (Some(status), Some(drained)) = (status, drained) else {
            return Ok(None);
        };
        if !status.success() {
            return Ok(None);
        }
        let Drained::Kept(bytes) = drained else {
            return Err(text_too_large(max_text_bytes));
        };
        let text = String::from_utf8_lossy(&bytes);
        Ok(Some(split_pages(&text)))
    })
}

/// What came out of the child's standard output.
enum Drained {
    Kept(Vec<u8>),
    /// More than the text limit (the rest was read and discarded).
    Overflowed,
}

/// Reads `out` to its end, keeping at most `max` bytes.
fn drain(mut out: impl Read, max: usize) -> Drained {
    let mut kept = Vec::new();
    let mut buffer = [0u8; 64 * 1024];
    let mut overflowed = false;
    loop {
        match out.read(&mut buffer) {
            Err(error) if error.kind() == std::io::ErrorKind::Interrupted => continue,
            Ok(0) | Err(_) => break,
            Ok(read) => {
                if overflowed || kept.len() + read > max {
                    overflowed = true;
                    kept = Vec::new();
                } else {
                    kept.extend_from_slice(&buffer[..read]);
                }
            }
        }
    }
    if overflowed {
        Drained::Overflowed
    } else {
        Drained::Kept(kept)
    }
}

/// Pages are separated (and the last one ended) by form feeds.
fn split_pages(text: &str) -> Vec<String> {
    let mut pages: Vec<String> = text.split('\u{c}').map(str::to_owned).collect();
    if pages.len() > 1 && pages.last().is_some_and(|last| last.trim().is_empty()) {
        pages.pop();
    }
    pages
}

/// Whether `pdftotext` can be run here (for tests that need it).
#[cfg(test)]
pub(crate) fn installed() -> bool {
    Command::new(PROGRAM)
        .arg("-v")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok()
}
