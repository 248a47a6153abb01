"""The fault server's Batch API: ``/v1/files`` and ``/v1/batches``, as OpenAI serves them.

Enough of the API for the batch backend and its failure modes, over real HTTP: upload an
input file (multipart), create a batch from it, retrieve, list (newest first, cursor
``after``) and cancel batches, download output and error files. A batch is ``in_progress``
until ``batch_latency`` seconds after its creation; then each line is answered as the chat
endpoint would answer it (same faults: a drawn 500 goes to the error file), or, for the
next ``batch_expire`` batches, only the first half is answered and the batch ``expired``.
A batch larger than ``batch_max_requests`` fails validation. The state lives in the server
object, so a client that is killed and restarted finds its batches; counters say what was
uploaded and submitted (``submissions`` per ``custom_id``: a request sent twice shows).
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from email.parser import BytesParser
from email.policy import HTTP
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

if TYPE_CHECKING:
    from alignbench_utils.testing.fault_server import _Handler, _Server

__all__ = ["BatchAPI", "parse_multipart"]

TERMINAL = frozenset({"completed", "failed", "expired", "cancelled"})


def parse_multipart(content_type: str, body: bytes) -> dict[str, tuple[str | None, bytes]]:
    """Form fields of a ``multipart/form-data`` body: name → ``(filename, bytes)``.

    >>> body = (b'--b\\r\\nContent-Disposition: form-data; name="purpose"\\r\\n\\r\\nbatch\\r\\n'
    ...         b'--b\\r\\nContent-Disposition: form-data; name="file"; filename="in.jsonl"\\r\\n'
    ...         b'Content-Type: application/jsonl\\r\\n\\r\\n{}\\n\\r\\n--b--\\r\\n')
    >>> parse_multipart("multipart/form-data; boundary=b", body)
    {'purpose': (None, b'batch'), 'file': ('in.jsonl', b'{}\\n')}
    """
    message = BytesParser(policy=HTTP).parsebytes(
        f"Content-Type: {content_type}\r\n\r\n".encode() + body)
    fields = {}
    if message.is_multipart():
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            fields[str(name)] = (part.get_filename(), part.get_payload(decode=True) or b"")
    return fields


class BatchAPI:
    """Files and batches of one fault server; every method is called from handler threads."""

    def __init__(self, server: _Server) -> None:
        self.server = server
        self.lock = threading.Lock()
        self.files: dict[str, dict[str, Any]] = {}  # id → {"meta": ..., "data": bytes}
        self.batches: dict[str, dict[str, Any]] = {}
        self._ids = Counter[str]()
        self.reset_counters()

    def reset_counters(self) -> None:
        """Zero the counters (files and batches stay: they are the provider's state)."""
        with self.lock:
            self.counts: Counter[str] = Counter()
            self.submissions: Counter[str] = Counter()  # custom_id → batches it was sent in

    def snapshot(self) -> dict[str, Any]:
        """``uploads``, ``batches_created``, ``batch_requests`` (lines submitted),
        ``retrieves``, ``lists``, ``cancels``, and ``max_submissions`` of one custom_id."""
        with self.lock:
            return {**self.counts, "max_submissions": max(self.submissions.values(), default=0)}

    def _new_id(self, prefix: str) -> str:
        self._ids[prefix] += 1
        return f"{prefix}-{self._ids[prefix]:06d}"

    # ------------------------------------------------------------------ HTTP

    @staticmethod
    def handles(path: str) -> bool:
        return urlsplit(path).path.startswith(("/v1/files", "/v1/batches"))

    def handle(self, handler: _Handler, method: str, body: bytes) -> None:
        url = urlsplit(handler.path)
        parts = url.path.strip("/").split("/")[1:]  # after "v1"
        route = (method, parts[0], len(parts), parts[-1] if len(parts) == 3 else None)
        with self.lock:
            if route == ("POST", "files", 1, None):
                reply = self._upload(handler.headers.get("Content-Type", ""), body)
            elif route[:3] == ("GET", "files", 3) and route[3] == "content":
                file = self.files.get(parts[1])
                if file is not None:
                    data = file["data"]
                    handler._send_bytes(200, data, "application/octet-stream")
                    return
                reply = 404, {"error": {"message": f"no file {parts[1]}"}}
            elif route == ("POST", "batches", 1, None):
                reply = self._create(body)
            elif route == ("GET", "batches", 1, None):
                reply = self._list(parse_qs(url.query))
            elif route == ("GET", "batches", 2, None):
                reply = self._retrieve(parts[1])
            elif route == ("POST", "batches", 3, "cancel"):
                reply = self._cancel(parts[1])
            else:
                reply = 404, {"error": {"message": f"not found: {method} {url.path}"}}
        handler._send(*reply)

    # ------------------------------------------------------------------ files

    def _store_file(self, data: bytes, filename: str, purpose: str) -> dict[str, Any]:
        meta = {"id": self._new_id("file"), "object": "file", "bytes": len(data),
                "created_at": int(time.time()), "filename": filename, "purpose": purpose,
                "status": "processed"}
        self.files[meta["id"]] = {"meta": meta, "data": data}
        return meta

    def _upload(self, content_type: str, body: bytes) -> tuple[int, dict]:
        fields = parse_multipart(content_type, body)
        if "file" not in fields:
            return 400, {"error": {"message": "multipart field 'file' missing"}}
        self.counts["uploads"] += 1
        purpose = fields.get("purpose", (None, b""))[1].decode()
        return 200, self._store_file(fields["file"][1], fields["file"][0] or "upload", purpose)

    # ------------------------------------------------------------------ batches

    def _create(self, body: bytes) -> tuple[int, dict]:
        try:
            params = json.loads(body)
            file = self.files[params["input_file_id"]]
        except (ValueError, KeyError, TypeError):
            return 400, {"error": {"message": "bad request or unknown input_file_id"}}
        now = time.time()
        batch = {"id": self._new_id("batch"), "object": "batch",
                 "endpoint": params.get("endpoint"), "errors": None,
                 "input_file_id": params["input_file_id"],
                 "completion_window": params.get("completion_window"), "status": "in_progress",
                 "output_file_id": None, "error_file_id": None, "created_at": int(now),
                 "in_progress_at": int(now), "expires_at": int(now) + 86400,
                 "metadata": params.get("metadata"),
                 "request_counts": {"total": 0, "completed": 0, "failed": 0}}
        lines, problem = self._parse_input(file["data"])
        limit = self.server.config.batch_max_requests
        if problem is None and limit is not None and len(lines) > limit:
            problem = {"code": "batch_too_large", "line": None,
                       "message": f"{len(lines)} requests, more than the limit {limit}"}
        self.counts["batches_created"] += 1
        if problem is not None:
            batch.update(status="failed", failed_at=int(now),
                         errors={"object": "list", "data": [problem]})
        else:
            self.counts["batch_requests"] += len(lines)
            self.submissions.update(line["custom_id"] for line in lines)
            batch["request_counts"]["total"] = len(lines)
            expire = self.server.config.batch_expire > 0
            if expire:
                self.server.config.batch_expire -= 1
            batch["_private"] = {"lines": lines, "due": now + self.server.config.batch_latency,
                                 "expire": expire}
        self.batches[batch["id"]] = batch
        return 200, _public(batch)

    @staticmethod
    def _parse_input(data: bytes) -> tuple[list[dict], dict | None]:
        lines, seen = [], set()
        for number, raw in enumerate(data.decode("utf-8").splitlines(), start=1):
            if not raw.strip():
                continue
            try:
                line = json.loads(raw)
                custom_id, body = line["custom_id"], line["body"]
            except (ValueError, KeyError, TypeError):
                return [], {"code": "invalid_json_line", "line": number,
                            "message": "not a request line"}
            if custom_id in seen:
                return [], {"code": "duplicate_custom_id", "line": number,
                            "message": f"custom_id {custom_id!r} twice"}
            seen.add(custom_id)
            lines.append({"custom_id": custom_id, "url": line.get("url"), "body": body})
        return lines, None

    def _retrieve(self, batch_id: str) -> tuple[int, dict]:
        batch = self.batches.get(batch_id)
        if batch is None:
            return 404, {"error": {"message": f"no batch {batch_id}"}}
        self.counts["retrieves"] += 1
        private = batch.get("_private")
        if batch["status"] == "cancelling":
            self._finish(batch, answered=0, status="cancelled")
        elif batch["status"] == "in_progress" and private and time.time() >= private["due"]:
            lines = private["lines"]
            self._finish(batch, answered=len(lines) // 2 if private["expire"] else len(lines),
                         status="expired" if private["expire"] else "completed")
        return 200, _public(batch)

    def _finish(self, batch: dict[str, Any], *, answered: int, status: str) -> None:
        """Answer the first ``answered`` lines into output and error files; end the batch."""
        output, errors = [], []
        for line in batch["_private"]["lines"][:answered]:
            code, body = self._answer(line)
            row = {"id": self._new_id("batch_req"), "custom_id": line["custom_id"],
                   "response": {"status_code": code, "request_id": line["custom_id"],
                                "body": body}, "error": None}
            (output if code == 200 else errors).append(row)
        now = int(time.time())
        for rows, key in ((output, "output_file_id"), (errors, "error_file_id")):
            if rows:
                data = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows).encode()
                batch[key] = self._store_file(data, f"{batch['id']}_{key}.jsonl",
                                              "batch_output")["id"]
        batch.update(status=status, **{f"{status}_at": now}, finalizing_at=now)
        batch["request_counts"].update(completed=len(output), failed=len(errors))

    def _answer(self, line: dict[str, Any]) -> tuple[int, dict]:
        """One line answered as the chat endpoint answers it (same fault draws)."""
        body = line["body"]
        if line.get("url") != "/v1/chat/completions" or not isinstance(body, dict) or \
                not isinstance(body.get("messages"), list):
            return 400, {"error": {"message": "only /v1/chat/completions with messages"}}
        key, nth = self.server.draw_attempt(json.dumps(body, sort_keys=True).encode())
        return self.server.completion(body, body["messages"], key, nth)

    def _cancel(self, batch_id: str) -> tuple[int, dict]:
        batch = self.batches.get(batch_id)
        if batch is None:
            return 404, {"error": {"message": f"no batch {batch_id}"}}
        self.counts["cancels"] += 1
        if batch["status"] not in TERMINAL:
            batch.update(status="cancelling", cancelling_at=int(time.time()))
        return 200, _public(batch)

    def _list(self, query: dict[str, list[str]]) -> tuple[int, dict]:
        self.counts["lists"] += 1
        limit = int(query.get("limit", ["20"])[0])
        newest_first = sorted(self.batches.values(), key=lambda b: b["id"], reverse=True)
        after = query.get("after", [None])[0]
        if after is not None:
            newest_first = [b for b in newest_first if b["id"] < after]
        page = newest_first[:limit]
        return 200, {"object": "list", "data": [_public(b) for b in page],
                     "first_id": page[0]["id"] if page else None,
                     "last_id": page[-1]["id"] if page else None,
                     "has_more": len(newest_first) > limit}


def _public(batch: dict[str, Any]) -> dict[str, Any]:
    """The batch object as the API shows it (without the server's private fields)."""
    return {k: v for k, v in batch.items() if k != "_private"}
