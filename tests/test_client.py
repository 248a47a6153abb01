"""The endpoint client over real HTTP against the fault server: limits, retries, pools."""

from __future__ import annotations

import asyncio
import json
import select
import subprocess
import sys
import time
import urllib.request

import pytest

from alignbench_utils.errors import InputError
from alignbench_utils.running.client import (
    AdaptiveLimiter,
    CallError,
    EndpointClient,
    EndpointConfig,
    run_sync,
)
from alignbench_utils.testing.fault_server import FaultServer

MESSAGES = [{"role": "user", "content": "你好"}]


def _config(*urls: str, **kw) -> EndpointConfig:
    kw = {"concurrency": 8, "backoff_base_s": 0.02, "max_retries": 3, **kw}
    return EndpointConfig(name="m", base_urls=list(urls), model_id="fault", **kw)


async def _many(cfg: EndpointConfig, n: int) -> tuple[list, EndpointClient]:
    async with EndpointClient(cfg) as client:
        results = await asyncio.gather(
            *(client.chat([{"role": "user", "content": f"q{i}"}]) for i in range(n)),
            return_exceptions=True)
    return results, client


def test_rate_limit_beyond_k_concurrent_all_done(fault_server: FaultServer) -> None:
    fault_server.configure(latency=0.1, max_concurrent=2, retry_after=0.05)
    results, client = asyncio.run(_many(_config(fault_server.base_url, max_retries=20), 24))
    assert all(not isinstance(r, BaseException) for r in results), results
    stats = fault_server.stats
    assert stats["by_status"].get(429, 0) > 0 and stats["by_status"][200] == 24
    assert stats["max_in_flight"] <= 2
    assert client.limiter.epoch >= 1  # the limiter cut its limit at least once


def test_retry_after_as_http_date_is_honoured(fault_server: FaultServer) -> None:
    fault_server.configure(latency=0.2, max_concurrent=1, retry_after=1,
                           retry_after_http_date=True)
    results, _ = asyncio.run(_many(_config(fault_server.base_url, max_retries=10), 2))
    assert all(r.text for r in results)


def test_5xx_retried_then_error_counts_attempts(fault_server: FaultServer) -> None:
    fault_server.configure(error_rate=1.0)
    with pytest.raises(CallError, match="HTTP 500.*gave up after 4 attempts") as info:
        asyncio.run(_many_one(_config(fault_server.base_url)))
    assert info.value.attempts == 4 and fault_server.stats["total"] == 4


async def _many_one(cfg: EndpointConfig):
    async with EndpointClient(cfg) as client:
        return await client.chat(MESSAGES)


def test_timeout_retried_then_error(fault_server: FaultServer) -> None:
    fault_server.configure(hang_rate=1.0, hang_s=5.0)
    start = time.monotonic()
    with pytest.raises(CallError, match="timeout") as info:
        asyncio.run(_many_one(_config(fault_server.base_url, timeout_s=0.3, max_retries=1)))
    assert info.value.attempts == 2 and time.monotonic() - start < 3


def test_total_retry_time_is_bounded(fault_server: FaultServer) -> None:
    fault_server.configure(error_rate=1.0)
    cfg = _config(fault_server.base_url, max_retries=50, backoff_base_s=0.2,
                  max_retry_time_s=0.5)
    with pytest.raises(CallError, match="retry time"):
        asyncio.run(_many_one(cfg))
    assert fault_server.stats["total"] < 10


def test_non_retryable_status_fails_at_once(fault_server: FaultServer) -> None:
    cfg = _config(fault_server.base_url.replace("/v1", "/nowhere"))
    with pytest.raises(CallError, match="HTTP 404") as info:
        asyncio.run(_many_one(cfg))
    assert info.value.attempts == 1


def test_pool_of_two_base_urls_uses_both(fault_server: FaultServer) -> None:
    fault_server.configure(latency=0.05)
    with FaultServer(latency=0.05) as second:
        results, _ = asyncio.run(_many(_config(fault_server.base_url, second.base_url), 20))
        assert all(r.text for r in results)
        assert fault_server.stats["total"] > 0 and second.stats["total"] > 0
        assert fault_server.stats["total"] + second.stats["total"] == 20


def test_usage_latency_and_cost_recorded(fault_server: FaultServer) -> None:
    cfg = _config(fault_server.base_url, price={"prompt": 1.0, "completion": 2.0})
    result = asyncio.run(_many_one(cfg))
    assert result.usage["total_tokens"] == result.usage["prompt_tokens"] + \
        result.usage["completion_tokens"] > 0
    assert result.latency_s >= 0 and result.attempts == 1
    assert result.cost_usd == pytest.approx(cfg.cost(result.usage["prompt_tokens"],
                                                     result.usage["completion_tokens"]))


def test_limiter_halves_once_per_epoch_and_regrows() -> None:
    async def scenario() -> list[int]:
        lim = AdaptiveLimiter(16)
        epochs = [await lim.acquire() for _ in range(10)]
        await lim.release(epochs[0], throttled=True)
        await lim.release(epochs[1], throttled=True)  # same burst: no second cut
        seen = [lim.limit]
        for e in epochs[2:]:
            await lim.release(e, throttled=False)
        seen.append(lim.limit)
        return seen

    assert asyncio.run(scenario()) == [8, 15]  # regrows fast up to below the level that failed


def test_endpoint_config_from_dict_and_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = EndpointConfig.from_dict({"name": "m", "base_urls": ["http://a/v1", "http://b/v1"],
                                    "model_id": "x", "api_key_env": "ALIGNBENCH_TEST_KEY"})
    monkeypatch.delenv("ALIGNBENCH_TEST_KEY", raising=False)
    with pytest.raises(InputError, match="ALIGNBENCH_TEST_KEY is not set"):
        cfg.api_key()
    with pytest.raises(InputError, match="unknown endpoint settings"):
        EndpointConfig.from_dict({"name": "m", "base_url": "u", "model_id": "x", "tmp": 1})
    assert EndpointConfig.reference().is_reference


def test_run_sync_inside_a_running_loop() -> None:
    async def inner() -> int:
        await asyncio.sleep(0)
        return 7

    async def outer() -> int:  # like a notebook cell: a loop is already running
        return run_sync(inner())

    assert asyncio.run(outer()) == 7


def test_fault_server_command_line_takes_each_setting_with_its_type() -> None:
    """``python -m alignbench_utils.testing.fault_server`` derives its flags from FaultConfig."""
    cmd = [sys.executable, "-m", "alignbench_utils.testing.fault_server", "--port", "0",
           "--answer-bytes", "3000", "--reasoning", "think_tags", "--latency", "0.01",
           "--retry-after-http-date", "--max-concurrent", "4"]
    with subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True) as proc:
        try:
            ready, _, _ = select.select([proc.stdout], [], [], 30)
            assert ready, "the fault server printed nothing within 30 s"
            base_url = proc.stdout.readline().split(" at ")[1].strip()
            body = json.dumps({"model": "m", "messages": [{"role": "user", "content": "q"}]})
            request = urllib.request.Request(f"{base_url}/chat/completions", data=body.encode(),
                                             headers={"Content-Type": "application/json"})
            with urllib.request.urlopen(request, timeout=30) as resp:
                content = json.load(resp)["choices"][0]["message"]["content"]
        finally:
            proc.terminate()
    assert content.startswith("<think>") and len(content.encode()) >= 3000
