//! Rebuilds the crate when the web UI's bundle changes, appears or goes:
//! rust-embed reads `ui/dist` when this crate compiles, and cargo does not
//! see a folder that was missing then. While there is no bundle, `ui/`
//! itself is watched (building the bundle creates `ui/dist` in it).

use std::path::Path;

fn main() {
    let dist = Path::new("../../ui/dist");
    if dist.is_dir() {
        println!("cargo:rerun-if-changed=../../ui/dist");
    } else {
        println!("cargo:rerun-if-changed=../../ui");
    }
}
