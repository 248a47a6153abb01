"""Speed of the embedded local server (llama-server + a registered GGUF) on this machine.

Prints: setup time (a no-op when cached; ``--cache DIR`` times a cold build + fetch),
server start time, single-request prompt and generation tok/s (llama-server's own
``timings``), flash attention on vs off (the server keeps llama.cpp's ``auto``, i.e. on): prompt
evaluation of 6 judge prompts one at a time, then generation with 4 judge prompts in flight
(their prompts cached), and a 16-question answer batch then its judging (json_schema
structured output) with ``-np 1`` vs ``-np 4``. Each configuration gets a fresh server,
so its prompt cache starts empty. Run: ``.venv/bin/python benchmarks/local_server_bench.py``
(about 12 minutes on 2 cores with the 0.5b model).
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from alignbench_utils import build_judge_prompt, load_questions
from alignbench_utils.local.local_server import serve_local, setup_local
from alignbench_utils.running.client import EndpointConfig
from alignbench_utils.stages.generate import run_generation
from alignbench_utils.stages.judge import run_judging


def probe(base_url: str, model_id: str, prompt: str, max_tokens: int) -> dict[str, float]:
    """One chat request; llama-server's timings (prompt/generation tokens per second)."""
    body = json.dumps({"model": model_id, "max_tokens": max_tokens, "temperature": 0,
                       "messages": [{"role": "user", "content": prompt}]}).encode()
    req = urllib.request.Request(base_url + "/chat/completions", data=body,
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=600) as resp:
        t = json.load(resp)["timings"]
    return {"prompt_tokens": t["prompt_n"], "prompt_tok_s": t["prompt_per_second"],
            "gen_tokens": t["predicted_n"], "gen_tok_s": t["predicted_per_second"]}


def attention(args: argparse.Namespace, questions: list[dict], tmp: Path) -> None:
    """Flash attention on vs off: prompt tok/s one request at a time, then generation tok/s
    with 4 judge requests in flight (llama-server's CPU flash attention is slower here)."""
    prompts = [build_judge_prompt(q, q["reference"]) for q in questions[:6]]
    for setting in ("on", "off"):
        with serve_local(args.model, parallel=4, ctx=args.ctx, log_dir=tmp, setup=False,
                         flags=("--flash-attn", setting)) as srv:
            first = [probe(srv.base_url, srv.model_id, p, 1) for p in prompts]
            with ThreadPoolExecutor(4) as pool:
                started = time.monotonic()
                flight = list(pool.map(lambda p: probe(srv.base_url, srv.model_id, p, 96),
                                       prompts[:4]))
                wall = time.monotonic() - started
        tokens = sum(r["prompt_tokens"] for r in first)
        prompt_s = sum(r["prompt_tokens"] / r["prompt_tok_s"] for r in first)
        generated = sum(r["gen_tokens"] for r in flight)
        print(f"flash attention {setting:3s}: prompts {tokens} tok at {tokens / prompt_s:.0f} "
              f"tok/s; 4 in flight: {generated} tok in {wall:.1f} s = {generated / wall:.1f} "
              f"tok/s ({min(r['gen_tok_s'] for r in flight):.1f}-"
              f"{max(r['gen_tok_s'] for r in flight):.1f} per slot)", flush=True)


def batch(args: argparse.Namespace, parallel: int, questions: list[dict], tmp: Path) -> None:
    """Answer then judge (json_schema) ``questions`` on a fresh server with ``parallel`` slots."""
    started = time.monotonic()
    with serve_local(args.model, parallel=parallel, ctx=args.ctx, log_dir=tmp,
                     setup=False) as srv:
        start_s = time.monotonic() - started
        endpoint = EndpointConfig(name=f"np{parallel}", base_urls=[srv.base_url],
                                  model_id=srv.model_id, concurrency=parallel, timeout_s=600)
        answers = tmp / f"answers-np{parallel}.jsonl"
        gen = run_generation(questions, endpoint, answers, max_tokens=args.max_tokens,
                             progress=False)
        print(f"-np {parallel}: start {start_s:.1f} s | {len(questions)} answers in "
              f"{gen.wall_s:.1f} s, {gen.completion_tokens} completion tokens, "
              f"{gen.completion_tokens / gen.wall_s:.1f} tok/s aggregate, failed {gen.failed}",
              flush=True)
        out = tmp / f"judgments-np{parallel}"
        jdg = run_judging(answers, endpoint, out, structured="json_schema",
                          max_tokens=args.max_tokens * 2, progress=False)
        print(f"-np {parallel}: judged {jdg.done + jdg.parse_failed} in {jdg.wall_s:.1f} s "
              f"(json_schema): ok {jdg.done}, parse_failed {jdg.parse_failed}, "
              f"failed {jdg.failed}, tokens {jdg.prompt_tokens}+{jdg.completion_tokens}",
              flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="0.5b")
    parser.add_argument("--ctx", type=int, default=16384)
    parser.add_argument("--max-tokens", type=int, default=256)
    parser.add_argument("--per-category", type=int, default=2)
    parser.add_argument("--parallel", type=int, nargs="+", default=[1, 4], help="-np values")
    parser.add_argument("--cache", default=None, help="time a cold setup into this cache dir")
    args = parser.parse_args()
    if args.cache:
        os.environ["ALIGNBENCH_CACHE"] = args.cache
    t = time.monotonic()
    binary, model = setup_local(args.model)
    print(f"setup: {time.monotonic() - t:.1f} s ({binary}, {model})", flush=True)

    questions = load_questions("v1.1", per_category=args.per_category, seed=0).to_list()
    with tempfile.TemporaryDirectory(prefix="local-bench-") as tmp_name:
        tmp = Path(tmp_name)
        with serve_local(args.model, parallel=1, ctx=args.ctx, log_dir=tmp, setup=False) as srv:
            q = questions[0]
            judge_prompt = build_judge_prompt(q, q["reference"])
            for label, prompt in (("short question", q["question"]),
                                  ("judge prompt", judge_prompt)):
                r = probe(srv.base_url, srv.model_id, prompt, 128)
                print(f"single request, {label}: prompt {r['prompt_tokens']} tok at "
                      f"{r['prompt_tok_s']:.0f} tok/s, generation {r['gen_tokens']} tok at "
                      f"{r['gen_tok_s']:.1f} tok/s", flush=True)
        attention(args, questions, tmp)
        for parallel in args.parallel:
            batch(args, parallel, questions, tmp)


if __name__ == "__main__":
    main()
