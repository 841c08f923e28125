#!/usr/bin/env bash
# Run every test: Rust unit and app tests, then the end-to-end tests that
# start the real binary with the real model.
#
#   ./scripts/test.sh
#
# Stages: system packages, PostgreSQL and Redis (throwaway, stopped on exit),
# default model, Python venv (.venv), chromium (browser tests), the web UI
# (scripts/build-ui.sh, before the build that embeds it), release build,
# cargo test, tiny Qwen3 GGUF, pytest tests/e2e. A failing build stops the run;
# a failing test stage does not stop the next one, but the exit status is
# non-zero when any stage failed.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
cd "$MOAT_ROOT"

PY_REQUIREMENTS=("openai>=1.40,<3" "pytest>=8,<10" "gguf>=0.10,<1" "numpy>=1.24,<3" "httpx>=0.25,<1" "tokenizers>=0.15,<1" "playwright>=1.40,<2" "pytest-playwright>=0.4,<1" "cryptography>=41,<47")
QWEN3_GGUF="$MOAT_ROOT/target/test-models/tiny-qwen3.gguf"
QWEN3_THINKING_GGUF="$MOAT_ROOT/target/test-models/tiny-qwen3-thinking.gguf"

started=$SECONDS
failed=()
report=()

# stage NAME COMMAND...: run one stage with a heading and its duration; its
# exit status goes to $last_status (stage itself always succeeds, so that it is
# never called in a `||` list, where bash would switch `set -e` off inside it).
last_status=0
stage() {
    local name="$1" t0=$SECONDS status=0
    shift
    heading "$name"
    # A subshell outside any `||` so that `set -e` holds inside the stage.
    set +e
    (set -e; "$@")
    status=$?
    set -e
    local took=$((SECONDS - t0))
    if [ "$status" -eq 0 ]; then
        report+=("ok     ${took}s  $name")
    else
        report+=("FAILED ${took}s  $name (exit $status)")
        failed+=("$name")
    fi
    last_status=$status
}

summary() {
    heading "summary"
    printf '  %s\n' "${report[@]}"
    printf '  total %ss\n' "$((SECONDS - started))"
}

# A stage that must pass for the next ones to mean anything.
must() {
    stage "$@"
    [ "$last_status" -eq 0 ] || { summary; die "stage failed: $1"; }
}

build_qwen3() {
    mkdir -p "$(dirname "$QWEN3_GGUF")"
    .venv/bin/python tests/fixtures/make_tiny_qwen3.py --src "$DEFAULT_MODEL" --out "$QWEN3_GGUF"
    .venv/bin/python tests/fixtures/make_tiny_qwen3.py --src "$DEFAULT_MODEL" --out "$QWEN3_THINKING_GGUF" --thinking
}

# PostgreSQL and Redis for the store and shared-limit tests, started from
# Debian packages in a throwaway directory and stopped on exit.
SERVICES_DIR=""
start_services() {
    ./scripts/services.sh start "$SERVICES_DIR" > "$SERVICES_DIR/env"
}
stop_services() {
    if [ -n "$SERVICES_DIR" ] && [ -d "$SERVICES_DIR" ]; then
        ./scripts/services.sh stop "$SERVICES_DIR" >/dev/null 2>&1 || true
        rm -rf "$SERVICES_DIR"
    fi
}

tls_tools() {
    command -v openssl >/dev/null 2>&1 || apt_install openssl
}

# pdftotext, the PDF reader moat falls back to where the built-in one
# fails (CID-font Chinese PDFs); the extraction tests use it.
pdf_tools() {
    command -v pdftotext >/dev/null 2>&1 || apt_install poppler-utils
}

# Debian's chromium and a CJK font for the web UI's browser tests
# (tests/e2e/test_web_*.py drive it through Playwright; no browser download).
browser_tools() {
    apt_install chromium fonts-wqy-microhei
}

e2e() {
    MOAT_BIN="$MOAT_ROOT/target/release/moat" \
    MOAT_TEST_MODELS="$MOAT_ROOT/models" \
    MOAT_QWEN3_GGUF="$QWEN3_GGUF" \
    MOAT_QWEN3_THINKING_GGUF="$QWEN3_THINKING_GGUF" \
        .venv/bin/python -m pytest -q -p no:cacheprovider tests/e2e
}

must "system packages" install_system_deps
find_cargo || die "cargo not found"   # the stage ran in a subshell: redo its PATH change
must "openssl (TLS tests)" tls_tools
must "poppler-utils (PDF tests)" pdf_tools
SERVICES_DIR="$(mktemp -d "${TMPDIR:-/tmp}/moat-services.XXXXXX")"
trap stop_services EXIT
must "PostgreSQL and Redis (scripts/services.sh)" start_services
set -a
. "$SERVICES_DIR/env"
set +a
export MOAT_TEST_REQUIRE_SERVICES=1
must "default model" ./scripts/fetch-model.sh
must "python venv (.venv)" ensure_venv .venv "${PY_REQUIREMENTS[@]}"
must "chromium (browser tests)" browser_tools
must "web UI (scripts/build-ui.sh)" ./scripts/build-ui.sh
must "cargo build --release --workspace --all-targets" \
    cargo build --release --workspace --all-targets
stage "cargo test --release --workspace" cargo test --release --workspace
must "tiny Qwen3 GGUF" build_qwen3
stage "end-to-end tests (pytest tests/e2e)" e2e

summary
if [ "${#failed[@]}" -gt 0 ]; then
    printf 'FAILED: %s\n' "${failed[@]}" >&2
    exit 1
fi
echo "all tests passed"
