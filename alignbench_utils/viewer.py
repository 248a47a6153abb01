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
dimension name. Each row has a ``kind``; today every row is ``pointwise``; a ``pairwise``
verdict row type only adds its own columns and its kind.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape

from ._version import __version__
from .aggregate import judgments_frame
from .layout import RunLayout
from .parsing import OVERALL_KEYS
from .store import canonical_json, now_iso, read_records_under

__all__ = [
    "DERIVED_COLUMNS",
    "FORMAT",
    "POINTWISE",
    "STATUSES",
    "encode_column",
    "encode_records",
    "script_json",
    "write_viewer",
]

FORMAT = "alignbench-viewer/1"
POINTWISE = "pointwise"
# Offered by the status filter even when a run has none of them (format_error: pairwise verdicts).
STATUSES = ("ok", "parse_failed", "error", "format_error")
# Columns judgments_frame computes that no record holds; not shown as record fields.
DERIVED_COLUMNS = ("legacy_score",)
TEMPLATES = Path(__file__).with_name("templates")
_CLOSING_TAG = re.compile(r"</(script|style)", re.IGNORECASE)
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


def encode_records(records: Iterable[Mapping[str, Any]], *, run: str = "") -> dict[str, Any]:
    """The viewer's data: judgments (the judgments frame of ``records``) as columns.

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
    frame = judgments_frame(list(records))
    frame = frame.drop(columns=[c for c in DERIVED_COLUMNS if c in frame.columns])
    if "kind" not in frame.columns:
        frame["kind"] = POINTWISE
    frame["kind"] = frame["kind"].fillna(POINTWISE)
    dimensions = frame.pop("dimensions").tolist()
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


def script_json(data: Any) -> str:
    """Compact JSON that is safe inside ``<script type="application/json">``: ``<``, ``>``
    and ``&`` are written as ``\\u003c`` etc. (JSON.parse reads them back), so no text in
    a record can close the script element.

    >>> script_json({"critique": "</script><b>&"})
    '{"critique":"\\\\u003c/script\\\\u003e\\\\u003cb\\\\u003e\\\\u0026"}'
    >>> json.loads(script_json({"a": "</script>"}))["a"]
    '</script>'
    """
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _asset(name: str) -> str:
    """A viewer asset's text, checked to hold no closing tag that would end its element."""
    text = (TEMPLATES / name).read_text(encoding="utf-8")
    if _CLOSING_TAG.search(text):
        raise ValueError(f"{name} contains a closing </script> or </style> tag; it is inlined")
    return text


def write_viewer(run_dir: str | os.PathLike, out_path: str | os.PathLike, *,
                 info: Mapping[str, Any] | None = None) -> Path:
    """Write the viewer of every judgment under ``<run_dir>/judgments`` to ``out_path``.

    ``info`` is the report's provenance (:func:`alignbench_utils.report.provenance`): when
    given, the page states it and links the report index beside it. A run without judgments
    gets a page that says so.
    """
    run_dir = Path(run_dir)
    judgments = RunLayout(run_dir).judgments_dir
    records = []
    if judgments.is_dir() and any(judgments.rglob("*.jsonl")):
        records = read_records_under(judgments)
    run = info["run"] if info else run_dir.name
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["j2"]))
    page = env.get_template("viewer.html.j2").render(
        run=run, info=info, link_index=info is not None,
        css=_asset("viewer.css"), js=_asset("viewer.js"),
        data=script_json(encode_records(records, run=run)))
    out = Path(out_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(page, encoding="utf-8")
    return out
