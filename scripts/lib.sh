# Shared helpers for the scripts in this folder. Source it; do not run it.
#
#   . "$(dirname "$0")/lib.sh"

# Repository root (this file lives in scripts/).
MOAT_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DEFAULT_MODEL_ID="SmolLM2-135M-Instruct.Q4_1"
DEFAULT_MODEL="$MOAT_ROOT/models/$DEFAULT_MODEL_ID.gguf"
# The embedding model, converted from safetensors by scripts/convert_minilm.py.
EMBEDDING_MODEL_ID="all-MiniLM-L6-v2-minilm.f16"
EMBEDDING_MODEL="$MOAT_ROOT/models/$EMBEDDING_MODEL_ID.gguf"
# The venv the converter runs in (gguf + numpy).
CONVERT_VENV="${XDG_CACHE_HOME:-$HOME/.cache}/moat/convert-venv"

# Debian packages the llama.cpp build needs (bindgen wants libclang and its headers).
BUILD_PACKAGES=(cmake libclang1-14 libclang-common-14-dev)

heading() {
    printf '\n==> %s\n' "$*"
}

die() {
    printf 'error: %s\n' "$*" >&2
    exit 1
}

# Run a command as root: directly when we are root, through sudo otherwise.
as_root() {
    if [ "$(id -u)" -eq 0 ]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo "$@"
    else
        die "need root to run: $* (run as root or install sudo)"
    fi
}

# True when the Debian package is installed.
deb_installed() {
    dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'
}

# Install the given Debian packages that are missing; do nothing (and skip
# apt entirely) when all are there.
apt_install() {
    local missing=() pkg
    for pkg in "$@"; do
        deb_installed "$pkg" || missing+=("$pkg")
    done
    [ "${#missing[@]}" -eq 0 ] && return 0
    command -v apt-get >/dev/null 2>&1 \
        || die "missing packages ${missing[*]} and no apt-get; install them by hand"
    echo "installing Debian packages: ${missing[*]}"
    if [ -z "${MOAT_APT_UPDATED:-}" ]; then
        as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
        MOAT_APT_UPDATED=1
    fi
    as_root env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# Make cargo reachable: rustup's default location, when it is not on PATH yet.
find_cargo() {
    if ! command -v cargo >/dev/null 2>&1 && [ -x "$HOME/.cargo/bin/cargo" ]; then
        export PATH="$HOME/.cargo/bin:$PATH"
    fi
    command -v cargo >/dev/null 2>&1
}

# Install a Rust toolchain with rustup when none is there (Debian's own rustc
# is older than the workspace's rust-version).
ensure_rust() {
    find_cargo && return 0
    echo "cargo not found: installing the stable Rust toolchain with rustup"
    apt_install curl ca-certificates
    curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs \
        | sh -s -- -y -q --profile minimal --default-toolchain stable
    find_cargo || die "cargo still not found after installing rustup"
}

# Everything `cargo build` and the model download need.
install_system_deps() {
    local pkgs=("${BUILD_PACKAGES[@]}")
    command -v python3 >/dev/null 2>&1 || pkgs+=(python3)
    python3 -m pip --version >/dev/null 2>&1 || pkgs+=(python3-pip)
    { command -v cc && command -v c++ && command -v make; } >/dev/null 2>&1 || pkgs+=(build-essential)
    apt_install "${pkgs[@]}"
    ensure_rust
}

# A Python virtual environment at $1 with the given pip requirements.
ensure_venv() {
    local venv="$1"
    shift
    if [ ! -x "$venv/bin/python" ]; then
        if ! python3 -m venv "$venv" >/dev/null 2>&1; then
            rm -rf "$venv"
            apt_install python3-venv
            python3 -m venv "$venv"
        fi
    fi
    "$venv/bin/python" -m pip install -q --disable-pip-version-check "$@"
}
