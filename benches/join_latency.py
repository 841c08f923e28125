"""How long a long prompt joining a running stream pauses it.

One stream generates 400 tokens; one second in, a ~1,400-token prompt joins.
Prints the joiner's latency and the running stream's inter-chunk gaps while
the joiner was being prefilled.

Usage: .venv/bin/python benches/join_latency.py http://127.0.0.1:PORT
(moat started with --parallel 4 --threads 2; needs httpx, which the test
script's .venv has).
"""
import json, sys, threading, time, httpx
base = sys.argv[1]
M = "SmolLM2-135M-Instruct.Q4_1"
long_text = ("Company handbook section. Employees must follow the security policy, report incidents, "
             "protect customer data and keep records for audits. ") * 60
gaps, stamps = [], []
def runner():
    body = {"model": M, "messages": [{"role": "user", "content": "Write a very long story about a lighthouse keeper."}],
            "max_tokens": 400, "temperature": 0, "stream": True}
    with httpx.Client(timeout=300) as c, c.stream("POST", base + "/v1/chat/completions", json=body) as r:
        last = None
        for line in r.iter_lines():
            if line.startswith("data: {"):
                now = time.monotonic(); stamps.append(now)
                if last is not None: gaps.append(now - last)
                last = now
t = threading.Thread(target=runner); t.start()
time.sleep(1.0)
t0 = time.monotonic()
with httpx.Client(timeout=300) as c:
    r = c.post(base + "/v1/chat/completions", json={"model": M, "max_tokens": 4, "temperature": 0,
        "messages": [{"role": "system", "content": long_text}, {"role": "user", "content": "Summarize."}]})
    joiner_total = time.monotonic() - t0
    pt = r.json()["usage"]["prompt_tokens"]
t.join()
during = [g for g, s in zip(gaps, stamps[1:]) if t0 <= s <= t0 + joiner_total + 0.5]
print(f"joiner prompt {pt} tokens, joiner latency {joiner_total:.2f}s; running stream gaps while it prefilled: "
      f"n={len(during)} max={max(during):.3f}s; gaps over 0.2s: {sorted(round(g,2) for g in gaps if g > 0.2)}")
