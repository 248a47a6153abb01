"""Leaderboard by the official mean-of-means formula, dimension means and failure counts.

Differences from the official ``show_result.py``, on purpose: a judgment that could not be
parsed is a failure, counted in ``n_failed`` and never averaged in as a number. ``legacy=True``
reproduces the official script exactly (it averages the ``-1`` of failed parses in), so
numbers can be compared with tables made by the old script.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from alignbench_utils.data.layout import RunLayout
from alignbench_utils.errors import InputError
from alignbench_utils.protocols.base import DEFAULT_PROTOCOL, canonical_protocol
from alignbench_utils.report.provenance import write_provenance
from alignbench_utils.taxonomy import (
    CATEGORIES,
    LANGUAGE_COL,
    OVERALL_COL,
    REASONING_COL,
    combine_categories,
)

__all__ = [
    "FRAME_COLUMNS",
    "OFFICIAL_COLUMNS",
    "combine_categories",
    "dimension_means",
    "export_results",
    "failure_table",
    "failures_by_model",
    "judge_identities",
    "judgments_frame",
    "leaderboard",
    "result_tables",
    "run_judgments_frame",
    "select_judge",
    "summarize_category_means",
]

FRAME_COLUMNS = ("model", "judge", "judge_name", "protocol", "sample", "question_id", "category",
                 "subcategory", "status", "score", "legacy_score", "dimensions", "judgment",
                 "answer", "error")
IDENTITY_KEY = ["judge_name", "protocol", "sample"]  # one judgment: this, model, question_id
# show_result.py: "模型", the categories sorted as Python sorts strings, then the three summaries.
OFFICIAL_COLUMNS = ("模型", *sorted(CATEGORIES), REASONING_COL, LANGUAGE_COL, OVERALL_COL)

JudgmentsLike = pd.DataFrame | Iterable[Mapping[str, Any]] | str | Path


def _records_of(source: str | Path) -> list[dict[str, Any]]:
    """Records of a JSONL file or a folder of them, each in this package's judgment format
    (official records converted; their judge is the file's folder name, else ``""``)."""
    from alignbench_utils.data.official import as_judgment_record
    from alignbench_utils.data.store import read_numbered_records

    path = Path(source)
    files = sorted(path.rglob("*.jsonl")) if path.is_dir() else [path]
    return [as_judgment_record(rec, judge=file.parent.name, path=file, line=number)
            for file in files for number, rec in read_numbered_records(file)]


def _as_records(source: JudgmentsLike) -> pd.DataFrame:
    from alignbench_utils.data.official import OFFICIAL_JUDGMENT_FIELDS, as_judgment_record

    if isinstance(source, (str, Path)):
        return pd.DataFrame(_records_of(source))
    if isinstance(source, pd.DataFrame):
        if "model_id" not in source.columns or "model" in source.columns:
            missing = [c for c in ("model", "question_id", "category") if c not in source.columns]
            if missing and not source.empty:
                raise InputError(f"judgments lack columns {missing} (neither this package's "
                                 f"format nor the official one, which needs "
                                 f"{list(OFFICIAL_JUDGMENT_FIELDS)})", field=missing[0])
            return source.copy()
        source = source.to_dict("records")
    return pd.DataFrame([as_judgment_record(rec, line=number)
                         for number, rec in enumerate(source, start=1)])


def _answer_failures(frame: pd.DataFrame, answers: JudgmentsLike) -> pd.DataFrame:
    """Rows for answers that failed (and so were never judged): status ``error`` for each
    judge in ``frame``, so a model's failed answers count in ``n_failed`` everywhere."""
    from alignbench_utils.data.official import as_answer_record
    from alignbench_utils.data.store import read_records_under

    records = (read_records_under(answers) if isinstance(answers, (str, Path))
               else answers.to_dict("records") if isinstance(answers, pd.DataFrame)
               else list(answers))
    failed = [rec for rec in (as_answer_record(r, line=n) for n, r in enumerate(records, 1))
              if rec.get("status", "ok") != "ok"]
    judges = (frame[["judge", *IDENTITY_KEY]].drop_duplicates().to_dict("records")
              if not frame.empty else [])
    rows = [{**{k: rec.get(k) for k in ("question_id", "category", "subcategory", "question",
                                        "model", "answer")},
             **judge, "status": "error", "score": None,
             "error": f"answer failed, not judged: {rec.get('error') or 'unknown error'}"}
            for rec in failed
            for judge in (judges or [{"judge": "", "judge_name": "",
                                      "protocol": DEFAULT_PROTOCOL, "sample": 0}])]
    return pd.DataFrame(rows)


def judge_identities(judge_name: pd.Series, protocol: pd.Series) -> pd.Series:
    """The analysis identity of each row's judge: the endpoint name where that judge occurs
    under one protocol in the data, ``name/protocol`` where it occurs under several (one
    judge under two protocols is two judges for every analysis).

    >>> judge_identities(pd.Series(["a", "a", "b"]),
    ...                  pd.Series(["alignbench-pointwise", "mtbench-single", "mtbench-single"])).tolist()
    ['a/alignbench-pointwise', 'a/mtbench-single', 'b']
    """
    several = protocol.groupby(judge_name).transform("nunique") > 1
    return judge_name.where(~several, judge_name + "/" + protocol)


def _identify(frame: pd.DataFrame) -> pd.DataFrame:
    """Add ``judge_name``, ``protocol``, ``sample`` and the ``judge`` identity (see
    :func:`judge_identities`); a frame that has them already keeps its identities."""
    frame["protocol"] = frame["protocol"].fillna(DEFAULT_PROTOCOL).map(canonical_protocol)
    frame["sample"] = pd.to_numeric(frame["sample"], errors="coerce").fillna(0).astype(int)
    if "judge_name" in frame.columns and frame["judge_name"].notna().all():
        return frame
    frame["judge_name"] = frame["judge"].fillna("")
    frame["judge"] = judge_identities(frame["judge_name"], frame["protocol"])
    return frame


def judgments_frame(source: JudgmentsLike, *, answers: JudgmentsLike | None = None
                    ) -> pd.DataFrame:
    """Normalise judgments (DataFrame, records, a JSONL file or a folder of them) into the
    judgments frame every analysis takes.

    Official AlignBench judgment records (``model_id``, ``score = -1`` for a failed parse)
    are recognised and converted wherever they come from; records in neither format are an
    error naming what they lack. ``score`` is NaN unless ``status == "ok"``;
    ``legacy_score`` is what the official script would average (the score, or -1 for a
    failure). ``judge_name`` is the endpoint's name, ``protocol`` the judging protocol,
    ``sample`` the sample index (0 when absent) and ``judge`` the identity every analysis
    groups by (:func:`judge_identities`). The last record per (judge_name, protocol, sample,
    model, question_id) wins, as in the append-only store. ``answers`` (answer records or
    their folder) adds every failed answer as an ``error`` row per judge, so failures
    upstream of the judge are counted too.

    >>> f = judgments_frame([{"model": "m", "question_id": 1, "category": "数学计算",
    ...                       "status": "parse_failed", "score": None}])
    >>> f.loc[0, "status"], float(f.loc[0, "legacy_score"]), bool(pd.isna(f.loc[0, "score"]))
    ('parse_failed', -1.0, True)
    >>> f = judgments_frame([{"model_id": "m", "question_id": 1, "category": "数学计算",
    ...                       "judgment": "?", "score": -1}])
    >>> f.loc[0, "model"], f.loc[0, "status"]
    ('m', 'parse_failed')
    """
    frame = _as_records(source)
    for column in FRAME_COLUMNS:
        if column not in frame.columns:
            frame[column] = None
    frame["judge"] = frame["judge"].fillna("")
    frame = _identify(frame)
    if answers is not None:
        extra = _answer_failures(frame, answers)
        if not extra.empty:
            frame = pd.concat([extra, frame], ignore_index=True)
    if frame.empty:
        return frame.loc[:, list(FRAME_COLUMNS)]
    frame["status"] = frame["status"].fillna("ok")
    ok = frame["status"].eq("ok")
    score = pd.to_numeric(frame["score"], errors="coerce")
    frame["score"] = score.where(ok)
    legacy = pd.to_numeric(frame["legacy_score"], errors="coerce")
    frame["legacy_score"] = legacy.fillna(score.where(ok, -1.0))
    frame["dimensions"] = [d if isinstance(d, Mapping) else {} for d in frame["dimensions"]]
    frame = frame.drop_duplicates([*IDENTITY_KEY, "model", "question_id"], keep="last")
    return frame.reset_index(drop=True)


def run_judgments_frame(run_dir: str | Path, *, combine: bool = True) -> pd.DataFrame:
    """The judgments frame of a run folder: every judgment, plus each failed answer as an
    ``error`` row per judge (see :func:`judgments_frame`), so no failure goes uncounted.

    ``combine`` (what every table takes) reduces each judge's repeated samples to one row
    per item and adds the run's judge panels as judges (:func:`.panels.combine_run`, settings
    from ``judging.json``); ``combine=False`` keeps one row per sample."""
    from alignbench_utils.analysis.panels import combine_run

    layout = RunLayout(run_dir)
    answers = layout.answers_dir
    frame = judgments_frame(layout.judgments_dir, answers=answers if answers.is_dir() else None)
    return combine_run(frame, layout) if combine else frame


def failures_by_model(failures: pd.DataFrame) -> pd.DataFrame:
    """Per judge × model: ok, parse_failed, error and total, from :func:`failure_table`.

    >>> failures_by_model(failure_table([{"model": "m", "question_id": 1, "category": "数学计算",
    ...                                   "status": "error"}])).values.tolist()
    [['', 'm', 0, 0, 1, 1]]
    """
    return (failures.groupby(["judge", "model"])[["ok", "parse_failed", "error", "total"]]
            .sum().reset_index())


def summarize_category_means(category_means: pd.DataFrame) -> pd.DataFrame:
    """Add 中文推理, 中文语言 and 总分 to a table whose columns include the 8 category means.

    Reasoning = mean(数学计算, 逻辑推理); Language = mean of the other six; Overall =
    (Reasoning + Language) / 2 — a mean of means, not a mean over questions.

    >>> t = pd.DataFrame([{c: 6.0 for c in CATEGORIES} | {"数学计算": 4.0, "逻辑推理": 5.0}])
    >>> summarize_category_means(t)[["中文推理", "中文语言", "总分"]].iloc[0].tolist()
    [4.5, 6.0, 5.25]
    """
    out = category_means.copy()
    summaries = combine_categories(out[list(CATEGORIES)].to_numpy(float))[:, -3:]
    out[[REASONING_COL, LANGUAGE_COL, OVERALL_COL]] = summaries
    return out


def select_judge(judgments: JudgmentsLike, judge: str = "") -> tuple[str, pd.DataFrame]:
    """The judge to analyse (``judge``, or the first by name when empty) and its judgments.

    >>> name, f = select_judge([{"model": "m", "question_id": 1, "category": "数学计算",
    ...                          "judge": j, "score": 5} for j in ("b", "a")])
    >>> name, f["judge"].tolist()
    ('a', ['a'])
    """
    frame = judgments_frame(judgments)
    name = judge or min(frame["judge"].unique())
    return name, _single_judge(frame, name).reset_index(drop=True)


def _single_judge(frame: pd.DataFrame, judge: str | None) -> pd.DataFrame:
    if judge is not None:
        frame = frame[_judge_rows(frame, judge)]
        if frame.empty:
            raise ValueError(f"no judgments by judge {judge!r}")
    elif frame["judge"].nunique() > 1:
        raise ValueError(f"judgments from several judges {sorted(frame['judge'].unique())}; "
                         "pass judge=")
    return frame


def _judge_rows(frame: pd.DataFrame, judge: str) -> pd.Series:
    """Rows of the judge named ``judge``: its identity, ``name/protocol``, or an endpoint
    name that judged under one protocol only (a name under several is ambiguous)."""
    rows = frame["judge"].eq(judge)
    if rows.any() or "judge_name" not in frame.columns:
        return rows
    rows = (frame["judge_name"] + "/" + frame["protocol"]).eq(judge)
    if rows.any():
        return rows
    rows = frame["judge_name"].eq(judge)
    identities = sorted(frame.loc[rows, "judge"].unique())
    if len(identities) > 1:
        raise ValueError(f"judge {judge!r} judged under several protocols: pass one of "
                         f"{identities}")
    return rows


def leaderboard(judgments: JudgmentsLike, *, legacy: bool = False,
                judge: str | None = None) -> pd.DataFrame:
    """One row per model: the 8 category means, 中文推理, 中文语言, 总分, n_ok, n_failed.

    Columns follow the official show_result.py (``模型`` then categories in its order, sorted by
    总分 descending). Failures are excluded from every mean; ``legacy=True`` averages them in as
    -1 exactly as the official script does.

    >>> rows = [{"model": "m", "question_id": i, "category": c, "status": "ok", "score": 6}
    ...         for i, c in enumerate(CATEGORIES)]
    >>> rows.append({"model": "m", "question_id": 99, "category": "数学计算",
    ...              "status": "parse_failed", "score": None})
    >>> lb = leaderboard(rows)
    >>> float(lb.loc[0, "总分"]), int(lb.loc[0, "n_ok"]), int(lb.loc[0, "n_failed"])
    (6.0, 8, 1)
    >>> round(float(leaderboard(rows, legacy=True).loc[0, "数学计算"]), 2)
    2.5
    """
    frame = _single_judge(judgments_frame(judgments), judge)
    value = "legacy_score" if legacy else "score"
    means = frame.pivot_table(index="model", columns="category", values=value, aggfunc="mean",
                              dropna=False).reindex(columns=list(CATEGORIES))
    table = summarize_category_means(means)
    counts = frame.assign(ok=frame["status"].eq("ok")).groupby("model")["ok"].agg(["sum", "size"])
    table["n_ok"] = counts["sum"].astype(int)
    table["n_failed"] = (counts["size"] - counts["sum"]).astype(int)
    table = table.rename_axis(None, axis=1).reset_index().rename(columns={"model": "模型"})
    table = table.loc[:, [*OFFICIAL_COLUMNS, "n_ok", "n_failed"]]
    return table.sort_values(OVERALL_COL, ascending=False, kind="stable").reset_index(drop=True)


def dimension_means(judgments: JudgmentsLike, *, judge: str | None = None) -> pd.DataFrame:
    """Mean score per model × dimension over ok judgments (dimensions vary by answer type,
    so each mean is over the questions that have that dimension); ``n`` gives the counts.

    >>> rows = [{"model": "m", "question_id": 1, "category": "数学计算", "status": "ok",
    ...          "score": 6, "dimensions": {"逻辑连贯性": 5, "完备性": 7}},
    ...         {"model": "m", "question_id": 2, "category": "数学计算", "status": "ok",
    ...          "score": 8, "dimensions": {"逻辑连贯性": 7}}]
    >>> dimension_means(rows)[["model", "dimension", "mean", "n"]].values.tolist()
    [['m', '完备性', 7.0, 1], ['m', '逻辑连贯性', 6.0, 2]]
    """
    frame = _single_judge(judgments_frame(judgments), judge)
    frame = frame[frame["status"].eq("ok")]
    long = [(model, name, float(value)) for model, dims in zip(frame["model"], frame["dimensions"])
            for name, value in dims.items()]
    table = pd.DataFrame(long, columns=["model", "dimension", "score"])
    return (table.groupby(["model", "dimension"])["score"].agg(mean="mean", n="size")
            .reset_index())


def failure_table(judgments: JudgmentsLike) -> pd.DataFrame:
    """Counts per judge × model × category × status, so failures show in every table.

    >>> failure_table([{"model": "m", "question_id": 1, "category": "数学计算",
    ...                 "status": "error"}]).values.tolist()
    [['', 'm', '数学计算', 0, 0, 1, 1]]
    """
    frame = judgments_frame(judgments)
    table = pd.crosstab([frame["judge"], frame["model"], frame["category"]], frame["status"])
    table = table.reindex(columns=["ok", "parse_failed", "error"], fill_value=0)
    table["total"] = table.sum(axis=1)
    return table.rename_axis(None, axis=1).reset_index()


def result_tables(judgments: JudgmentsLike, *, judge: str | None = None) -> dict[str, pd.DataFrame]:
    """The results tables: leaderboard, legacy leaderboard, dimension means, failure counts."""
    frame = judgments_frame(judgments)
    return {
        "leaderboard": leaderboard(frame, judge=judge),
        "leaderboard_legacy": leaderboard(frame, judge=judge, legacy=True),
        "dimensions": dimension_means(frame, judge=judge),
        "failures": failure_table(frame),
    }


def _spend_of(judgments: list[dict[str, Any]], results_dir: Path) -> dict[str, Any]:
    """Tokens and cost so far per model and judge: every stage of the run
    (:func:`accounting.run_spend`) when ``results_dir`` is a run folder's ``results/``, else
    these judgments'."""
    from alignbench_utils.data.layout import RunLayout
    from alignbench_utils.running.accounting import run_spend, spend_by_endpoint

    layout = RunLayout(results_dir.parent)
    if layout.results_dir == results_dir:
        return run_spend(layout.run_dir)
    paid = [rec for rec in judgments if isinstance(rec.get("usage"), Mapping)]  # not the
    # rows that stand for failed answers
    return spend_by_endpoint(paid)


def export_results(judgments: JudgmentsLike, results_dir: str | Path, *,
                   judge: str | None = None,
                   tables: dict[str, pd.DataFrame] | None = None) -> dict[str, Path]:
    """Write leaderboard (CSV with official column names + xlsx), legacy leaderboard,
    dimension means, failure counts and ``provenance.json`` (package version, judge model
    ids, prompt template hashes, request parameters, dates); returns the written paths.
    ``tables`` are those of :func:`result_tables` when already computed."""
    frame = judgments_frame(judgments)
    out = Path(results_dir)
    out.mkdir(parents=True, exist_ok=True)
    tables = tables or result_tables(frame, judge=judge)
    paths: dict[str, Path] = {}
    for name, table in tables.items():
        paths[name] = out / f"{name}.csv"
        table.to_csv(paths[name], index=False, encoding="utf-8")
    records = frame.to_dict("records")
    paths["provenance"] = write_provenance(out / "provenance.json", records, judge=judge,
                                           spend=_spend_of(records, out))
    paths["leaderboard_xlsx"] = out / "leaderboard.xlsx"
    with pd.ExcelWriter(paths["leaderboard_xlsx"]) as writer:
        for name, table in tables.items():
            table.to_excel(writer, sheet_name=name, index=False)
    return paths

