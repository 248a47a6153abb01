"""A fault-injecting OpenAI-compatible server on 127.0.0.1, for tests, benchmarks and demos.

Real endpoints rate-limit, fail, hang, return empty answers and judges that forget the score
dict; the run engine must survive all of it. This server does each on demand, over real HTTP,
and counts every request so tests can assert "a rerun sends zero requests".

It also plays a pairwise judge: a prompt of a pairwise protocol (LLMBar, MT-Bench, PandaLM,
Auto-J's layout, AlignBench/CritiqueLLM's) gets a deterministic verdict in that protocol's own
format (:func:`fake_verdict`), a configurable share of replies pick the response shown first
whatever it says (``position_bias``), and ``malformed_rate`` of them hold no verdict.

Faults are decided by hashing ``(seed, request body, how often that body was seen)``, so a
run is reproducible and a retried request can draw a different outcome than its first try.

It also speaks the Batch API (``/v1/files``, ``/v1/batches``; see
:mod:`alignbench_utils.testing.fault_batches`): batches finish after ``batch_latency``, their items
draw the same faults as chat requests, and they can expire. Tokens are billed with the
package's token approximation (:mod:`alignbench_utils.running.tokens`), calibrated on a real
tokenizer, so cost estimates can be checked against what a run is billed.

Run by hand: ``python -m alignbench_utils.testing.fault_server --port 8000 --latency 0.5``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import socket
import threading
import time
from collections import Counter
from dataclasses import asdict, dataclass, fields
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import NoneType
from typing import Any, Self, get_args, get_type_hints

from alignbench_utils.running.tokens import approx_tokens
from alignbench_utils.testing.fault_batches import BatchAPI

__all__ = ["FaultConfig", "FaultServer", "fake_answer", "fake_score", "fake_verdict", "main"]

JUDGE_MARKER = "[助手的答案开始]"
# A reasoning model's thinking, with a stray score dict in it: only the final content counts.
THINKING = "让我先想一想。草稿：{'综合得分': 1}。再检查一遍。"
_ANSWER_RE = re.compile(r"\[助手的答案开始\]\n(.*)\n\[助手的答案结束\]", re.DOTALL)
_DIMENSION_RE = re.compile(r"^\d+\. ([^:\n]+): ", re.MULTILINE)
# MT-Bench single-answer grading (mtbench-single): the answer, rated [[N]] with fake_score.
_SINGLE_RE = re.compile(r"\[The Start of Assistant's Answer\]\n(.*)\n"
                        r"\[The End of Assistant's Answer\]", re.DOTALL)
# Pairwise judge prompts, recognised by where they put the two responses, with the replies
# in each one's verdict format for (a tie, the response shown first, the second).
_PAIRWISE_TABLE = (
    (r"# Output \(a\):\n(.*)\n\n# Output \(b\):\n(.*)\n\n# Which is better",  # LLMBar: no ties
     ("Output (a)", "Output (a)", "Output (b)")),
    ((r"\[The Start of Assistant A's Answer\]\n(.*)\n\[The End of Assistant A's Answer\]"
      r".*\[The Start of Assistant B's Answer\]\n(.*)\n\[The End of"),  # MT-Bench
     tuple(f"Both answers address the question; one is more helpful. [[{v}]]" for v in "CAB")),
    (r"### Response 1:\n(.*)\n\n### Response 2:\n(.*)\n\n### Evaluation:",  # PandaLM
     tuple(f"{v}\n\n### Reason: it follows the instruction.\n\n### Reference: -"
           for v in ("Tie", "1", "2"))),
    (r"\[助手1的答案开始\]\n(.*)\n\[助手1的答案结束\].*\[助手2的答案开始\]\n(.*)\n\[助手2的答案结束\]",
     tuple(f"比较分析：两个回答各有长短。\n{{'综合比较结果': '{v}'}}"  # AlignBench/CritiqueLLM
           for v in ("质量相当", "助手1", "助手2"))),
    (r"\[Response 1\]: (.*)\n\*\*\*\n\[Response 2\]: (.*)\n\*\*\*\n\[END DATA\]",  # Auto-J
     tuple(f"Both respond. So, the final decision is {v}"
           for v in ("Tie", "Response 1", "Response 2"))),
)
_PAIRWISE = tuple((re.compile(pattern, re.DOTALL), replies)
                  for pattern, replies in _PAIRWISE_TABLE)
_NO_VERDICT = "Both responses have merits; which is better depends on what the user wants."


@dataclass
class FaultConfig:
    """What the server does; every rate is a probability per request."""

    latency: float = 0.0
    max_concurrent: int | None = None  # above this many in flight: 429 with Retry-After
    retry_after: float = 1.0
    retry_after_http_date: bool = False  # send Retry-After as an HTTP date instead of seconds
    error_rate: float = 0.0  # 500 answers
    hang_rate: float = 0.0  # sleep hang_s before answering (past the client's timeout)
    hang_s: float = 30.0
    malformed_rate: float = 0.0  # judge output without the score dict (pairwise: no verdict)
    position_bias: float = 0.0  # pairwise: share of verdicts for the response shown first
    empty_rate: float = 0.0  # empty answer text
    truncated_rate: float = 0.0  # HTTP 200 whose JSON body is cut off halfway (a proxy, a drop)
    answer_bytes: int = 0  # pad answers to about this many UTF-8 bytes (0: short)
    reasoning: str = "none"  # a reasoning model: "think_tags" (<think>… in content),
    # "reasoning_content" (a separate message field, as DeepSeek-R1/vLLM/SGLang return it)
    seed: int = 0
    judge_noise: int = 0  # judge scores move by up to ± this many points with the request's
    # seed (a judge whose repeated samples differ); 0: the score depends on the answer only
    batch_latency: float = 0.0  # seconds from creating a batch until it is done
    batch_expire: int = 0  # this many of the next batches expire, half of their items answered
    batch_max_requests: int | None = None  # a larger batch fails validation (provider limit)


def _unit(*parts: Any) -> float:
    """Deterministic number in [0, 1) from the parts.

    >>> _unit("a", 1) == _unit("a", 1), 0 <= _unit("b") < 1
    (True, True)
    """
    digest = hashlib.sha256("|".join(map(str, parts)).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def fake_score(answer: str, seed: Any = None, noise: int = 0) -> int:
    """The score the fake judge gives an answer: 1-10 from a hash, so tests can predict it;
    with ``noise``, moved by up to ± ``noise`` by a hash of the request's ``seed`` (clipped).

    >>> fake_score("x") == fake_score("x"), 1 <= fake_score("y") <= 10
    (True, True)
    >>> sorted({fake_score("x", seed, noise=2) for seed in range(50)}) != [fake_score("x")]
    True
    """
    score = 1 + int(_unit("score", answer) * 10)
    if noise:
        score += int(_unit("noise", answer, seed) * (2 * noise + 1)) - noise
    return max(1, min(10, score))


def fake_answer(prompt: str, size: int = 0) -> str:
    """Deterministic answer text for a question, padded to about ``size`` UTF-8 bytes.

    >>> fake_answer("1+1=?") == fake_answer("1+1=?")
    True
    >>> len(fake_answer("q", 3000).encode()) >= 3000
    True
    """
    text = f"这是对问题的回答（{hashlib.sha256(prompt.encode()).hexdigest()[:8]}）。"
    if size > 0:
        filler = "内容充实的段落。"
        repeat = max(0, size - len(text.encode())) // len(filler.encode()) + 1
        text += filler * repeat
    return text


def fake_verdict(first: str, second: str) -> int:
    """The fake pairwise judge's preference between two responses, whatever their order:
    1 (``first``), 2 (``second``) or 0 (a tie: the same text), from a hash of each.

    >>> fake_verdict("x", "y") == 3 - fake_verdict("y", "x"), fake_verdict("z", "z")
    (True, 0)
    """
    if first == second:
        return 0
    return 1 if _unit("prefer", first) > _unit("prefer", second) else 2


def _pairwise_reply(text: str, *, malformed: bool, first_shown: bool) -> str | None:
    """The reply to a pairwise judge prompt in its protocol's format; None: not one."""
    for pattern, replies in _PAIRWISE:
        match = pattern.search(text)
        if match:
            if malformed:
                return _NO_VERDICT
            return replies[1 if first_shown else fake_verdict(*match.groups())]
    return None


def _judge_reply(prompt: str, schema: dict | None, malformed: bool, *, seed: Any = None,
                 noise: int = 0) -> str:
    match = _ANSWER_RE.search(prompt)
    answer = match.group(1) if match else prompt
    score = fake_score(answer, seed, noise)
    if schema is not None:
        names = [k for k in schema.get("properties", {}) if k not in ("评价", "综合得分")]
    else:
        names = _DIMENSION_RE.findall(prompt.split("我们会给您提供")[0])
    dims = {name: max(1, min(10, score + (i % 3) - 1)) for i, name in enumerate(names)}
    critique = "评价：回答与参考答案相比基本一致，但细节不足。"
    if malformed:
        return critique + "总体来说还可以，我就不打分了。"
    if schema is not None:
        return json.dumps({"评价": critique, **dims, "综合得分": score}, ensure_ascii=False)
    rating = ", ".join(f"'{k}': {v}" for k, v in {**dims, "综合得分": score}.items())
    return f"{critique}\n{{{rating}}}"


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in two writes; without NODELAY, Nagle + delayed ACK add 40 ms.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.server.track(self.connection, add=True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.track(self.connection, add=False)

    def _send(self, status: int, body: dict, headers: dict[str, str] | None = None) -> None:
        self._send_bytes(status, json.dumps(body, ensure_ascii=False).encode(),
                         "application/json", headers)

    def _send_bytes(self, status: int, data: bytes, content_type: str,
                    headers: dict[str, str] | None = None) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(data)
        except OSError:  # the client gave up (timeout) or the server is stopping
            self.close_connection = True
        self.server.count(status)

    def do_GET(self) -> None:
        if self.path.rstrip("/") == "/stats":  # for a server run in another process
            self._send(200, self.server.snapshot())
        elif self.path.rstrip("/") == "/v1/models":
            self._send(200, {"object": "list", "data": [{"id": "fault-model", "object": "model"}]})
        elif self.server.batch_api.handles(self.path):
            self.server.batch_api.handle(self, "GET", b"")
        else:
            self._send(404, {"error": {"message": "not found"}})

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.server.batch_api.handles(self.path):
            self.server.batch_api.handle(self, "POST", body)
            return
        if self.path.rstrip("/") != "/v1/chat/completions":
            self._send(404, {"error": {"message": "not found"}})
            return
        try:
            request = json.loads(body)
            messages = request["messages"]
        except (ValueError, KeyError, TypeError):
            self._send(400, {"error": {"message": "bad request body"}})
            return
        self.server.handle_chat(self, request, messages, body)


class _Server(ThreadingHTTPServer):
    daemon_threads = False
    block_on_close = True
    request_queue_size = 512
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], config: FaultConfig) -> None:
        super().__init__(address, _Handler)
        self.config = config
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.connections: set[socket.socket] = set()
        self.seen: Counter[str] = Counter()
        self.by_status: Counter[int] = Counter()
        self.kinds: Counter[str] = Counter()
        self.total = 0
        self.in_flight = 0
        self.max_in_flight = 0
        self.batch_api = BatchAPI(self)

    def track(self, conn: socket.socket, *, add: bool) -> None:
        with self.lock:
            (self.connections.add if add else self.connections.discard)(conn)

    def snapshot(self) -> dict[str, Any]:
        batch = self.batch_api.snapshot()  # its own lock, never taken inside this one
        with self.lock:
            return {"total": self.total, "by_status": dict(self.by_status),
                    "answer": self.kinds["answer"], "judge": self.kinds["judge"],
                    "pairwise": self.kinds["pairwise"],
                    "max_in_flight": self.max_in_flight, "config": asdict(self.config),
                    "batch": batch}

    def count(self, status: int) -> None:
        with self.lock:
            self.by_status[status] += 1

    def handle_chat(self, handler: _Handler, request: dict, messages: list, body: bytes) -> None:
        cfg = self.config
        key = hashlib.sha256(body).hexdigest()
        with self.lock:
            self.total += 1
            nth = self.seen[key]
            self.seen[key] += 1
            limited = cfg.max_concurrent is not None and self.in_flight >= cfg.max_concurrent
            if not limited:
                self.in_flight += 1
                self.max_in_flight = max(self.max_in_flight, self.in_flight)
        if limited:
            value = (formatdate(time.time() + cfg.retry_after, usegmt=True)
                     if cfg.retry_after_http_date else f"{cfg.retry_after:g}")
            handler._send(429, {"error": {"message": "rate limited", "type": "rate_limit"}},
                          {"Retry-After": value})
            return
        try:
            self._answer(handler, request, messages, key, nth)
        finally:
            with self.lock:
                self.in_flight -= 1

    def _answer(self, handler: _Handler, request: dict, messages: list, key: str,
                nth: int) -> None:
        cfg = self.config
        draw = _unit(cfg.seed, key, nth)
        if draw < cfg.hang_rate:
            self.stopping.wait(cfg.hang_s)
        elif cfg.latency > 0:
            self.stopping.wait(cfg.latency)
        status, body = self.completion(request, messages, key, nth)
        if status == 200 and _unit(cfg.seed, "truncated", key, nth) < cfg.truncated_rate:
            data = json.dumps(body, ensure_ascii=False).encode()
            handler._send_bytes(200, data[:len(data) // 2], "application/json")
            return
        handler._send(status, body)

    def draw_attempt(self, body: bytes) -> tuple[str, int]:
        """The key of a request body and how often it was seen before (counted)."""
        key = hashlib.sha256(body).hexdigest()
        with self.lock:
            nth = self.seen[key]
            self.seen[key] += 1
        return key, nth

    def completion(self, request: dict, messages: list, key: str, nth: int
                   ) -> tuple[int, dict]:
        """``(HTTP status, body)`` of one chat request: an injected error or a completion
        (for a chat request and for one line of a batch alike)."""
        cfg = self.config
        if _unit(cfg.seed, key, nth) < cfg.hang_rate + cfg.error_rate:
            return 500, {"error": {"message": "injected server error"}}
        text_in = "\n".join(str(m.get("content", "")) for m in messages if isinstance(m, dict))
        fault = _unit(cfg.seed, "content", key, nth)
        pairwise = _pairwise_reply(
            text_in, malformed=fault < cfg.malformed_rate,
            first_shown=_unit(cfg.seed, "position", key, nth) < cfg.position_bias)
        single = _SINGLE_RE.search(text_in) if pairwise is None else None
        is_judge = pairwise is None and (single is not None or JUDGE_MARKER in text_in)
        fmt = request.get("response_format") or {}
        schema = fmt.get("json_schema", {}).get("schema") if fmt.get("type") == "json_schema" \
            else None
        # A grammar (llama.cpp) asks for the official form: critique, then the score dict.
        if pairwise is not None:
            text = pairwise
        elif single is not None:
            text = "The answer addresses the question." + (
                "" if fault < cfg.malformed_rate else f" Rating: [[{fake_score(single[1])}]]")
        elif is_judge:
            first_user = next(str(m.get("content", "")) for m in messages
                              if m.get("role") == "user")
            text = _judge_reply(first_user, schema, fault < cfg.malformed_rate,
                                seed=request.get("seed"), noise=cfg.judge_noise)
        else:
            text = "" if fault < cfg.empty_rate else fake_answer(text_in, cfg.answer_bytes)
        with self.lock:
            self.kinds["pairwise" if pairwise is not None else "judge" if is_judge
                       else "answer"] += 1
        message = {"role": "assistant", "content": text}
        if cfg.reasoning == "think_tags":
            message["content"] = f"<think>{THINKING}</think>\n{text}"
        elif cfg.reasoning == "reasoning_content":
            message["reasoning_content"] = THINKING
        prompt_tokens = approx_tokens(text_in)
        completion_tokens = approx_tokens(message["content"])
        return 200, {
            "id": f"chatcmpl-{key[:12]}-{nth}", "object": "chat.completion",
            "created": int(time.time()), "model": request.get("model", "fault-model"),
            "choices": [{"index": 0, "finish_reason": "stop", "message": message}],
            "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                      "total_tokens": prompt_tokens + completion_tokens},
        }


class FaultServer:
    """Context manager running the fault server in a background thread.

    ``FaultServer(latency=0.1, max_concurrent=4)``; ``.base_url`` ends in ``/v1``;
    ``.stats`` counts requests; ``.configure(**changes)`` changes faults while running.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0, **config: Any) -> None:
        self.config = FaultConfig(**config)
        self._address = (host, port)
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> FaultServer:
        self._server = _Server(self._address, self.config)
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.05}, daemon=True,
                                        name="fault-server")
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, wake sleeping handlers, close open connections, join every thread."""
        server, self._server = self._server, None
        if server is None:
            return
        server.stopping.set()
        server.shutdown()
        with server.lock:
            conns = list(server.connections)
        for conn in conns:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("server is not running")
        return self._server.server_address[1]

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def configure(self, **changes: Any) -> None:
        """Change fault settings of the running server (e.g. turn faults off for a rerun)."""
        names = {f.name for f in fields(FaultConfig)}
        unknown = set(changes) - names
        if unknown:
            raise TypeError(f"unknown settings {sorted(unknown)}")
        for key, value in changes.items():
            setattr(self.config, key, value)

    @property
    def stats(self) -> dict[str, Any]:
        """Requests seen: ``total`` chat requests, ``by_status``, ``answer``/``judge``/
        ``pairwise`` replies, the highest number served concurrently, and ``batch``: the Batch
        API's counters (also at ``GET /stats``)."""
        if self._server is None:
            raise RuntimeError("server is not running")
        return self._server.snapshot()

    def reset(self) -> None:
        """Zero the counters (and the per-body attempt counts that drive fault draws)."""
        server = self._server
        if server is None:
            raise RuntimeError("server is not running")
        with server.lock:
            server.total = server.max_in_flight = 0
            server.by_status.clear()
            server.kinds.clear()
            server.seen.clear()
        server.batch_api.reset_counters()


def main(argv: list[str] | None = None) -> int:
    """Serve until interrupted; settings as command-line flags."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8000)
    hints = get_type_hints(FaultConfig)
    for f in fields(FaultConfig):
        flag = f"--{f.name.replace('_', '-')}"
        kind = next(t for t in (*get_args(hints[f.name]), hints[f.name]) if t is not NoneType)
        if kind is bool:
            parser.add_argument(flag, action="store_true")
        else:
            parser.add_argument(flag, type=kind, default=f.default)
    args = vars(parser.parse_args(argv))
    port = args.pop("port")
    with FaultServer(port=port, **args) as server:
        print(f"fault server at {server.base_url}", flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
