#!/usr/bin/env bash
# Build moat and serve the default model.
#
#   ./scripts/run.sh [moat serve flags...]     e.g. --listen 0.0.0.0:8080
#
# Installs the Debian packages the build needs (only the missing ones),
# fetches SmolLM2-135M-Instruct into models/, builds the web UI and the
# release binary that embeds it,
# starts `moat serve` (127.0.0.1:8080 by default; on first start it prints the
# admin key once), answers one chat through the API to show it works, and
# keeps serving until Ctrl-C.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
cd "$MOAT_ROOT"

heading "system packages"
install_system_deps

heading "default model"
./scripts/fetch-model.sh

heading "web UI (scripts/build-ui.sh)"
./scripts/build-ui.sh

heading "cargo build --release"
cargo build --release

heading "moat serve $*"
log=$(mktemp)
target/release/moat serve "$@" > >(tee "$log") &
pid=$!
trap 'kill -TERM "$pid" 2>/dev/null; wait "$pid"; rm -f "$log"' INT TERM
addr=""
for _ in $(seq 1 1200); do
    addr=$(sed -n 's/^moat listening on \(https\{0,1\}:[^ ]*\).*/\1/p' "$log" | head -n 1)
    [ -n "$addr" ] && break
    if ! kill -0 "$pid" 2>/dev/null; then
        wait "$pid" || exit $?
        exit 1
    fi
    sleep 0.25
done
[ -n "$addr" ] || die "moat did not start listening within 5 minutes"

heading "a first chat, through the OpenAI API at $addr/v1"
# The admin key printed on first start, or else a key for this chat only
# (role `user`, valid one hour), made with `moat keys create`.
key=$(sed -n 's/^  \(moat_[A-Za-z0-9]*\)$/\1/p' "$log" | head -n 1)
if [ -z "$key" ]; then
    config=()
    prev=""
    for arg in "$@"; do
        case "$prev" in --config|--store|--secret-file) config+=("$prev" "$arg") ;; esac
        case "$arg" in --config=*|--store=*|--secret-file=*) config+=("$arg") ;; esac
        prev="$arg"
    done
    key=$(target/release/moat keys create "${config[@]}" --name "first chat (run.sh)" \
        --role user --expires 1h --quiet) || key=""
fi
MOAT_KEY="$key" python3 - "$addr" <<'PY' || echo "(the first chat failed; the server is still running)"
import json, os, ssl, sys, urllib.request
base = sys.argv[1].replace("0.0.0.0", "127.0.0.1").replace("[::]", "[::1]") + "/v1"
# A demo against a TLS listener may use a self-signed certificate.
context = ssl._create_unverified_context() if base.startswith("https") else None
def call(path, body=None):
    req = urllib.request.Request(base + path, data=json.dumps(body).encode() if body else None,
                                 headers={"Content-Type": "application/json",
                                          "Authorization": f"Bearer {os.environ['MOAT_KEY']}"})
    with urllib.request.urlopen(req, timeout=300, context=context) as r:
        return json.load(r)
model = call("/models")["data"][0]["id"]
question = "What is the capital of France? Answer in one sentence."
reply = call("/chat/completions", {"model": model, "max_tokens": 64, "temperature": 0,
                                   "messages": [{"role": "user", "content": question}]})
print(f"model:    {model}\nquestion: {question}\nanswer:   {reply['choices'][0]['message']['content'].strip()}")
PY
echo
echo "moat is serving at $addr (OpenAI base URL $addr/v1); Ctrl-C stops it."
wait "$pid"
