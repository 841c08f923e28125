#!/usr/bin/env bash
# Builds llama.cpp's own `llama-server` (the peer for side-by-side benchmarks)
# from the llama.cpp sources vendored in the `llama-cpp-python` source package
# on PyPI, with the same CPU tuning as moat's embedded engine: moat builds with
# `-C target-cpu=native` (.cargo/config.toml), which llama-cpp-sys-2 turns into
# GGML_NATIVE=ON, so the peer is built with GGML_NATIVE=ON too (OpenMP). Set
# GGML_NATIVE=OFF here when moat was built with RUSTFLAGS for a portable CPU.
#
# Everything lives outside the repository, under
#   ${XDG_CACHE_HOME:-$HOME/.cache}/moat-bench/
# and is built once: a second run only prints the path of the binary.
#
# Usage: benches/build_llama_server.sh        (prints the llama-server path last)
# Environment:
#   GGML_NATIVE               ON (default, like moat's native build) or OFF
#   LLAMA_CPP_PYTHON_VERSION  sdist version to build from (default 0.3.36)
#   BUILD_JOBS                parallel compile jobs (default: nproc)
set -euo pipefail

VERSION="${LLAMA_CPP_PYTHON_VERSION:-0.3.36}"
CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/moat-bench"
JOBS="${BUILD_JOBS:-$(nproc)}"
SDIST_DIR="$CACHE/sdist"
SRC_DIR="$CACHE/llama-cpp-python-$VERSION"
NATIVE="${GGML_NATIVE:-ON}"
BUILD_DIR="$SRC_DIR/vendor/llama.cpp/build-native-$(echo "$NATIVE" | tr "[:upper:]" "[:lower:]")"
BIN="$BUILD_DIR/bin/llama-server"

log() { echo "[build-llama-server] $*" >&2; }

if [[ -x "$BIN" ]]; then
    log "cached: $BIN"
    echo "$BIN"
    exit 0
fi

mkdir -p "$SDIST_DIR"
TARBALL="$SDIST_DIR/llama_cpp_python-$VERSION.tar.gz"
if [[ ! -f "$TARBALL" ]]; then
    log "downloading llama-cpp-python==$VERSION source package"
    pip download --no-binary :all: --no-deps "llama-cpp-python==$VERSION" -d "$SDIST_DIR" >&2
fi

if [[ ! -d "$SRC_DIR/vendor/llama.cpp" ]]; then
    log "unpacking $TARBALL"
    tar -xzf "$TARBALL" -C "$CACHE"
    if [[ ! -d "$SRC_DIR/vendor/llama.cpp" ]]; then
        # The archive's top directory uses the normalised package name.
        mv "$CACHE/llama_cpp_python-$VERSION" "$SRC_DIR"
    fi
fi

cd "$SRC_DIR/vendor/llama.cpp"
log "configuring (GGML_NATIVE=$NATIVE, like moat's llama-cpp-sys-2 build)"
cmake -B "$BUILD_DIR" \
    -DCMAKE_BUILD_TYPE=Release \
    -DGGML_NATIVE="$NATIVE" \
    -DGGML_OPENMP=ON \
    -DBUILD_SHARED_LIBS=OFF \
    -DLLAMA_CURL=OFF \
    -DLLAMA_OPENSSL=OFF \
    -DLLAMA_USE_PREBUILT_UI=OFF \
    -DLLAMA_BUILD_SERVER=ON \
    -DLLAMA_BUILD_TOOLS=ON \
    -DLLAMA_BUILD_TESTS=OFF \
    -DLLAMA_BUILD_EXAMPLES=OFF \
    >"$BUILD_DIR.configure.log" 2>&1 || {
    tail -40 "$BUILD_DIR.configure.log" >&2
    exit 1
}
grep -E 'Adding CPU backend variant' "$BUILD_DIR.configure.log" >&2 || true

log "building llama-server with $JOBS jobs (a few minutes on 2 cores)"
cmake --build "$BUILD_DIR" --target llama-server -j "$JOBS" >"$BUILD_DIR.build.log" 2>&1 || {
    tail -40 "$BUILD_DIR.build.log" >&2
    exit 1
}
log "built: $BIN"
echo "$BIN"
