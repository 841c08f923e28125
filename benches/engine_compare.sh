#!/usr/bin/env bash
# Engine-only comparison: the same greedy decode loop (benches/engine_decode.cpp)
# linked once against the llama.cpp that moat embeds (built by llama-cpp-sys-2
# under target/release) and once against the llama.cpp that llama-server was
# built from (benches/build_llama_server.sh). Both use the same CPU tuning.
# The two llama.cpp versions differ; this tells how much of a side-by-side
# difference comes from the engine version rather than from the server.
#
# Usage: benches/engine_compare.sh
# Environment: MODEL [models/SmolLM2-135M-Instruct.Q4_1.gguf]  THREADS [2]
#              N_GEN [128]  REPEATS [5] (alternating, median reported)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
MODEL="${MODEL:-models/SmolLM2-135M-Instruct.Q4_1.gguf}"
THREADS="${THREADS:-2}"
N_GEN="${N_GEN:-128}"
REPEATS="${REPEATS:-5}"
CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/moat-bench"
OUT="$CACHE/engine"
mkdir -p "$OUT"
log() { echo "[engine-compare] $*" >&2; }

# moat's llama.cpp: the newest llama-cpp-sys-2 release build that installed its libraries.
moat_out=$(ls -td "$ROOT"/target/release/build/llama-cpp-sys-2-*/out/lib/libllama.a 2>/dev/null | head -1 || true)
[[ -n "$moat_out" ]] || { log "no llama-cpp-sys-2 build under target/release; run cargo build --release first"; exit 1; }
moat_out=$(dirname "$(dirname "$moat_out")")

LLAMA_SERVER=$("$ROOT/benches/build_llama_server.sh")
peer_build=$(dirname "$(dirname "$LLAMA_SERVER")")
peer_src=$(dirname "$peer_build")

build() {
    local name=$1 include=$2; shift 2
    if [[ ! -x "$OUT/engine_decode_$name" || "$ROOT/benches/engine_decode.cpp" -nt "$OUT/engine_decode_$name" ]]; then
        log "building engine_decode_$name"
        g++ -O2 -std=c++17 "$ROOT/benches/engine_decode.cpp" $include "$@" -fopenmp -lpthread -ldl \
            -o "$OUT/engine_decode_$name"
    fi
}
build moat "-I$moat_out/include" \
    "$moat_out/lib/libllama.a" "$moat_out/lib/libggml.a" "$moat_out/lib/libggml-cpu.a" "$moat_out/lib/libggml-base.a"
build llama "-I$peer_src/include -I$peer_src/ggml/include" \
    "$peer_build/src/libllama.a" "$peer_build/ggml/src/libggml.a" "$peer_build/ggml/src/libggml-cpu.a" \
    "$peer_build/ggml/src/libggml-base.a"

ggml_version() {
    grep -E 'set\(GGML_VERSION_(MAJOR|MINOR|PATCH)' "$1/ggml/CMakeLists.txt" | grep -oE '[0-9]+' | paste -sd.
}
moat_src=$(grep -m1 -o '/[^ ]*llama-cpp-sys-2-[0-9.]*/llama.cpp' "$moat_out/build/CMakeCache.txt" || true)
log "moat engine:         ${moat_src:-?} (ggml $( [[ -n "$moat_src" ]] && ggml_version "$moat_src"))"
log "llama-server engine: $peer_src (ggml $(ggml_version "$peer_src"))"

declare -A results
for n_seq in 1 8; do
    for rep in $(seq "$REPEATS"); do
        for name in moat llama; do
            line=$("$OUT/engine_decode_$name" "$MODEL" "$THREADS" "$n_seq" "$N_GEN" 1)
            tps=$(sed 's/.*tokens_per_s=//' <<<"$line")
            results[$name-$n_seq]+="$tps "
            log "n_seq $n_seq rep $rep $name: $tps tokens/s"
        done
    done
done

echo "engine-only greedy decode, $THREADS threads, $N_GEN steps, median of $REPEATS (alternating)"
printf '%-8s %14s %14s %8s   %s\n' "streams" "moat's engine" "llama-server's" "ratio" "runs (moat | llama-server)"
for n_seq in 1 8; do
    m=$(tr ' ' '\n' <<<"${results[moat-$n_seq]}" | grep . | sort -g | awk '{a[NR]=$1} END{print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}')
    l=$(tr ' ' '\n' <<<"${results[llama-$n_seq]}" | grep . | sort -g | awk '{a[NR]=$1} END{print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}')
    printf '%-8s %14.1f %14.1f %7.2fx   %s| %s\n' "$n_seq" "$m" "$l" "$(awk -v m="$m" -v l="$l" 'BEGIN{print m/l}')" \
        "${results[moat-$n_seq]}" "${results[llama-$n_seq]}"
done
