//! What the binary prints for people (stdout) as opposed to logs (stderr).

#![allow(clippy::print_stdout, clippy::print_stderr)]

/// A line for the operator on stdout.
pub fn say(line: &str) {
    println!("{line}");
}

/// A fatal error on stderr.
pub fn error(message: &str) {
    eprintln!("moat: error: {message}");
}

/// Bytes as a short human size.
pub fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_are_short() {
        assert_eq!(human_size(512), "512 B");
        assert_eq!(human_size(98_362_432), "93.8 MiB");
    }
}
