"""What produced a set of records: package versions, endpoints, prompt hashes, parameters, dates.

Every results file and report states where its numbers came from; this module reads that
from the records themselves (not from the config, which may have changed since).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from alignbench_utils._version import __version__
from alignbench_utils.data.store import now_iso

__all__ = ["summarize_records", "write_provenance"]


def _add(bucket: dict[str, list], key: str, value: Any) -> None:
    if value is not None and value not in bucket.setdefault(key, []):
        bucket[key].append(value)


def summarize_records(records: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """Distinct provenance values per judge (judgment records) and per model (answer records).

    >>> s = summarize_records([
    ...     {"model": "m", "model_id": "m-1", "request": {"max_tokens": 9},
    ...      "package_version": "0.1.0", "created_at": "2026-01-02T00:00:00+00:00"},
    ...     {"judge": "j", "model": "m", "judge_model_id": "gpt", "template_sha256": "abc",
    ...      "structured_output": "none", "request": {"temperature": 0},
    ...      "package_version": "0.1.0", "created_at": "2026-01-01T00:00:00+00:00"}])
    >>> s["judges"]["j"]["model_ids"], s["models"]["m"]["requests"], s["first_created"][:10]
    (['gpt'], [{'max_tokens': 9}], '2026-01-01')
    """
    judges: dict[str, dict[str, list]] = {}
    models: dict[str, dict[str, list]] = {}
    versions: list[str] = []
    dates: list[str] = []
    n = 0
    for rec in records:
        n += 1
        if rec.get("package_version") and rec["package_version"] not in versions:
            versions.append(rec["package_version"])
        if rec.get("created_at"):
            dates.append(str(rec["created_at"]))
        if rec.get("judge"):
            entry = judges.setdefault(str(rec["judge"]), {})
            _add(entry, "model_ids", rec.get("judge_model_id"))
            _add(entry, "template_sha256", rec.get("template_sha256"))
            _add(entry, "structured_output", rec.get("structured_output"))
        else:
            entry = models.setdefault(str(rec.get("model")), {})
            _add(entry, "model_ids", rec.get("model_id"))
        _add(entry, "requests", rec.get("request"))
    return {"n_records": n, "package_versions": versions, "judges": judges, "models": models,
            "first_created": min(dates) if dates else None,
            "last_created": max(dates) if dates else None}


def write_provenance(path: str | Path, records: Iterable[Mapping[str, Any]], *,
                     spend: Mapping[str, Any] | None = None, **settings: Any) -> Path:
    """Write ``path`` (JSON): who wrote it and when, the records' provenance, the settings
    (seeds, n_boot, level ...) that produced the files beside it and, when given, ``spend``:
    tokens and cost so far per model and judge (:func:`accounting.spend_by_endpoint`)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    doc = {"written_by": f"alignbench-utils {__version__}",
           "written_at": now_iso(),
           "settings": settings, "records": summarize_records(records),
           **({"spend": spend} if spend is not None else {})}
    path.write_text(json.dumps(doc, ensure_ascii=False, indent=2, default=str) + "\n",
                    encoding="utf-8")
    return path
