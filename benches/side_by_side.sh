#!/usr/bin/env bash
# Side-by-side benchmark: moat against llama.cpp's own llama-server, same
# model file, same threads, same slots, same KV size, same CPU tuning.
#
# One server runs at a time. For each repetition, moat then llama-server
# (alternating) is started fresh and measured with moat-loadgen:
#   prefix   cold TTFT of a ~1,500-token prompt, then warm TTFT of the same
#            prefix with another question (needs the fresh server)
#   c1       1 stream,  C1_REQUESTS requests of MAX_TOKENS tokens
#   c8       PARALLEL streams, C8_REQUESTS requests of MAX_TOKENS tokens
# while peak resident memory is sampled from /proc/PID/status. The report is
# the median over REPEATS repetitions, with moat / llama-server ratios.
#
# Usage: benches/side_by_side.sh
# Environment (defaults in brackets):
#   MODEL [models/SmolLM2-135M-Instruct.Q4_1.gguf]  THREADS [2]  PARALLEL [8]
#   CTX [4096] total KV cells shared by all slots    REPEATS [3]
#   MAX_TOKENS [128]  C1_REQUESTS [8]  C8_REQUESTS [32]  PREFIX_TOKENS [1450]
#   MOAT_BIN [target/release/moat]  LLAMA_SERVER [built by build_llama_server.sh]
#   RESULTS [${XDG_CACHE_HOME:-~/.cache}/moat-bench/results/<time>]
#   QUIET_BUSY [0.30] before each run, wait (at most QUIET_WAIT_S [60] s) until
#                     the machine uses less than this share of its CPUs
#   MAX_OTHER [0.25]  measure again (at most MAX_ATTEMPTS [2] times in all) when
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
C1_REQUESTS="${C1_REQUESTS:-8}"
C8_REQUESTS="${C8_REQUESTS:-32}"
PREFIX_TOKENS="${PREFIX_TOKENS:-1450}"
PREFIX_MAX_TOKENS="${PREFIX_MAX_TOKENS:-16}"
QUIET_BUSY="${QUIET_BUSY:-0.30}"
QUIET_WAIT_S="${QUIET_WAIT_S:-60}"
MAX_OTHER="${MAX_OTHER:-0.25}"
MAX_ATTEMPTS="${MAX_ATTEMPTS:-2}"
RUN_TIMEOUT_S="${RUN_TIMEOUT_S:-600}"
CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/moat-bench"
RESULTS="${RESULTS:-$CACHE/results/$(date -u +%Y%m%dT%H%M%SZ)}"
MOAT_BIN="${MOAT_BIN:-$ROOT/target/release/moat}"
LOADGEN="$ROOT/target/release/moat-loadgen"

log() { echo "[side-by-side $(date -u +%H:%M:%S)] $*" >&2; }

# ---------------------------------------------------------------- cleanup
SERVER_PID=""
SAMPLER_PID=""
cleanup() {
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

# CPU tuning each build used, from its cmake output.
moat_flags=$(grep -h 'Adding CPU backend variant' "$ROOT"/target/release/build/llama-cpp-sys-2-*/output 2>/dev/null |
    tail -1 | sed 's/.*ggml-cpu: //' || true)
llama_flags=$(grep -h 'Adding CPU backend variant' "$(dirname "$(dirname "$(dirname "$LLAMA_SERVER")")")"/*.configure.log 2>/dev/null |
    tail -1 | sed 's/.*ggml-cpu: //' || true)
llama_native=$(grep -h '^GGML_NATIVE:' "$(dirname "$(dirname "$LLAMA_SERVER")")/CMakeCache.txt" 2>/dev/null || true)
moat_native=$(grep -h '^GGML_NATIVE:' "$ROOT"/target/release/build/llama-cpp-sys-2-*/out/build/CMakeCache.txt 2>/dev/null | tail -1 || true)
log "moat (llama-cpp-sys-2) CPU flags: ${moat_flags:-unknown} ${moat_native}"
log "llama-server CPU flags:            ${llama_flags:-unknown} ${llama_native}"
llama_version=$("$LLAMA_SERVER" --version 2>&1 | grep -m1 '^version' || true)

# ---------------------------------------------------------------- helpers
free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# Machine-wide busy and total jiffies: "busy total".
cpu_jiffies() {
    awk '/^cpu /{idle=$5+$6; t=0; for(i=2;i<=NF;i++) t+=$i; print t-idle, t; exit}' /proc/stat
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
        busy=$(awk -v db=$((b[0] - a[0])) -v dt=$((b[1] - a[1])) 'BEGIN{printf "%.2f", dt>0 ? db/dt : 0}')
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

start_moat() {
    local log_file=$1 out="$1.stdout"
    "$MOAT_BIN" serve --listen 127.0.0.1:0 --models-dir "$(dirname "$MODEL")" \
        --parallel "$PARALLEL" --threads "$THREADS" --ctx-size "$CTX" >"$out" 2>"$log_file" &
    SERVER_PID=$!
    for _ in $(seq 600); do
        if url=$(grep -o -m1 'moat listening on http://[0-9.:]*' "$out" 2>/dev/null); then
            BASE_URL="${url#moat listening on }/v1"
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
        -t "$THREADS" -tb "$THREADS" -np "$PARALLEL" -c "$CTX" --kv-unified --no-webui \
        >"$log_file" 2>&1 &
    SERVER_PID=$!
    for _ in $(seq 600); do
        if curl -sf --noproxy '*' "http://127.0.0.1:$port/health" >/dev/null 2>&1; then
            BASE_URL="http://127.0.0.1:$port/v1"
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
    if ! timeout "$RUN_TIMEOUT_S" "$LOADGEN" --url "$BASE_URL" --model "$MODEL_ID" --json "$@" >"$file.raw"; then
        log "$name failed"
        echo '{}' >"$file.raw"
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
    --arg cpu "$(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //')" --arg nproc "$(nproc)" \
    --arg mem_kb "$(awk '/^MemTotal:/{print $2}' /proc/meminfo)" --arg date "$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
    '$ARGS.named' >"$RESULTS/setup.json"

for rep in $(seq "$REPEATS"); do
    measure moat "$rep"
    measure llama "$rep"
done

# ---------------------------------------------------------------- report
python3 - "$RESULTS" <<'PY'
import json, statistics, sys
from pathlib import Path

root = Path(sys.argv[1])
setup = json.loads((root / "setup.json").read_text())
model_mb = setup["model_bytes"] / 1e6

def load(server, scenario):
    out = []
    for d in sorted(root.glob(f"rep*-{server}")):
        f = d / f"{scenario}.json"
        if f.exists():
            out.append(json.loads(f.read_text()))
    return out

def get(obj, path):
    for key in path.split("."):
        if not isinstance(obj, dict) or key not in obj or obj[key] is None:
            return None
        obj = obj[key]
    return obj

def med(server, scenario, path, scale=1.0):
    vals = [get(o, path) for o in load(server, scenario)]
    vals = [v * scale for v in vals if isinstance(v, (int, float))]
    return (statistics.median(vals), vals) if vals else (None, [])

rows = [
    # label, scenario, path, unit, scale, better
    ("decode tokens/s, 8 streams", "c8", "tokens_per_s", "tok/s", 1, "higher"),
    ("  TTFT p50, 8 streams", "c8", "ttft_ms.p50", "ms", 1, "lower"),
    ("  TTFT p99, 8 streams", "c8", "ttft_ms.p99", "ms", 1, "lower"),
    ("  ITL p50, 8 streams", "c8", "itl_ms.p50", "ms", 1, "lower"),
    ("  ITL p99, 8 streams", "c8", "itl_ms.p99", "ms", 1, "lower"),
    ("  ITL max, 8 streams", "c8", "itl_ms.max", "ms", 1, "lower"),
    ("  completion tokens/request, 8 streams", "c8", "completion_tokens_mean", "tok", 1, ""),
    ("  other processes' CPU share, 8 streams", "c8", "other_busy_share", "%", 100, ""),
    ("decode tokens/s, 1 stream", "c1", "tokens_per_s", "tok/s", 1, "higher"),
    ("  TTFT p50, 1 stream", "c1", "ttft_ms.p50", "ms", 1, "lower"),
    ("  ITL p50, 1 stream", "c1", "itl_ms.p50", "ms", 1, "lower"),
    ("  ITL p99, 1 stream", "c1", "itl_ms.p99", "ms", 1, "lower"),
    ("  completion tokens/request, 1 stream", "c1", "completion_tokens_mean", "tok", 1, ""),
    ("  prompt tokens/request, 1 stream", "c1", "prompt_tokens_mean", "tok", 1, ""),
    ("  other processes' CPU share, 1 stream", "c1", "other_busy_share", "%", 100, ""),
    ("prefix: other processes' CPU share", "prefix", "other_busy_share", "%", 100, ""),
    ("prefix: cold TTFT", "prefix", "cold_ttft_ms", "ms", 1, "lower"),
    ("prefix: warm TTFT", "prefix", "warm_ttft_ms", "ms", 1, "lower"),
    ("prefix: warm / cold TTFT", "prefix", "warm_over_cold", "", 1, "lower"),
    ("prefix: prompt tokens (cold)", "prefix", "cold_prompt_tokens", "tok", 1, ""),
    ("prefix: cached tokens (warm)", "prefix", "warm_cached_tokens", "tok", 1, ""),
    ("peak RSS (VmRSS sampled)", "memory", "peak_rss_kb", "MiB", 1 / 1024, "lower"),
    ("peak RSS − model file", "memory", "rss_over_model_kb", "MiB", 1 / 1024, "lower"),
    ("peak anonymous RSS (RssAnon)", "memory", "peak_rss_anon_kb", "MiB", 1 / 1024, "lower"),
]

# Derive RSS over the model file size per repetition.
for server in ("moat", "llama"):
    for d in sorted(root.glob(f"rep*-{server}")):
        f = d / "memory.json"
        if f.exists():
            m = json.loads(f.read_text())
            m["rss_over_model_kb"] = m["peak_rss_kb"] - setup["model_bytes"] / 1024
            f.write_text(json.dumps(m))

def fmt(v, unit):
    if v is None:
        return "n/a"
    if unit == "" or (isinstance(v, float) and abs(v) < 10):
        return f"{v:.3f}" if unit == "" else f"{v:.2f}"
    return f"{v:.1f}"

summary = {"setup": setup, "rows": []}
header = f"{'metric':42} {'unit':6} {'moat':>10} {'llama-server':>13} {'moat/llama':>10}   runs (moat | llama)"
lines = [header, "-" * len(header)]
for label, scenario, path, unit, scale, better in rows:
    m, mv = med("moat", scenario, path, scale)
    l, lv = med("llama", scenario, path, scale)
    ratio = (m / l) if (m is not None and l not in (None, 0)) else None
    summary["rows"].append({"metric": label.strip(), "scenario": scenario, "unit": unit, "better": better,
                            "moat": m, "llama": l, "ratio": ratio, "moat_runs": mv, "llama_runs": lv})
    runs = " ".join(fmt(v, unit) for v in mv) + " | " + " ".join(fmt(v, unit) for v in lv)
    lines.append(f"{label:42} {unit:6} {fmt(m, unit):>10} {fmt(l, unit):>13} "
                 f"{(f'{ratio:.2f}x' if ratio is not None else 'n/a'):>10}   {runs}")

def row(metric):
    return next(r for r in summary["rows"] if r["metric"] == metric)

def check(name, ok, detail):
    lines.append(f"{'PASS' if ok else 'MISS'}  {name}: {detail}")

lines.append("")
lines.append("targets (medians)")
r8, r1 = row("decode tokens/s, 8 streams"), row("decode tokens/s, 1 stream")
pre, mem = row("prefix: warm / cold TTFT"), row("peak RSS − model file")
if r8["ratio"] is not None:
    check("8-stream decode >= 1.0x llama-server (goal 1.15x)", r8["ratio"] >= 1.0, f"{r8['ratio']:.2f}x")
if r1["ratio"] is not None:
    check("1-stream decode >= 0.95x llama-server", r1["ratio"] >= 0.95, f"{r1['ratio']:.2f}x")
if pre["moat"] is not None:
    check("moat warm-prefix TTFT <= 0.2x cold", pre["moat"] <= 0.2, f"{pre['moat']:.3f}")
if mem["moat"] is not None:
    check("moat RSS above the model file <= 150 MiB", mem["moat"] <= 150, f"{mem['moat']:.1f} MiB")

text = "\n".join(lines)
print(text)
(root / "summary.txt").write_text(text + "\n")
(root / "summary.json").write_text(json.dumps(summary, indent=2))
PY
log "summary: $RESULTS/summary.txt"
