"""The judgment viewer's data (alignbench_utils.report.viewer): nothing lost in the columnar encoding,
shared texts stored once, markup in records cannot break out of the page, and the leak scan
covers the page. The page itself runs in tests/test_viewer_browser.py."""

from __future__ import annotations

import json
import math
import re
import tomllib
from pathlib import Path
from typing import Any

import nbformat
import pytest
from run_fixtures import judgment_records, shared_answer_records
from test_pipeline import KEY, KEY_ENV

from alignbench_utils.analysis.aggregate import judgments_frame
from alignbench_utils.config import parse_config
from alignbench_utils.data.questions import write_jsonl
from alignbench_utils.data.records import pairwise_record
from alignbench_utils.pipeline import SecretLeakError, find_secret_leaks, render_only
from alignbench_utils.report.viewer import (
    DERIVED_COLUMNS,
    FORMAT,
    STATUSES,
    TEMPLATES,
    encode_records,
    page_data,
    pairwise_rows,
    write_viewer,
)
from alignbench_utils.stages.compare import answer_pairs


def decode(data: dict[str, Any]) -> list[dict[str, Any]]:
    """The rows back from the columns (what viewer.js does), dimensions as a dict again."""
    rows: list[dict[str, Any]] = [{} for _ in range(data["n"])]
    for name, column in data["columns"].items():
        if "numbers" in column:
            cells = column["numbers"]
        else:
            codes = column.get("codes", range(data["n"]))
            cells = [column["values"][c] for c in codes]
            if column.get("json"):
                cells = [None if c is None else json.loads(c) for c in cells]
        for row, cell in zip(rows, cells):
            row[name] = cell
    dims = data["dimensions"]
    for index, row in enumerate(rows):
        row["dimensions"] = {name: values[index] for name, values in
                             zip(dims["names"], dims["numbers"]) if values[index] is not None}
    return rows


def item_keys(data: dict[str, Any]) -> set[str]:
    """Every row's item key (the viewer's ``?item=``), as viewer.js builds it."""
    key = {"pointwise": ("judge", "model", "question_id"),
           "pairwise": ("judge", "protocol", "pair_id", "order")}

    def text(v: Any) -> str:
        return "" if v is None else f"{v:g}" if isinstance(v, float) else str(v)

    return {"|".join(text(row[name]) for name in key[row["kind"]]) for row in decode(data)}


def test_encoding_loses_nothing_and_stores_shared_text_once():
    records = shared_answer_records()
    data = json.loads(json.dumps(encode_records(records, run="r")))  # as the page reads it
    assert data["format"] == FORMAT and data["run"] == "r" and data["n"] == len(records)
    assert data["statuses"][:4] == list(STATUSES)
    frame = judgments_frame(records)
    for expected, row in zip(frame.to_dict("records"), decode(data), strict=True):
        assert row.pop("kind") == "pointwise"
        for name, value in expected.items():
            if name in DERIVED_COLUMNS:
                assert name not in row
            elif value is None or (isinstance(value, float) and math.isnan(value)):  # absent
                assert row[name] is None, name
            else:
                assert row[name] == value, name
    columns = data["columns"]
    assert len(columns["answer"]["values"]) == len({r["answer"] for r in records}) < len(records)
    assert len(columns["question"]["values"]) == 16
    assert columns["request"]["json"] and columns["judgment_history"]["json"]
    assert "codes" not in columns["request_hash"]  # one value per row: codes left out


def test_page_embeds_the_data_safely(tmp_path):
    records = shared_answer_records()
    hostile = "</script><script>window.__pwned = 1</script><!-- & </style>"
    records[0]["answer"] = records[0]["judgment"] = hostile
    write_jsonl(records, tmp_path / "run" / "judgments" / "all.jsonl")
    page = write_viewer(tmp_path / "run", tmp_path / "report" / "viewer.html")
    html = page.read_text(encoding="utf-8")
    assert html.count("</script>") == 3  # two data elements and the app: nothing else closes one
    assert "__pwned" not in html  # the data is packed, never page text
    data = page_data(html)
    assert decode(data)[0]["judgment"] == hostile
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", html)  # nothing from a network
    assert "<script src" not in html and "@import" not in html


def test_page_without_judgments_says_so(tmp_path):
    (tmp_path / "run" / "answers").mkdir(parents=True)
    page = write_viewer(tmp_path / "run", tmp_path / "viewer.html")
    data = page_data(page.read_text(encoding="utf-8"))
    assert data["n"] == 0 and data["columns"]["score"] == {"numbers": []}


def test_assets_are_package_data_and_load_nothing():
    pyproject = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text("utf-8"))
    patterns = pyproject["tool"]["setuptools"]["package-data"]["alignbench_utils"]
    package = TEMPLATES.parents[1]
    packaged = {path for pattern in patterns for path in package.glob(pattern)}
    for name in ("viewer.html.j2", "viewer.js", "viewer.css"):
        text = (TEMPLATES / name).read_text(encoding="utf-8")
        assert not re.search(r"https?://|fetch\(|XMLHttpRequest|import\(", text), name
        assert TEMPLATES / name in packaged, name


def test_leak_scan_catches_a_key_planted_in_a_record(tmp_path, monkeypatch):
    monkeypatch.setenv(KEY_ENV, KEY)
    config = parse_config({
        "name": "leak", "models": [{"name": "strong", "base_url": "reference"}],
        "judges": [{"name": "judge-a", "base_url": "http://127.0.0.1:9/v1", "model_id": "j",
                    "api_key_env": KEY_ENV}],
        "output": {"run_dir": str(tmp_path / "run"), "report_dir": str(tmp_path / "report")}})
    records = judgment_records("judge-a")
    records[-1].update(status="error", error=f"HTTP 401: bad header Bearer {KEY}")
    store = write_jsonl(records, config.run_dir / "judgments" / "judge-a" / "all.jsonl")
    (config.run_dir / "notebooks").mkdir()
    nbformat.write(nbformat.v4.new_notebook(), str(config.run_dir / "notebooks" / "03.ipynb"))
    with pytest.raises(SecretLeakError) as info:
        render_only(config)
    assert KEY not in str(info.value) and "viewer.html" in str(info.value)
    assert find_secret_leaks(config, [config.report_dir]) == [config.report_dir / "viewer.html"]
    assert find_secret_leaks(config, [config.run_dir]) == [store]


def pairwise_fixture() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Two models' answers to two questions and their pairs judged in both orders, one reply
    without a verdict (parse_failed, raw text kept)."""
    answers = [{"model": m, "question_id": q, "category": "数学计算", "subcategory": "初等数学",
                "question": f"问题{q}", "answer": f"{m} 的回答 {q}", "status": "ok"}
               for m in ("strong", "weak") for q in (1, 2)]
    records = []
    for pair in answer_pairs(answers):
        for order, shown in (("ab", 1), ("ba", 2)):
            fails = pair["question_id"] == 2 and order == "ba"
            records.append(pairwise_record(
                pair, order=order, judge="judge-a", protocol="alignbench-pairwise",
                judgment="没有结论 <b>" if fails else f"[[{'AB'[shown - 1]}]] 更好",
                status="parse_failed" if fails else "ok",
                verdict_shown=None if fails else shown, verdict=None if fails else 1,
                request={"temperature": 0}, request_hash=f"h{pair['question_id']}{order}",
                prompt_sha256="p" * 64, template_sha256="t" * 64))
    return answers, records


def test_pairwise_rows_round_trip_beside_pointwise_ones():
    answers, records = pairwise_fixture()
    pointwise = shared_answer_records()[:3]
    data = encode_records(pointwise, pairwise=pairwise_rows(records, answers))
    rows = decode(data)
    assert data["n"] == 3 + 4
    assert [r["kind"] for r in rows] == ["pointwise"] * 3 + ["pairwise"] * 4
    for row, record in zip(rows[3:], records):
        for field, value in record.items():
            assert row[field] == value, field
        assert row["model"] == "strong vs weak" and row["score"] is None and row["dimensions"] == {}
        assert row["question"] == f"问题{record['question_id']}"
        assert row["output_1"] == f"strong 的回答 {record['question_id']}"
        assert row["output_2"] == f"weak 的回答 {record['question_id']}"
    assert [r["status"] for r in rows[3:]] == ["ok", "ok", "ok", "parse_failed"]
    assert all(r["verdict"] is None for r in rows[:3])  # pointwise rows are null in pairwise columns
