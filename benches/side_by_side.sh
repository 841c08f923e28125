#!/usr/bin/env bash
# Side-by-side benchmark: moat against llama.cpp's own llama-server, same
# model file, same threads, same slots, same KV size, same CPU tuning.
#
# One server runs at a time. For each repetition, moat then llama-server
# (alternating) is started fresh and measured with moat-loadgen:
#   prefix   cold TTFT of a ~1,425-token prompt (long system text + question),
#            then warm TTFT of the same system text with another question
#   c1       1 stream,  C1_REQUESTS requests of MAX_TOKENS tokens
#   c8       PARALLEL streams, C8_REQUESTS requests of MAX_TOKENS tokens
# while peak resident memory is sampled from /proc/PID/status. The report is
# the median over REPEATS repetitions, with moat / llama-server ratios
# (benches/side_by_side_report.py; it can also pool several result folders).
#
# Usage: benches/side_by_side.sh
# Environment (defaults in brackets):
#   MODEL [models/SmolLM2-135M-Instruct.Q4_1.gguf]  THREADS [2]  PARALLEL [8]
#   CTX [4096] total KV cells shared by all slots    REPEATS [3]
#   MAX_TOKENS [128]  C1_REQUESTS [16]  C8_REQUESTS [32]  PREFIX_TOKENS [1450]
#   MOAT_BIN [target/release/moat]  LLAMA_SERVER [built by build_llama_server.sh]
#   MOAT_ARGS, LLAMA_ARGS [empty]  extra flags for either server (e.g. LLAMA_ARGS="--cache-ram 0")
#   RESULTS [${XDG_CACHE_HOME:-~/.cache}/moat-bench/results/<time>]
#   QUIET_BUSY [0.30] before each run, wait (at most QUIET_WAIT_S [60] s) until
#                     the machine uses less than this share of its CPUs
#   MAX_OTHER [0.10]  measure again (at most MAX_ATTEMPTS [2] times in all) when
#                     other processes used more than this share during a run;
#                     the quietest attempt is kept
#   RUN_TIMEOUT_S [600] limit for one loadgen run
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

MODEL="${MODEL:-models/SmolLM2-135M-Instruct.Q4_1.gguf}"
THREADS="${THREADS:-2}"
PARALLEL="${PARALLEL:-8}"
CTX="${CTX:-4096}"
REPEATS="${REPEATS:-3}"
MAX_TOKENS="${MAX_TOKENS:-128}"
C1_REQUESTS="${C1_REQUESTS:-16}"
C8_REQUESTS="${C8_REQUESTS:-32}"
PREFIX_TOKENS="${PREFIX_TOKENS:-1450}"
PREFIX_MAX_TOKENS="${PREFIX_MAX_TOKENS:-16}"
QUIET_BUSY="${QUIET_BUSY:-0.30}"
QUIET_WAIT_S="${QUIET_WAIT_S:-60}"
MAX_OTHER="${MAX_OTHER:-0.10}"
MAX_ATTEMPTS="${MAX_ATTEMPTS:-2}"
RUN_TIMEOUT_S="${RUN_TIMEOUT_S:-600}"
CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/moat-bench"
RESULTS="${RESULTS:-$CACHE/results/$(date -u +%Y%m%dT%H%M%SZ)}"
MOAT_BIN="${MOAT_BIN:-$ROOT/target/release/moat}"
LOADGEN="$ROOT/target/release/moat-loadgen"

log() { echo "[side-by-side $(date -u +%H:%M:%S)] $*" >&2; }

# ---------------------------------------------------------------- cleanup
SERVER_PID=""
API_KEY=""
SAMPLER_PID=""
LOADGEN_PID=""
cleanup() {
    if [[ -n "$LOADGEN_PID" ]]; then kill "$LOADGEN_PID" 2>/dev/null || true; fi
    if [[ -n "$SAMPLER_PID" ]]; then kill "$SAMPLER_PID" 2>/dev/null || true; fi
    if [[ -n "$SERVER_PID" ]]; then stop_server; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

stop_server() {
    local pid="$SERVER_PID"
    [[ -z "$pid" ]] && return 0
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 100); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        log "server $pid did not stop in 10 s; killing it"
        kill -KILL "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || true
    SERVER_PID=""
}

# ---------------------------------------------------------------- builds
[[ -f "$MODEL" ]] || { log "model $MODEL not found (run the setup script first)"; exit 1; }
MODEL_BYTES=$(stat -c %s "$MODEL")
MODEL_ID="$(basename "$MODEL" .gguf)"

if [[ ! -x "$MOAT_BIN" ]]; then
    log "building moat"
    cargo build --release -p moat-cli >&2
fi
log "building moat-loadgen"
cargo build --release -p moat-loadgen >&2
LLAMA_SERVER="${LLAMA_SERVER:-$("$ROOT/benches/build_llama_server.sh")}"

mkdir -p "$RESULTS"
log "results in $RESULTS"

# CPU tuning each build used, from its cmake output (moat: the newest
# llama-cpp-sys-2 build script run under target/release).
sys_output=$(ls -t "$ROOT"/target/release/build/llama-cpp-sys-2-*/output 2>/dev/null | head -1 || true)
moat_flags=$(grep -h 'Adding CPU backend variant' "$sys_output" 2>/dev/null | tail -1 | sed 's/.*ggml-cpu: //' || true)
llama_flags=$(grep -h 'Adding CPU backend variant' "$(dirname "$(dirname "$(dirname "$LLAMA_SERVER")")")"/*.configure.log 2>/dev/null |
    tail -1 | sed 's/.*ggml-cpu: //' || true)
llama_native=$(grep -h '^GGML_NATIVE:' "$(dirname "$(dirname "$LLAMA_SERVER")")/CMakeCache.txt" 2>/dev/null || true)
moat_native=$(grep -h '^GGML_NATIVE:' "$(dirname "$sys_output")/out/build/CMakeCache.txt" 2>/dev/null || true)
log "moat (llama-cpp-sys-2) CPU flags: ${moat_flags:-unknown} ${moat_native}"
log "llama-server CPU flags:            ${llama_flags:-unknown} ${llama_native}"
llama_version=$("$LLAMA_SERVER" --version 2>&1 | grep -m1 '^version' || true)

# ---------------------------------------------------------------- helpers
free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# Machine-wide busy and total jiffies: "busy total".
cpu_jiffies() {
    awk '/^cpu /{idle=$5+$6; t=0; for(i=2;i<=9 && i<=NF;i++) t+=$i; print t-idle, t; exit}' /proc/stat
}

# Jiffies (user+system) used so far by process $1.
proc_jiffies() {
    awk '{print $14+$15}' "/proc/$1/stat" 2>/dev/null || echo 0
}

# Waits until the machine is quiet apart from the (idle) server under test.
wait_quiet() {
    local waited=0 a b busy
    while ((waited < QUIET_WAIT_S)); do
        a=($(cpu_jiffies)); sleep 1; b=($(cpu_jiffies)); waited=$((waited + 1))
        busy=$(awk -v db=$((b[0] - a[0])) -v dt=$((b[1] - a[1])) 'BEGIN{printf "%.2f", (dt > 0 ? db / dt : 0)}')
        if awk -v b="$busy" -v q="$QUIET_BUSY" 'BEGIN{exit !(b < q)}'; then return 0; fi
    done
    log "machine still busy ($busy of the CPUs) after ${QUIET_WAIT_S} s; measuring anyway"
}

# Peak VmRSS and RssAnon (kB) of $1, sampled every 100 ms into $2.
sample_rss() {
    local pid=$1 out=$2 rss anon max_rss=0 max_anon=0
    while kill -0 "$pid" 2>/dev/null; do
        read -r rss anon < <(awk '/^VmRSS:/{r=$2} /^RssAnon:/{a=$2} END{print r+0, a+0}' "/proc/$pid/status" 2>/dev/null || echo "0 0")
        ((rss > max_rss)) && max_rss=$rss
        ((anon > max_anon)) && max_anon=$anon
        echo "$max_rss $max_anon" >"$out.tmp" && mv "$out.tmp" "$out"
        sleep 0.1
    done
}

# moat runs in a throwaway folder of its own (store, server secret, audit
# keys under data/), so that every run starts from a fresh store and prints
# its first admin key, which the load generator then sends: every API
# request needs a key.
start_moat() {
    local log_file=$1 out="$1.stdout" home
    home="$(dirname "$log_file")/moat-home"
    rm -rf "$home" && mkdir -p "$home"
    : >"$out" # not a previous run's address
    (cd "$home" && exec "$MOAT_BIN" serve --listen 127.0.0.1:0 --models-dir "$ROOT/$(dirname "$MODEL")" \
        --parallel "$PARALLEL" --threads "$THREADS" --ctx-size "$CTX" ${MOAT_ARGS:-}) >"$out" 2>"$log_file" &
    SERVER_PID=$!
    for _ in $(seq 600); do
        if url=$(grep -o -m1 'moat listening on http://[0-9.:]*' "$out" 2>/dev/null); then
            BASE_URL="${url#moat listening on }/v1"
            API_KEY=$(grep -o -m1 'moat_[A-Za-z0-9_]*' "$out" || true)
            [[ -n "$API_KEY" ]] || { log "moat printed no admin key"; return 1; }
            return 0
        fi
        kill -0 "$SERVER_PID" 2>/dev/null || { tail -20 "$log_file" >&2; return 1; }
        sleep 0.1
    done
    return 1
}

start_llama() {
    local log_file=$1 port
    port=$(free_port)
    "$LLAMA_SERVER" -m "$MODEL" --alias "$MODEL_ID" --host 127.0.0.1 --port "$port" \
        -t "$THREADS" -tb "$THREADS" -np "$PARALLEL" -c "$CTX" --kv-unified --no-webui ${LLAMA_ARGS:-} \
        >"$log_file" 2>&1 &
    SERVER_PID=$!
    for _ in $(seq 600); do
        if curl -sf --noproxy '*' "http://127.0.0.1:$port/health" >/dev/null 2>&1; then
            BASE_URL="http://127.0.0.1:$port/v1"
            API_KEY=""
            return 0
        fi
        kill -0 "$SERVER_PID" 2>/dev/null || { tail -20 "$log_file" >&2; return 1; }
        sleep 0.1
    done
    return 1
}

# one_load NAME FILE ARGS...: one loadgen run; its JSON plus the CPU share
# that other processes used while it ran, into FILE.
one_load() {
    local name=$1 file=$2; shift 2
    local a b sa sb
    wait_quiet
    a=($(cpu_jiffies)); sa=$(proc_jiffies "$SERVER_PID")
    # In the background, so that a signal reaches the trap at once instead of
    # after the load generator finishes.
    LOADGEN_API_KEY="$API_KEY" timeout "$RUN_TIMEOUT_S" "$LOADGEN" --url "$BASE_URL" --model "$MODEL_ID" \
        --json "$@" >"$file.raw" &
    LOADGEN_PID=$!
    # A run whose requests failed measures nothing: stop instead of
    # reporting it (a refused key once made every moat figure an error).
    if ! wait "$LOADGEN_PID"; then
        log "$name failed: $(head -c 2000 "$file.raw")"
        exit 1
    fi
    LOADGEN_PID=""
    if ! jq -e '(.failed // 0) == 0 and ((.errors // []) | length) == 0 and ((.ok // 1) > 0)' \
        "$file.raw" >/dev/null 2>&1; then
        log "$name: requests failed: $(jq -c '{failed, errors}' "$file.raw" 2>/dev/null || cat "$file.raw")"
        exit 1
    fi
    b=($(cpu_jiffies)); sb=$(proc_jiffies "$SERVER_PID")
    jq -c --argjson busy $((b[0] - a[0])) --argjson total $((b[1] - a[1])) --argjson server $((sb - sa)) \
        '. + {machine_busy_share: (if $total > 0 then $busy / $total else 0 end),
              other_busy_share: (if $total > 0 then ([$busy - $server, 0] | max) / $total else 0 end)}' \
        "$file.raw" >"$file"
    rm -f "$file.raw"
}

# run_load NAME FILE ARGS...: one_load, repeated (at most MAX_ATTEMPTS times)
# while other processes used more than MAX_OTHER of the CPUs; keeps the
# quietest attempt. "{attempt}" in ARGS becomes the attempt number, so that a
# repeated attempt does not reuse the previous attempt's cached prompts.
run_load() {
    local name=$1 file=$2; shift 2
    local attempt share best="" best_share=2 arg args
    for attempt in $(seq "$MAX_ATTEMPTS"); do
        args=()
        for arg in "$@"; do args+=("${arg//\{attempt\}/$attempt}"); done
        one_load "$name" "$file.try$attempt" "${args[@]}"
        share=$(jq '.other_busy_share // 1' "$file.try$attempt")
        if awk -v s="$share" -v b="$best_share" 'BEGIN{exit !(s < b)}'; then
            best="$file.try$attempt"; best_share=$share
        fi
        if awk -v s="$share" -v m="$MAX_OTHER" 'BEGIN{exit !(s <= m)}'; then break; fi
        if ((attempt < MAX_ATTEMPTS)); then
            log "$name: other processes used $share of the CPUs; measuring again"
        fi
    done
    jq -c --argjson attempts "$attempt" '. + {attempts: $attempts}' "$best" >"$file"
    rm -f "$file".try*
    log "$name: $(jq -c 'del(.ttft_ms.n, .itl_ms.n, .errors)' "$file")"
}

# measure SERVER REP: one fresh server, all scenarios, peak memory.
measure() {
    local server=$1 rep=$2 dir="$RESULTS/rep$2-$1"
    mkdir -p "$dir"
    log "rep $rep: starting $server"
    "start_$server" "$dir/server.log" || { log "$server did not start"; exit 1; }
    sample_rss "$SERVER_PID" "$dir/rss" &
    SAMPLER_PID=$!
    run_load "rep $rep $server prefix" "$dir/prefix.json" --scenario prefix --tag "Handbook {attempt}." \
        --shared-prefix-tokens "$PREFIX_TOKENS" --max-tokens "$PREFIX_MAX_TOKENS" --warmup 1
    run_load "rep $rep $server c1" "$dir/c1.json" --concurrency 1 --requests "$C1_REQUESTS" \
        --max-tokens "$MAX_TOKENS" --warmup 1 --tag "[c1 story {attempt}.{i}]"
    run_load "rep $rep $server c$PARALLEL" "$dir/c8.json" --concurrency "$PARALLEL" --requests "$C8_REQUESTS" \
        --max-tokens "$MAX_TOKENS" --warmup 1 --tag "[c$PARALLEL story {attempt}.{i}]"
    local hwm
    hwm=$(awk '/^VmHWM:/{print $2}' "/proc/$SERVER_PID/status" 2>/dev/null || echo 0)
    kill "$SAMPLER_PID" 2>/dev/null || true
    wait "$SAMPLER_PID" 2>/dev/null || true
    SAMPLER_PID=""
    read -r peak_rss peak_anon <"$dir/rss" || { peak_rss=0; peak_anon=0; }
    jq -n --argjson rss "$peak_rss" --argjson anon "$peak_anon" --argjson hwm "${hwm:-0}" \
        '{peak_rss_kb: $rss, peak_rss_anon_kb: $anon, vm_hwm_kb: $hwm}' >"$dir/memory.json"
    log "rep $rep $server memory: $(jq -c . "$dir/memory.json")"
    stop_server
}

# ---------------------------------------------------------------- runs
jq -n --arg model "$MODEL" --argjson model_bytes "$MODEL_BYTES" --arg threads "$THREADS" \
    --arg parallel "$PARALLEL" --arg ctx "$CTX" --arg repeats "$REPEATS" --arg max_tokens "$MAX_TOKENS" \
    --arg moat_flags "$moat_flags" --arg llama_flags "$llama_flags" --arg llama_version "$llama_version" \
    --arg moat_native "$moat_native" --arg llama_native "$llama_native" \
    --arg moat_args "${MOAT_ARGS:-}" --arg llama_args "${LLAMA_ARGS:-}" \
    --arg cpu "$(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //')" --arg nproc "$(nproc)" \
    --arg mem_kb "$(awk '/^MemTotal:/{print $2}' /proc/meminfo)" --arg date "$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
    '$ARGS.named' >"$RESULTS/setup.json"

for rep in $(seq "$REPEATS"); do
    measure moat "$rep"
    measure llama "$rep"
done

# ---------------------------------------------------------------- report
python3 "$ROOT/benches/side_by_side_report.py" "$RESULTS"
log "summary: $RESULTS/summary.txt"
