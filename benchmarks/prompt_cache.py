"""Gain of the prompt cache from the order judge requests are sent in, with the local model.

The demo's judge prompts (two models' answers to the demo's questions, each judged
``samples`` times as the demo's judge is) are sent to a fresh llama-server (prompt cache on,
``-np`` slots as the demo) in two orders: answer by answer, each answer's samples side by
side (the order before), and sample by sample (the package's order, ``judging_tasks``: every
answer's sample 0, then every sample 1, ...). Each request asks for one token, so the time
measured is prompt evaluation, the part a cache saves. Prints per order: prompt tokens sent,
prompt tokens the server evaluated (llama-server's ``timings.prompt_n``; the rest came from
its cache), prompt-evaluation time and wall time. Generation time does not change with the
order. About 5 minutes on 2 cores: ``python benchmarks/prompt_cache.py``.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from alignbench_utils import load_questions
from alignbench_utils.config import Sampling, load_config
from alignbench_utils.local.local_server import serve_local
from alignbench_utils.paths import REPO_ROOT
from alignbench_utils.protocols import get_protocol
from alignbench_utils.running.client import EndpointConfig, chat_body
from alignbench_utils.running.engine import RunSummary, Task
from alignbench_utils.stages.judge import judging_tasks, load_answers


def answer_records(per_category: int) -> list[dict]:
    """Two models' answers to the demo's questions: the reference answers, and their first
    third (different text after the same question)."""
    out = []
    for q in load_questions("v1.1", per_category=per_category, seed=0).to_list():
        out.append({**q, "model": "reference", "answer": q["reference"], "status": "ok"})
        out.append({**q, "model": "short", "answer": q["reference"][: len(q["reference"]) // 3]
                    or "无", "status": "ok"})
    return out


def answer_by_answer(tasks: list[Task]) -> list[Task]:
    """The same tasks with each answer's samples side by side."""
    position = {}
    for task in tasks:
        position.setdefault((task.item["model"], task.item["question_id"]), len(position))
    return sorted(tasks, key=lambda t: (position[t.item["model"], t.item["question_id"]],
                                        t.item.get("sample", 0)))


def send(base_url: str, model_id: str, tasks: list[Task], workers: int) -> dict[str, float]:
    """Send each task's prompt for one token with ``workers`` in flight; sum the timings."""
    def one(task: Task) -> dict:
        body = chat_body(model_id, task.request.messages,
                         {**task.request.params, "max_tokens": 1})
        req = urllib.request.Request(f"{base_url}/chat/completions",
                                     data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=900) as resp:
            return json.load(resp)

    started = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
        replies = list(pool.map(one, tasks))  # map submits in order: the order sent
    return {"wall_s": time.perf_counter() - started,
            "prompt_tokens": sum(r["usage"]["prompt_tokens"] for r in replies),
            "evaluated": sum(r["timings"]["prompt_n"] for r in replies),
            "prompt_s": sum(r["timings"]["prompt_ms"] for r in replies) / 1000}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    config = load_config(REPO_ROOT / "runs" / "demo.yaml")
    local, demo_judge = config.local, config.judges[0]
    parser.add_argument("--per-category", type=int, default=config.dataset.per_category)
    parser.add_argument("--samples", type=int, default=demo_judge.samples)
    args = parser.parse_args()
    protocol = get_protocol("pointwise_alignbench")(max_tokens=Sampling.max_tokens,
                                                    seed=Sampling.seed)
    answers = load_answers(answer_records(args.per_category))
    endpoint = EndpointConfig(name="judge", base_urls=["http://unused/v1"], model_id="judge")
    tasks = judging_tasks(answers, protocol, endpoint, Path("unused"), RunSummary("judge", "j"),
                          samples=args.samples)
    orders = {"samples side by side": answer_by_answer(tasks), "sample by sample": tasks}
    results = {}
    tmp = Path(tempfile.mkdtemp(prefix="alignbench-cache-"))
    for name, ordered in orders.items():
        with serve_local(local.model, parallel=local.parallel, ctx=local.ctx,
                         log_dir=tmp / name.replace(" ", "_")) as server:
            results[name] = send(server.base_url, server.model_id, ordered, local.parallel)
        r = results[name]
        print(f"{name:21} {len(ordered)} requests: prompt tokens {r['prompt_tokens']}, "
              f"evaluated {r['evaluated']} ({r['evaluated'] / r['prompt_tokens']:.0%}), "
              f"prompt eval {r['prompt_s']:.1f} s, wall {r['wall_s']:.1f} s", flush=True)
    before, after = results["samples side by side"], results["sample by sample"]
    print(f"\nlocal model {local.model}, -np {local.parallel}, ctx {local.ctx}, "
          f"{args.samples} samples; sample by sample "
          f"evaluates {after['evaluated'] / before['evaluated']:.2f}x the prompt tokens in "
          f"{after['wall_s'] / before['wall_s']:.2f}x the wall time (shared machine: other "
          "processes' load varies between the two runs)")


if __name__ == "__main__":
    main()
