"""The judgment viewer: one self-contained HTML page to explore every judgment of a run.

Why: the report's fixed tables answer fixed questions; error analysis needs "every 逻辑推理
answer judge A scored ≥ 8 and judge B ≤ 4", the critique behind a score, and the raw outputs
of a failure. ``viewer.html`` carries all judgments of the run and a small vanilla-JS app
(``templates/viewer.js`` and ``viewer.css``, inlined here), so it opens from ``file://``,
needs no server and no network, and keeps working when the report folder is copied or mailed.

Embedded data (``FORMAT``): one JSON object, columnar. Every record field becomes one column of
``n`` rows, either ``{"numbers": [...]}`` (all present values numeric, ``null`` when absent) or
dictionary-encoded ``{"values": [...], "codes": [...]}``, so a question, reference or answer
shared by many rows (two judges judge the same answer) is stored once; ``codes`` is left out
when every row has its own value. Dicts and lists (``request``, ``judgment_history``) are kept
as canonical JSON text (``"json": true``). ``dimensions`` becomes one numeric column per
dimension name. Each row has a ``kind``: ``pointwise`` (a judgment) or ``pairwise`` (one
order of a pair judged by a pairwise protocol, from ``comparisons/`` and ``judge_eval/``).
Pairwise rows add their own columns (``pair_id``, ``order``, ``protocol``, ``verdict``,
``verdict_shown``, ...) and are null in the pointwise ones (``score``, ``dimensions``). Their
records hold no text of the pair (only its hashes), so the viewer joins it back: ``question``
is the question or instruction, ``output_1``/``output_2`` the two responses (from the run's
answer records for model pairs, from the benchmark's items for judge-eval pairs), and
``model`` reads ``model_a vs model_b`` so the model filter finds a comparison.

The JSON is packed into the page (:mod:`alignbench_utils.report.text_packing`: long-range copies,
gzip, base64; the page unpacks it with ``DecompressionStream``), so the page of 27,320
judgments stays small enough to mail; :func:`page_data` reads it back. It is two elements:
``viewer-data`` (every column but the long texts: the table is usable once it is read) and
``viewer-texts`` (``TEXT_COLUMNS``: answers, critiques, references, raw outputs; unpacked
right after, and awaited by search, an opened item and the export).
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
from jinja2 import Environment, FileSystemLoader, select_autoescape

from alignbench_utils._version import __version__
from alignbench_utils.analysis.aggregate import judgments_frame
from alignbench_utils.analysis.panels import panel_records
from alignbench_utils.data.layout import RunLayout
from alignbench_utils.data.records import upgrade_record
from alignbench_utils.data.store import canonical_json, now_iso, read_records_under
from alignbench_utils.errors import InputError
from alignbench_utils.judgebench.loaders import load_benchmark
from alignbench_utils.protocols.parsing import OVERALL_KEYS
from alignbench_utils.report.text_packing import PACKING, pack_text, unpack_text
from alignbench_utils.stages.compare import benchmark_pairs

__all__ = [
    "DERIVED_COLUMNS",
    "FORMAT",
    "PAIRWISE",
    "POINTWISE",
    "STATUSES",
    "TEXT_COLUMNS",
    "encode_column",
    "encode_records",
    "page_data",
    "pairwise_rows",
    "scannable_bytes",
    "write_viewer",
]

FORMAT = "alignbench-viewer/1"
POINTWISE = "pointwise"
PAIRWISE = "pairwise"
# Offered by the status filter even when a run has none of them.
STATUSES = ("ok", "parse_failed", "error")
# Columns judgments_frame computes that no record holds; not shown as record fields.
DERIVED_COLUMNS = ("legacy_score",)
# Long texts the table does not show, packed apart so the table is usable before they are read.
TEXT_COLUMNS = ("answer", "judgment", "judgment_history", "reference", "input", "output_1",
                "output_2")
TEMPLATES = Path(__file__).with_name("templates")
_CLOSING_TAG = re.compile(r"</(script|style)", re.IGNORECASE)
_PACKED_ELEMENT = re.compile(r'<script[^>]*\bid="viewer-(data|texts)"[^>]*>([^<]*)</script>')
_NUMBER_TYPES = (int, float)  # exact types: a bool is no score


def _present(value: Any) -> Any:
    """``value``, or None for a missing one (None, or the NaN pandas puts in a gap)."""
    return None if value is None or (type(value) is float and math.isnan(value)) else value


def _compact_number(value: float) -> float:
    return int(value) if float(value).is_integer() else float(value)


def encode_column(values: Sequence[Any]) -> dict[str, Any]:
    """One column, encoded compactly (see the module docstring).

    Numbers (NaN and None become null; integral floats are written as ints; a column with
    no value at all is numeric):

    >>> encode_column([7.0, None, 6.5, float("nan")])
    {'numbers': [7, None, 6.5, None]}

    Strings and everything else, dictionary-encoded in first-seen order:

    >>> encode_column(["逻辑推理", "数学计算", "逻辑推理", None])
    {'values': ['逻辑推理', '数学计算', None], 'codes': [0, 1, 0, 2]}

    Codes are left out when every row has its own value:

    >>> encode_column(["a", "b"])
    {'values': ['a', 'b']}

    Dicts and lists (and strings in the same column) become canonical JSON text:

    >>> encode_column([{"temperature": 0}, {"temperature": 0}, [], "x"])
    {'values': ['{"temperature":0}', '[]', '"x"'], 'codes': [0, 0, 1, 2], 'json': True}
    """
    cells = [_present(v) for v in values]
    present = [v for v in cells if v is not None]
    if all(type(v) in _NUMBER_TYPES for v in present):
        return {"numbers": [None if v is None else _compact_number(v) for v in cells]}
    as_json = any(type(v) is not str for v in present)
    if as_json:
        cells = [None if v is None else canonical_json(v) for v in cells]
    index: dict[str | None, int] = {}
    codes = [index.setdefault(text, len(index)) for text in cells]
    column: dict[str, Any] = {"values": list(index)}
    if len(index) < len(codes):
        column["codes"] = codes
    return column | ({"json": True} if as_json else {})


def _dimension_columns(dimensions: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """``dimensions`` dicts → one numeric column per name (names in first-seen order). The
    parser keeps only numeric dimension scores; anything else reads as absent here.

    >>> _dimension_columns([{"清晰度": 8.0}, {}, {"完备性": 6, "清晰度": "八"}])
    {'names': ['清晰度', '完备性'], 'numbers': [[8, None, None], [None, None, 6]]}
    """
    names = list(dict.fromkeys(name for dims in dimensions for name in dims))
    return {"names": names,
            "numbers": [[_compact_number(v) if type(v) in _NUMBER_TYPES and _present(v) is not None
                         else None for v in (dims.get(name) for dims in dimensions)]
                        for name in names]}


def _latest(records: Iterable[Mapping[str, Any]], key: Sequence[str]) -> list[dict[str, Any]]:
    """The last record per ``key`` (the append-only store's rule), in first-seen order."""
    out: dict[tuple, dict[str, Any]] = {}
    for record in records:
        out[tuple(record.get(k) for k in key)] = dict(record)
    return list(out.values())


def _benchmark_texts(benchmark: str, subset: str) -> dict[str, dict[str, Any]]:
    """pair_id → the judge-eval item's texts; empty when the benchmark is not available."""
    try:
        return {p["pair_id"]: p for p in benchmark_pairs(load_benchmark(f"{benchmark}:{subset}"))}
    except (InputError, OSError):
        return {}


def pairwise_rows(records: Iterable[Mapping[str, Any]],
                  answers: Iterable[Mapping[str, Any]] = ()) -> list[dict[str, Any]]:
    """Pairwise records as viewer rows: the last record per (judge, protocol, pair, order),
    with the pair's texts joined back (``question``, ``input``, ``reference``, ``output_1``,
    ``output_2``) and ``model`` as ``model_a vs model_b``. A text that cannot be found stays
    null (the page says so).

    >>> rows = pairwise_rows(
    ...     [{"kind": "pairwise", "pair_id": "1:x:y", "question_id": 1, "model_a": "x",
    ...       "model_b": "y", "judge": "j", "protocol": "p", "order": "ab", "verdict": 2}],
    ...     [{"model": "x", "question_id": 1, "question": "问", "answer": "甲"},
    ...      {"model": "y", "question_id": 1, "question": "问", "answer": "乙"}])
    >>> [rows[0][k] for k in ("model", "question", "output_1", "output_2", "verdict")]
    ['x vs y', '问', '甲', '乙', 2]
    """
    answer_of = {(a.get("model"), a.get("question_id")): a for a in answers}
    items: dict[tuple[str, str], dict[str, dict[str, Any]]] = {}
    rows = []
    for record in _latest(map(upgrade_record, records), ("judge", "protocol", "pair_id", "order")):
        row = {**record, "kind": PAIRWISE}
        if record.get("model_a") is not None:
            a = answer_of.get((record["model_a"], record.get("question_id")), {})
            b = answer_of.get((record.get("model_b"), record.get("question_id")), {})
            row |= {"model": f"{record['model_a']} vs {record.get('model_b')}",
                    "question": a.get("question", b.get("question")),
                    "reference": a.get("reference", b.get("reference")),
                    "output_1": a.get("answer"), "output_2": b.get("answer")}
        elif record.get("benchmark") is not None:
            source = (record["benchmark"], str(record.get("subset")))
            if source not in items:
                items[source] = _benchmark_texts(*source)
            item = items[source].get(record["pair_id"], {})
            row |= {"question": item.get("instruction"), "input": item.get("input") or None,
                    "reference": item.get("reference"),
                    "output_1": item.get("output_1"), "output_2": item.get("output_2")}
        rows.append(row)
    return rows


def encode_records(records: Iterable[Mapping[str, Any]] | pd.DataFrame, *, run: str = "",
                   pairwise: Iterable[Mapping[str, Any]] = ()) -> dict[str, Any]:
    """The viewer's data: judgments (the judgments frame of ``records``, or that frame itself)
    and ``pairwise`` rows (:func:`pairwise_rows`) as columns.

    Rows are the frame's (the last record per judge, model and question, failures included
    with their raw text); fields absent from a record are null in its row.

    >>> data = encode_records([
    ...     {"model": "m", "judge": "j", "question_id": 1, "category": "数学计算",
    ...      "status": "ok", "score": 7, "dimensions": {"完备性": 6}, "judgment": "好"},
    ...     {"model": "m", "judge": "j", "question_id": 2, "category": "数学计算",
    ...      "status": "parse_failed", "score": None, "judgment": "无分数"}])
    >>> data["n"], data["columns"]["kind"], data["columns"]["score"]
    (2, {'values': ['pointwise'], 'codes': [0, 0]}, {'numbers': [7, None]})
    >>> data["dimensions"]
    {'names': ['完备性'], 'numbers': [[6, None]]}
    """
    frame = (records if isinstance(records, pd.DataFrame) else judgments_frame(list(records)))
    frame = frame.drop(columns=[c for c in DERIVED_COLUMNS if c in frame.columns])
    if "kind" not in frame.columns:
        frame["kind"] = POINTWISE
    frame["kind"] = frame["kind"].fillna(POINTWISE)
    pairs = pd.DataFrame(list(pairwise))
    if not pairs.empty:
        frame = pd.concat([frame, pairs], ignore_index=True)
    dimensions = [d if isinstance(d, Mapping) else {} for d in frame.pop("dimensions")]
    statuses = list(dict.fromkeys([*STATUSES, *frame["status"]]))
    return {
        "format": FORMAT,
        "run": run,
        "package_version": __version__,
        "generated_at": now_iso(),
        "n": len(frame),
        "statuses": statuses,
        "overall_keys": list(OVERALL_KEYS),
        "columns": {name: encode_column(frame[name].tolist()) for name in frame.columns},
        "dimensions": _dimension_columns(dimensions),
    }


def _pack(data: Any) -> str:
    return pack_text(json.dumps(data, ensure_ascii=False, separators=(",", ":"), allow_nan=False))


def page_data(page: str) -> dict[str, Any]:
    """The data a viewer page embeds (what the page reads), from the page's HTML: the data
    element's, with the text columns of the texts element joined back into ``columns``.

    >>> page_data(f'<script id="viewer-data">{_pack({"n": 1, "columns": {"score": 1}})}'
    ...           f'</script><script id="viewer-texts">{_pack({"answer": 2})}</script>')
    {'n': 1, 'columns': {'score': 1, 'answer': 2}}
    """
    parts = {name: json.loads(unpack_text(packed))
             for name, packed in _PACKED_ELEMENT.findall(page)}
    if set(parts) != {"data", "texts"}:
        raise ValueError("not a viewer page: no viewer-data and viewer-texts elements")
    data = parts["data"]
    data["columns"] |= parts["texts"]
    return data


def scannable_bytes(path: str | os.PathLike) -> bytes:
    """A file's bytes, followed for a viewer page by its unpacked data (UTF-8): what a scan for
    secrets must read, since a key in a record is packed out of sight in the page's bytes."""
    raw = Path(path).read_bytes()
    if b'id="viewer-data"' not in raw:
        return raw
    return raw + json.dumps(page_data(raw.decode("utf-8")), ensure_ascii=False).encode("utf-8")


def _asset(name: str) -> str:
    """A viewer asset's text, checked to hold no closing tag that would end its element."""
    text = (TEMPLATES / name).read_text(encoding="utf-8")
    if _CLOSING_TAG.search(text):
        raise ValueError(f"{name} contains a closing </script> or </style> tag; it is inlined")
    return text


def _records_under(folder: Path) -> list[dict[str, Any]]:
    """Every record in the JSONL files under ``folder``; none when it has no such file."""
    if folder.is_dir() and any(folder.rglob("*.jsonl")):
        return read_records_under(folder)
    return []


def write_viewer(run_dir: str | os.PathLike, out_path: str | os.PathLike, *,
                 info: Mapping[str, Any] | None = None) -> Path:
    """Write the viewer of every judgment under ``<run_dir>/judgments`` and every pairwise
    verdict under ``comparisons/`` and ``judge_eval/`` to ``out_path``.

    ``info`` is the report's provenance (:func:`alignbench_utils.report.pages.provenance`): when
    given, the page states it and links the report index beside it. A run without judgments
    gets a page that says so.
    """
    run_dir = Path(run_dir)
    layout = RunLayout(run_dir)
    judgments = judgments_frame(_records_under(layout.judgments_dir))  # read once
    panels = panel_records(judgments, layout)  # judge panels, shown like any judge
    if panels:
        judgments = pd.concat([judgments, judgments_frame(panels)], ignore_index=True)
    pairwise = [*_records_under(layout.comparisons_dir), *_records_under(layout.judge_eval_dir)]
    answers = _records_under(layout.answers_dir) if pairwise else []
    run = info["run"] if info else run_dir.name
    data = encode_records(judgments, run=run, pairwise=pairwise_rows(pairwise, answers))
    texts = {name: data["columns"].pop(name) for name in TEXT_COLUMNS if name in data["columns"]}
    data["text_columns"] = list(texts)
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["j2"]))
    page = env.get_template("viewer.html.j2").render(
        run=run, info=info, link_index=info is not None,
        css=_asset("viewer.css"), js=_asset("viewer.js"),
        packing=PACKING, data=_pack(data), texts=_pack(texts))
    out = Path(out_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(page, encoding="utf-8")
    return out
