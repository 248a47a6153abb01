"""Engine overhead: `run_judging` against a lean aiohttp client sending the same requests to
the same server, measured in one run.

683 answers are judged at the server's fixed latency (default 1 s) and concurrency 64 by (a)
the package's engine (protocol requests, request hashes, store, records, accounting) and (b)
a bare aiohttp loop (64 workers, POST, read the JSON, nothing else). The window is the wall
time from the call to the last reply; the ratio engine / lean is the overhead. Rounds
alternate the two clients so machine load hits both alike. About a minute a round:
``python benchmarks/engine_overhead.py [--rounds 2]``.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

import aiohttp
from bench_common import fault_server

from alignbench_utils import load_questions
from alignbench_utils.config import Sampling
from alignbench_utils.protocols import get_protocol
from alignbench_utils.running.client import EndpointConfig
from alignbench_utils.stages.generate import run_generation
from alignbench_utils.stages.judge import load_answers, run_judging


async def lean_window(base_url: str, bodies: list[dict], concurrency: int) -> float:
    """Seconds for a bare aiohttp client to send every body with ``concurrency`` workers."""
    queue: asyncio.Queue[dict] = asyncio.Queue()
    for body in bodies:
        queue.put_nowait(body)
    started = time.perf_counter()
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:
        async def worker() -> None:
            while not queue.empty():
                body = queue.get_nowait()
                async with session.post(f"{base_url}/chat/completions", json=body) as resp:
                    resp.raise_for_status()
                    await resp.json()

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.perf_counter() - started


def measure(*, n: int = 683, latency: float = 1.0, concurrency: int = 64, rounds: int = 2,
            say=print) -> tuple[float, float, int]:
    """Best engine and lean windows over ``rounds`` alternating rounds, and the number of
    calls each made."""
    tmp = Path(tempfile.mkdtemp(prefix="alignbench-engine-"))
    questions = load_questions("v1.1").to_list()[:n]
    with fault_server(latency=0.0) as server:
        answers_file = tmp / "answers" / "cand.jsonl"
        run_generation(questions, EndpointConfig(name="cand", base_urls=[server.base_url],
                                                 model_id="cand-id", concurrency=64),
                       answers_file, progress=False)
    protocol = get_protocol("pointwise_alignbench")(max_tokens=Sampling.max_tokens,
                                                    seed=Sampling.seed)
    bodies = []
    for answer in load_answers(answers_file):
        req = protocol.request(answer)
        bodies.append({"model": "judge-id", "messages": req.messages, **req.params})

    engine_s, lean_s = [], []
    with fault_server(latency=latency) as server:
        for index in range(rounds):
            endpoint = EndpointConfig(name="judge", base_urls=[server.base_url],
                                      model_id="judge-id", concurrency=concurrency)
            started = time.perf_counter()
            summary = run_judging(answers_file, endpoint, tmp / f"judgments{index}",
                                  progress=False, max_reasks=0)
            engine_s.append(time.perf_counter() - started)
            assert summary.done + summary.parse_failed == len(bodies), summary.one_line()
            lean_s.append(asyncio.run(lean_window(server.base_url, bodies, concurrency)))
            say(f"round {index + 1}: engine {engine_s[-1]:.2f} s, lean aiohttp "
                f"{lean_s[-1]:.2f} s")
    return min(engine_s), min(lean_s), len(bodies)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency", type=float, default=1.0)
    parser.add_argument("--n", type=int, default=683)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    engine, lean, n = measure(n=args.n, latency=args.latency, concurrency=args.concurrency,
                              rounds=args.rounds)
    floor = -(-n // args.concurrency) * args.latency
    print(f"\n{n} judge calls, latency {args.latency:g} s, concurrency "
          f"{args.concurrency}; floor ceil(n/c) x latency = {floor:.1f} s")
    print(f"engine (run_judging) best {engine:.2f} s, lean aiohttp best {lean:.2f} s, "
          f"ratio {engine / lean:.3f}")


if __name__ == "__main__":
    main()
