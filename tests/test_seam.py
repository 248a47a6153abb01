"""The protocol/backend seam: a new protocol or backend is one registered object, and it
runs end to end through the engine, the store, resume and the fault server without any
change to another module."""

from __future__ import annotations

import re
from typing import Any

import pytest

from alignbench_utils.backends import BACKENDS, Backend, register_backend
from alignbench_utils.data.records import SCHEMA_VERSION
from alignbench_utils.data.store import read_records
from alignbench_utils.protocols import (
    PROTOCOLS,
    JudgingProtocol,
    ProtocolRequest,
    Reading,
    register_protocol,
)
from alignbench_utils.running.client import CallResult, EndpointConfig
from alignbench_utils.stages.judge import run_judging


class OneNumber(JudgingProtocol):
    """Toy protocol: ask for a single 1-10 number, read the last integer in range."""

    name = "toy-one-number"
    reask_strategy = "ask_again_for_the_number"

    def request(self, item: dict[str, Any]) -> ProtocolRequest:
        prompt = ("请只用一个1到10的整数给下面的回答打分。\n"
                  f"[助手的答案开始]\n{item['answer']}\n[助手的答案结束]")
        return ProtocolRequest(messages=[{"role": "user", "content": prompt}],
                               params={"temperature": 0, "max_tokens": self.options.max_tokens},
                               hash_fields={"protocol": self.name},
                               record_fields={"request": {"max_tokens": self.options.max_tokens}})

    def read(self, text: str) -> Reading:
        numbers = [int(n) for n in re.findall(r"\d+", text) if 1 <= int(n) <= 10]
        if not numbers:
            return Reading("parse_failed", error="no number 1-10")
        return Reading("ok", score=float(numbers[-1]))

    def reask(self, item: dict[str, Any], first: ProtocolRequest, raw: str) -> ProtocolRequest:
        return ProtocolRequest(messages=[*first.messages, {"role": "assistant", "content": raw},
                                         {"role": "user", "content": "只要一个数字。"}],
                               params={**first.params, "temperature": 0.3})


class Canned(Backend):
    """Toy backend: answers every request with the item's question id, no HTTP."""

    name = "toy_canned"

    async def complete(self, messages: list[dict[str, str]], params: dict[str, Any], *,
                       item: dict[str, Any]) -> CallResult:
        return CallResult(text=f"分数：{item['question_id'] % 10 + 1}",
                          usage={"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
                          latency_s=0.0, attempts=1)


@pytest.fixture
def registered():
    register_protocol(OneNumber)
    register_backend(Canned)
    yield
    PROTOCOLS.pop(OneNumber.name)
    BACKENDS.pop(Canned.name)


def _answers(questions: list[dict]) -> list[dict]:
    return [{**q, "model": "m", "answer": f"回答{q['question_id']}", "status": "ok",
             "request_hash": f"a{q['question_id']}"} for q in questions]


def test_a_registered_protocol_runs_end_to_end_with_resume_and_faults(registered, questions16,
                                                                      tmp_path, fault_server):
    fault_server.configure(error_rate=0.3, malformed_rate=0.3, seed=5)
    judge = EndpointConfig(name="toy", base_urls=[fault_server.base_url], model_id="t",
                           backoff_base_s=0.01, max_retries=8)
    summary = run_judging(_answers(questions16), judge, tmp_path / "j", protocol=OneNumber.name,
                          max_reasks=2, progress=False)
    records = read_records(tmp_path / "j" / "m.jsonl")
    assert len(records) == 16 and summary.done + summary.parse_failed + summary.failed == 16
    assert summary.done >= 12  # the fake judge's dict holds numbers 1-10
    assert all(r["protocol"] == OneNumber.name and r["schema_version"] == SCHEMA_VERSION
               for r in records)
    assert all(r["reask_strategy"] == OneNumber.reask_strategy for r in records)
    assert any(r["reasks"] for r in records) and fault_server.stats["by_status"].get(500)
    fault_server.configure(error_rate=0.0, malformed_rate=0.0)
    fault_server.reset()
    again = run_judging(_answers(questions16), judge, tmp_path / "j", protocol=OneNumber.name,
                        progress=False)
    assert again.skipped == summary.done + summary.parse_failed
    assert fault_server.stats["total"] == summary.failed  # only errors are asked again


def test_a_registered_backend_serves_a_stage(registered, questions16, tmp_path):
    judge = EndpointConfig(name="canned", base_urls=["none"], model_id="c", backend=Canned.name)
    summary = run_judging(_answers(questions16[:4]), judge, tmp_path / "j",
                          protocol=OneNumber.name, progress=False)
    assert summary.done == 4 and summary.requests == 4
    scores = {r["question_id"]: r["score"] for r in read_records(tmp_path / "j" / "m.jsonl")}
    assert scores == {q["question_id"]: q["question_id"] % 10 + 1 for q in questions16[:4]}


def test_unknown_names_list_the_registered_ones(questions16, tmp_path):
    judge = EndpointConfig(name="x", base_urls=["http://127.0.0.1:9/v1"], model_id="x")
    with pytest.raises(Exception, match="allowed: .*alignbench-pointwise"):
        run_judging(_answers(questions16[:1]), judge, tmp_path, protocol="nope", progress=False)
    with pytest.raises(Exception, match="allowed: batch, http, reference"):
        run_judging(_answers(questions16[:1]), EndpointConfig(
            name="x", base_urls=["u"], model_id="x", backend="nope"), tmp_path, progress=False)
