"""The append-only store: one line per record, last record wins, torn tails survived."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from alignbench_utils.data.store import RecordWriter, done_hashes, read_records, request_hash
from alignbench_utils.errors import InputError


def _lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_request_hash_changes_with_any_part() -> None:
    base = {"model": "m", "messages": [{"role": "user", "content": "q"}], "temperature": 0.7}
    assert request_hash(base) != request_hash({**base, "temperature": 0.1})
    assert request_hash(base) != request_hash({**base, "model": "n"})


def test_sixty_four_threads_never_glue_lines(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    big = "长" * 7000  # about 20 KB of UTF-8 per record
    with RecordWriter(path) as writer:
        def work(t: int) -> None:
            for i in range(10):
                writer.append({"request_hash": f"{t}-{i}", "status": "ok", "answer": big})

        threads = [threading.Thread(target=work, args=(t,)) for t in range(64)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    rows = _lines(path)
    assert len(rows) == 640 and len({r["request_hash"] for r in rows}) == 640
    assert all(r["answer"] == big for r in rows)


def test_last_record_wins_and_errors_are_not_done(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    with RecordWriter(path) as writer:
        writer.append({"request_hash": "a", "status": "error"})
        writer.append({"request_hash": "b", "status": "parse_failed"})
        writer.append({"request_hash": "c", "status": "error"})
        writer.append({"request_hash": "a", "status": "ok"})
    assert [(r["request_hash"], r["status"]) for r in read_records(path)] == [
        ("b", "parse_failed"), ("c", "error"), ("a", "ok")]
    assert done_hashes(path) == {"a", "b"}
    assert done_hashes(tmp_path / "missing.jsonl") == set()


def test_torn_tail_is_skipped_then_cut_before_the_next_append(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    path.write_bytes(b'{"request_hash": "a", "status": "ok"}\n{"request_hash": "b", "sta')
    with pytest.warns(RuntimeWarning, match="torn last line"):
        assert [r["request_hash"] for r in read_records(path)] == ["a"]
    with pytest.warns(RuntimeWarning), RecordWriter(path) as writer:
        writer.append({"request_hash": "b", "status": "ok"})
    assert [r["request_hash"] for r in _lines(path)] == ["a", "b"]


def test_complete_record_without_newline_is_kept(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    path.write_bytes(b'{"request_hash": "a", "status": "ok"}')
    with RecordWriter(path) as writer:
        writer.append({"request_hash": "b", "status": "ok"})
    assert [r["request_hash"] for r in _lines(path)] == ["a", "b"]


def test_malformed_middle_line_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    path.write_text('{"request_hash": "a"}\nnot json\n{"request_hash": "b"}\n', encoding="utf-8")
    with pytest.raises(InputError, match=r"a\.jsonl, line 2"):
        read_records(path)
