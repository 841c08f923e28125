"""How often SmolLM2's tool calls are valid, with and without constrained decoding.

Sends the prompts of benches/tool_prompts.json (four tools: get_order_status,
get_weather, get_sales_data, send_email) to two moat servers on SmolLM2, one
with the tool-call grammar (the default) and one started with
MOAT_TOOL_GRAMMAR=off, with `tool_choice` "required" and "auto", temperature
0.7 and a fixed seed per prompt, one request at a time. For each server and
mode it prints how many responses emitted a tool call at all, and how many
emitted calls that all parse as JSON and validate against their tool's schema
(a small validator for the keywords the prompt file uses; format "date" is
checked as a real calendar date).

Usage (starts both servers with the real binary, through tests/e2e/support.py):
  MOAT_BIN=target/release/moat .venv/bin/python benches/tool_validity.py
Or against running servers:
  .venv/bin/python benches/tool_validity.py --on URL --off URL --api-key KEY
Not part of the test suite: it is a measurement.
"""

from __future__ import annotations

import argparse
import datetime
import json
import re
import sys
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
MODEL = "SmolLM2-135M-Instruct.Q4_1"
KNOWN_KEYWORDS = {
    "type", "properties", "required", "additionalProperties", "enum", "pattern",
    "format", "minLength", "maxLength", "description",
}


def problems(schema: dict, value) -> list[str]:
    """What makes `value` invalid against `schema` (the subset used here)."""
    unknown = set(schema) - KNOWN_KEYWORDS
    if unknown:
        raise SystemExit(f"the validator does not know {unknown}; extend it")
    out = []
    kind = schema.get("type")
    if kind == "object":
        if not isinstance(value, dict):
            return [f"not an object: {value!r}"]
        props = schema.get("properties", {})
        out += [f"missing {k}" for k in schema.get("required", []) if k not in value]
        if schema.get("additionalProperties") is False:
            out += [f"extra {k}" for k in value if k not in props]
        for k, v in value.items():
            if k in props:
                out += [f"{k}: {p}" for p in problems(props[k], v)]
    elif kind == "string":
        if not isinstance(value, str):
            return [f"not a string: {value!r}"]
        if len(value) < schema.get("minLength", 0):
            out.append("too short")
        if len(value) > schema.get("maxLength", 10**9):
            out.append("too long")
        if "pattern" in schema and not re.search(schema["pattern"], value):
            out.append(f"{value!r} does not match {schema['pattern']}")
        if schema.get("format") == "date":
            try:
                datetime.date.fromisoformat(value)
                if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
                    raise ValueError
            except ValueError:
                out.append(f"{value!r} is not a date")
    elif kind is not None:
        raise SystemExit(f"the validator does not know type {kind}")
    if "enum" in schema and value not in schema["enum"]:
        out.append(f"{value!r} not in enum")
    return out


def judge(message: dict, schemas: dict[str, dict]) -> tuple[bool, bool]:
    """(emitted a call, every call valid) for one response message."""
    calls = message.get("tool_calls") or []
    if not calls:
        return False, False
    for call in calls:
        fn = call.get("function") or {}
        schema = schemas.get(fn.get("name"))
        if schema is None:
            return True, False
        try:
            args = json.loads(fn.get("arguments") or "")
        except ValueError:
            return True, False
        if problems(schema, args):
            return True, False
    return True, True


def run(base: str, key: str, data: dict, choice: str, max_tokens: int) -> dict:
    schemas = {t["function"]["name"]: t["function"]["parameters"] for t in data["tools"]}
    emitted = valid = 0
    finish: dict[str, int] = {}
    with httpx.Client(base_url=base, timeout=300, headers={"Authorization": f"Bearer {key}"}) as http:
        for i, prompt in enumerate(data["prompts"]):
            body = {
                "model": MODEL,
                "messages": [
                    {"role": "system", "content": data["system"]},
                    {"role": "user", "content": prompt},
                ],
                "tools": data["tools"],
                "tool_choice": choice,
                "temperature": 0.7,
                "seed": 1000 + i,
                "max_tokens": max_tokens,
            }
            r = http.post("/v1/chat/completions", json=body)
            r.raise_for_status()
            choice0 = r.json()["choices"][0]
            finish[choice0["finish_reason"]] = finish.get(choice0["finish_reason"], 0) + 1
            e, v = judge(choice0["message"], schemas)
            emitted += e
            valid += v
    return {"n": len(data["prompts"]), "emitted": emitted, "valid": valid, "finish": finish}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--on", help="URL of a server with the grammar on (default: start one)")
    ap.add_argument("--off", help="URL of a server started with MOAT_TOOL_GRAMMAR=off")
    ap.add_argument("--api-key", default="", help="key for --on/--off servers")
    ap.add_argument("--prompts", default=str(REPO / "benches" / "tool_prompts.json"))
    ap.add_argument("--max-tokens", type=int, default=256)
    args = ap.parse_args()
    data = json.loads(Path(args.prompts).read_text())

    servers = []
    if args.on and args.off:
        targets = {"on": (args.on, args.api_key), "off": (args.off, args.api_key)}
    else:
        import tempfile

        sys.path.insert(0, str(REPO / "tests" / "e2e"))
        from support import MoatServer, smol_gguf  # noqa: E402

        targets = {}
        for label, env in (("on", {}), ("off", {"MOAT_TOOL_GRAMMAR": "off"})):
            workdir = Path(tempfile.mkdtemp(prefix=f"moat-tools-{label}-"))
            srv = MoatServer(workdir, [smol_gguf()], ["--parallel", "1", "--threads", "2"], extra_env=env)
            servers.append(srv)
            targets[label] = (srv.base_url, srv.admin_key)
    try:
        print(f"{len(data['prompts'])} prompts, temperature 0.7, seeds 1000+i, max_tokens {args.max_tokens}")
        for choice in ("required", "auto"):
            for label, (base, key) in targets.items():
                res = run(base, key, data, choice, args.max_tokens)
                n = res["n"]
                print(
                    f"tool_choice={choice:8} grammar {label:3}: "
                    f"emitted a call {res['emitted']}/{n} ({100 * res['emitted'] / n:.0f}%), "
                    f"all calls valid {res['valid']}/{n} ({100 * res['valid'] / n:.0f}%), "
                    f"finish {res['finish']}",
                    flush=True,
                )
    finally:
        for srv in servers:
            srv.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
