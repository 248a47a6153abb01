"""Gain of the prompt cache from the order judge requests are sent in, with the local model.

The demo's judge prompts (two models' answers to the demo's questions, one model after the
other as the answer files are read, each answer judged ``samples`` times as the demo's judge
does) go to a fresh llama-server (prompt cache on, ``-np`` slots and the server flags of the
demo) in three orders:

- samples side by side: answer by answer, each answer's samples together (the first order);
- sample by sample: every answer's sample 0, then every sample 1, models in the same order;
- models alternating (the package's order, ``judging_tasks``): sample by sample, each pass
  taking the models in the reverse order of the pass before.

Each request generates ``--tokens`` tokens (about a demo judgment's length), since the
server caches prompt and reply together. Prints per order: prompt tokens sent, prompt tokens
the server evaluated (llama-server's ``timings.prompt_n``; the rest came from its cache),
those of the second pass, prompt-evaluation time and wall time. About 8 minutes on 2 cores:
``python benchmarks/prompt_cache.py``.
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
    """Two models' answers to the demo's questions, model after model: the reference
    answers, and for each question the next one's reference (a different answer of a
    realistic length, as two real models give)."""
    questions = load_questions("v1.1", per_category=per_category, seed=0).to_list()
    reference = [{**q, "model": "reference", "answer": q["reference"], "status": "ok"}
                 for q in questions]
    other = [{**q, "model": "other", "status": "ok",
              "answer": questions[(i + 1) % len(questions)]["reference"][:600]}
             for i, q in enumerate(questions)]
    return reference + other


def answer_by_answer(tasks: list[Task]) -> list[Task]:
    """The same tasks with each answer's samples side by side."""
    position = {}
    for task in tasks:
        position.setdefault((task.item["model"], task.item["question_id"]), len(position))
    return sorted(tasks, key=lambda t: (position[t.item["model"], t.item["question_id"]],
                                        t.item.get("sample", 0)))


def same_model_order(tasks: list[Task]) -> list[Task]:
    """Sample by sample, every pass in the first pass's order."""
    first = [t for t in tasks if not t.item.get("sample")]
    position = {(t.item["model"], t.item["question_id"]): i for i, t in enumerate(first)}
    return sorted(tasks, key=lambda t: (t.item.get("sample", 0),
                                        position[t.item["model"], t.item["question_id"]]))


def send(base_url: str, model_id: str, tasks: list[Task], workers: int,
         tokens: int) -> dict[str, float]:
    """Send each task's prompt for ``tokens`` tokens with ``workers`` in flight; sum the
    timings (overall and for the tasks of sample 1 and later)."""
    def one(task: Task) -> dict:
        body = chat_body(model_id, task.request.messages,
                         {**task.request.params, "max_tokens": tokens, "ignore_eos": True})
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
            "later_passes": sum(r["timings"]["prompt_n"] for r, t in zip(replies, tasks)
                                if t.item.get("sample")),
            "prompt_s": sum(r["timings"]["prompt_ms"] for r in replies) / 1000}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    config = load_config(REPO_ROOT / "runs" / "demo.yaml")
    local, demo_judge = config.local, config.judges[0]
    parser.add_argument("--per-category", type=int, default=config.dataset.per_category)
    parser.add_argument("--samples", type=int, default=demo_judge.samples)
    parser.add_argument("--tokens", type=int, default=120, help="generated per request")
    args = parser.parse_args()
    protocol = get_protocol("pointwise_alignbench")(max_tokens=Sampling.max_tokens,
                                                    seed=Sampling.seed)
    answers = load_answers(answer_records(args.per_category))
    endpoint = EndpointConfig(name="judge", base_urls=["http://unused/v1"], model_id="judge")
    tasks = judging_tasks(answers, protocol, endpoint, Path("unused"), RunSummary("judge", "j"),
                          samples=args.samples)
    orders = {"samples side by side": answer_by_answer(tasks),
              "sample by sample": same_model_order(tasks), "models alternating": tasks}
    results = {}
    tmp = Path(tempfile.mkdtemp(prefix="alignbench-cache-"))
    for name, ordered in orders.items():
        with serve_local(local.model, parallel=local.parallel, ctx=local.ctx,
                         log_dir=tmp / name.replace(" ", "_")) as server:
            results[name] = send(server.base_url, server.model_id, ordered, local.parallel,
                                 args.tokens)
        r = results[name]
        print(f"{name:21} {len(ordered)} requests: prompt tokens {r['prompt_tokens']}, "
              f"evaluated {r['evaluated']} ({r['evaluated'] / r['prompt_tokens']:.0%}; "
              f"later passes {r['later_passes']}), prompt eval {r['prompt_s']:.1f} s, "
              f"wall {r['wall_s']:.1f} s", flush=True)
    first = results["samples side by side"]
    print(f"\nlocal model {local.model}, -np {local.parallel}, ctx {local.ctx}, "
          f"{args.samples} samples, {args.tokens} tokens generated per request; against "
          "samples side by side:")
    for name in list(orders)[1:]:
        r = results[name]
        print(f"  {name}: {r['evaluated'] / first['evaluated']:.2f}x the prompt tokens "
              f"evaluated, {r['wall_s'] / first['wall_s']:.2f}x the wall time")


if __name__ == "__main__":
    main()
