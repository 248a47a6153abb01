"""Repeated judgments and judge panels: how a run's judgments become one score per judge
and item.

Why a module of its own: a judge asked ``samples: k`` times gives k records per answer, and a
panel (``panels:`` in the run YAML) is a judge that sends nothing; both are reductions of the
judgments frame, done once here and called by :func:`~.aggregate.run_judgments_frame`, so
every table, figure and the report treat a panel as one more judge and a sampled judge as one
score per item.

- **Samples**: the item's score is the mean (or median) of its ok samples; the item is ``ok``
  when any sample is, and ``n_samples`` / ``n_samples_ok`` count them (a failed sample is left
  out and counted, never averaged in). ``sample_scores`` keeps the ok samples so the
  bootstrap can resample them within the item (:func:`.stats.bootstrap.bootstrap_replicates`).
- **Panels**: per item, the reduction (mean, median or majority) of the members' item scores;
  a member that failed the item (or has no judgment of it) is left out and counted in
  ``n_members_failed``; the item fails only when every member did.
- **Pairwise panels** vote: :func:`panel_comparisons` takes the majority winner per pair and
  order.

The run's settings (the sample reduction and the panels) are ``judging.json`` in the run
folder (:attr:`~.layout.RunLayout.judging_file`), written from the YAML by the pipeline.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict
from typing import Any

import numpy as np
import pandas as pd

from alignbench_utils.config import PanelSpec, StatisticsSpec
from alignbench_utils.data.layout import RunLayout
from alignbench_utils.errors import InputError

__all__ = [
    "ITEM_KEYS",
    "PANEL_REDUCES",
    "SAMPLE_REDUCES",
    "combine",
    "combine_run",
    "majority_score",
    "panel_comparisons",
    "panel_items",
    "panel_records",
    "read_judging",
    "reduce_samples",
    "write_judging",
]

ITEM_KEYS = ["judge", "model", "question_id"]  # one item of one judge
SAMPLE_REDUCES = ("mean", "median")
PANEL_REDUCES = ("mean", "median", "majority")


def majority_score(values: Sequence[float]) -> float:
    """The score most values give (each rounded to a whole point); a tie between several
    such scores takes their median. NaN for no values.

    >>> majority_score([7.0, 7.2, 3.0]), majority_score([4.0, 8.0]), majority_score([9, 2, 9, 2, 5])
    (7.0, 6.0, 5.5)
    """
    rounded = np.round(np.asarray(values, float))
    rounded = rounded[~np.isnan(rounded)]
    if not rounded.size:
        return float("nan")
    unique, counts = np.unique(rounded, return_counts=True)
    return float(np.median(unique[counts == counts.max()]))


def _reducer(how: str, allowed: Sequence[str]) -> Any:
    if how not in allowed:
        raise InputError(f"unknown reduction {how!r}; allowed: {', '.join(allowed)}",
                         field="reduce")
    return {"mean": np.nanmean, "median": np.nanmedian, "majority": majority_score}[how]


def _reduce_dimensions(dicts: Iterable[Mapping[str, float]], how: str) -> dict[str, float]:
    """Each dimension's reduction over the dicts that have it (majority: the median)."""
    values: dict[str, list[float]] = {}
    for dims in dicts:
        for name, value in dims.items():
            values.setdefault(name, []).append(float(value))
    func = np.median if how in ("median", "majority") else np.mean
    return {name: float(func(v)) for name, v in values.items()}


def reduce_samples(frame: pd.DataFrame, how: str = StatisticsSpec.sample_reduce) -> pd.DataFrame:
    """One row per judge and item from a judgments frame with repeated samples.

    ``score`` is the ``how`` (mean or median) of the ok samples; the row's other fields are
    the first ok sample's (else the first sample's, with its status and error). Adds
    ``n_samples``, ``n_samples_ok``, ``sample_scores`` (the ok scores by sample) and
    ``sample_reduce`` (``how``, which the bootstrap's within-item resampling repeats).

    >>> f = pd.DataFrame({"judge": "j", "model": "m", "question_id": 1, "sample": [0, 1, 2],
    ...                   "status": ["ok", "parse_failed", "ok"], "score": [6.0, None, 9.0],
    ...                   "legacy_score": [6.0, -1.0, 9.0],
    ...                   "dimensions": [{"a": 5}, {}, {"a": 8}]})
    >>> r = reduce_samples(f).iloc[0]
    >>> float(r["score"]), int(r["n_samples"]), int(r["n_samples_ok"]), r["sample_scores"]
    (7.5, 3, 2, [6.0, 9.0])
    >>> r["dimensions"]
    {'a': 6.5}
    """
    func = _reducer(how, SAMPLE_REDUCES)
    frame = frame.reset_index(drop=True)
    if frame.empty:
        return frame.assign(n_samples=pd.Series(dtype=int), n_samples_ok=pd.Series(dtype=int),
                            sample_scores=pd.Series(dtype=object))
    ok = frame["status"].eq("ok")
    score = pd.to_numeric(frame["score"], errors="coerce").where(ok)
    work = frame.assign(_ok=ok, _score=score, _order=np.arange(len(frame)))
    work = work.sort_values(["sample", "_order"], kind="stable")
    groups = work.groupby(ITEM_KEYS, sort=False, dropna=False)
    lists = groups["_score"].agg(lambda s: s.dropna().tolist())
    first = work.assign(_bad=~work["_ok"]).sort_values(["_bad", "sample"], kind="stable")
    out = first.drop_duplicates(ITEM_KEYS).sort_values("_order").set_index(ITEM_KEYS)
    out["n_samples"] = groups.size()
    out["n_samples_ok"] = groups["_ok"].sum().astype(int)
    out["sample_scores"] = lists
    out["score"] = [func(v) if v else np.nan for v in out["sample_scores"]]
    if "legacy_score" in work.columns:
        out["legacy_score"] = groups["legacy_score"].mean()
    several = out["n_samples_ok"] > 1
    if several.any() and "dimensions" in work.columns:
        dims = work[work["_ok"]].groupby(ITEM_KEYS, sort=False, dropna=False)["dimensions"]
        reduced = dims.agg(lambda d: _reduce_dimensions(d, how))
        out.loc[several, "dimensions"] = reduced.reindex(out.index[several])
    out["sample"] = 0
    out["sample_reduce"] = how
    return out.drop(columns=["_ok", "_score", "_order", "_bad"]).reset_index()


def panel_items(items: pd.DataFrame, panel: PanelSpec) -> pd.DataFrame:
    """The rows of ``panel`` as a judge: per (model, question) the reduction of its members'
    ok item scores (``items``: one row per judge and item, :func:`reduce_samples`).

    ``n_members_ok`` / ``n_members_failed`` count the members that scored the item and those
    that failed it or never judged it; the item is ``error`` only when none scored it.
    ``judgment`` lists each member's score.

    >>> items = pd.DataFrame({"judge": ["a", "b", "c", "a", "b", "c"], "model": "m",
    ...                       "question_id": [1, 1, 1, 2, 2, 2], "category": "数学计算",
    ...                       "status": ["ok", "ok", "error", "error", "error", "error"],
    ...                       "score": [6.0, 9.0, None, None, None, None],
    ...                       "dimensions": [{}] * 6})
    >>> p = panel_items(items, PanelSpec("p", ["a", "b", "c"], "mean"))
    >>> p[["judge", "status", "score", "n_members_ok", "n_members_failed"]].values.tolist()
    [['p', 'ok', 7.5, 2, 1], ['p', 'error', nan, 0, 3]]
    >>> p.loc[0, "judgment"]
    'panel p (mean of 3 judges): a 6, b 9, c failed'
    """
    func = _reducer(panel.reduce, PANEL_REDUCES)
    members = items[items["judge"].isin(panel.judges)].reset_index(drop=True)
    if members.empty:
        return members
    ok = members["status"].eq("ok")
    score = pd.to_numeric(members["score"], errors="coerce").where(ok)
    wide = (members.assign(_score=score)
            .pivot_table(index=["model", "question_id"], columns="judge", values="_score",
                         aggfunc="first", dropna=False)
            .reindex(columns=panel.judges))
    first = members.drop_duplicates(["model", "question_id"]).set_index(["model", "question_id"])
    out = first.reindex(wide.index).copy()
    values = wide.to_numpy(float)
    n_ok = (~np.isnan(values)).sum(axis=1)
    out["score"] = [func(row[~np.isnan(row)]) if k else np.nan for row, k in zip(values, n_ok)]
    out["status"] = np.where(n_ok > 0, "ok", "error")
    out["error"] = np.where(n_ok > 0, None, f"no member of panel {panel.name} scored it")
    out["n_members_ok"] = n_ok
    out["n_members_failed"] = len(panel.judges) - n_ok
    out["judgment"] = [
        f"panel {panel.name} ({panel.reduce} of {len(panel.judges)} judges): " + ", ".join(
            f"{judge} {value:g}" if not np.isnan(value) else f"{judge} failed"
            for judge, value in zip(panel.judges, row)) for row in values]
    dims = members[ok].groupby(["model", "question_id"])["dimensions"].agg(
        lambda d: _reduce_dimensions(d, panel.reduce))
    out["dimensions"] = [d if isinstance(d, Mapping) else {}
                         for d in dims.reindex(out.index).tolist()]
    out["sample_scores"] = [[s] if not np.isnan(s) else [] for s in out["score"]]
    out["legacy_score"] = out["score"].fillna(-1.0)
    out["judge"] = panel.name
    for column in ("judge_name",):  # the endpoint name column of the identity contract
        if column in out.columns:
            out[column] = panel.name
    if "protocol" in out.columns:
        out["protocol"] = "panel"
    drop = [c for c in ("n_samples", "n_samples_ok", "latency_s", "cost_usd", "usage")
            if c in out.columns]
    return out.drop(columns=drop).reset_index()


def combine(frame: pd.DataFrame, *, sample_reduce: str = StatisticsSpec.sample_reduce,
            panels: Sequence[PanelSpec] = ()) -> pd.DataFrame:
    """The judgments frame every table takes: samples reduced per item
    (:func:`reduce_samples`), then each panel's rows (:func:`panel_items`) appended."""
    items = reduce_samples(frame, sample_reduce)
    rows = [panel_items(items, panel) for panel in panels]
    rows = [r for r in rows if not r.empty]
    return pd.concat([items, *rows], ignore_index=True) if rows else items


def write_judging(layout: RunLayout, *, sample_reduce: str = StatisticsSpec.sample_reduce,
                  panels: Sequence[PanelSpec] = ()) -> None:
    """Write the run's combination settings (``judging.json``) from its YAML; an unchanged file
    is left as it is, so a rerun does not look like a change to what reads it."""
    _reducer(sample_reduce, SAMPLE_REDUCES)
    text = json.dumps({"sample_reduce": sample_reduce, "panels": [asdict(p) for p in panels]},
                      ensure_ascii=False, indent=1) + "\n"
    path = layout.judging_file
    if path.is_file() and path.read_text(encoding="utf-8") == text:
        return
    layout.run_dir.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def read_judging(layout: RunLayout) -> tuple[str, list[PanelSpec]]:
    """The sample reduction and panels of a run (defaults when it has no ``judging.json``)."""
    from alignbench_utils.config import parse_spec

    path = layout.judging_file
    if not path.is_file():
        return StatisticsSpec.sample_reduce, []
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise InputError(f"not valid JSON: {exc.msg}", path=path, line=exc.lineno) from None
    panels = [parse_spec(PanelSpec, p, where=f"{path}: panels[{i}]")
              for i, p in enumerate(data.get("panels", []))]
    return data.get("sample_reduce", StatisticsSpec.sample_reduce), panels


def combine_run(frame: pd.DataFrame, layout: RunLayout) -> pd.DataFrame:
    """:func:`combine` with the run's own settings (``judging.json``)."""
    sample_reduce, panels = read_judging(layout)
    return combine(frame, sample_reduce=sample_reduce, panels=panels)


def panel_records(judgments: pd.DataFrame, layout: RunLayout) -> list[dict[str, Any]]:
    """The run's panels as rows of judgment records (what the viewer shows beside the
    judges' own records): :func:`panel_items` of the judgments frame of the run's records
    with the run's settings."""
    sample_reduce, panels = read_judging(layout)
    if not panels or judgments.empty:
        return []
    items = reduce_samples(judgments, sample_reduce)
    rows = [panel_items(items, panel) for panel in panels]
    frame = pd.concat([r for r in rows if not r.empty], ignore_index=True)
    frame = frame.astype(object).where(frame.notna(), None)
    return frame.drop(columns=["legacy_score", "sample_reduce"], errors="ignore").to_dict("records")


def panel_comparisons(comparisons: pd.DataFrame, panel: PanelSpec) -> pd.DataFrame:
    """A pairwise panel's verdicts: per pair and order the winner most members chose among
    those with a verdict (``a``, ``b`` or ``tie``; a tie between winners is a tie); members
    with no verdict are left out and counted in ``n_members_failed``. ``comparisons`` is the
    comparisons frame of several judges (column ``judge``).

    >>> c = pd.DataFrame({"judge": ["x", "y", "z"], "question_id": 1, "category": "数学计算",
    ...                   "model_a": "m", "model_b": "n", "order": "ab", "status": "ok",
    ...                   "winner": ["a", "b", "a"], "len_a": 3, "len_b": 4})
    >>> panel_comparisons(c, PanelSpec("p", ["x", "y", "z"], "majority"))[
    ...     ["judge", "winner", "n_members_ok"]].values.tolist()
    [['p', 'a', 3]]
    """
    if panel.reduce != "majority":
        raise InputError(f"a pairwise panel votes: reduce must be 'majority', not "
                         f"{panel.reduce!r}", field="reduce")
    keys = ["question_id", "model_a", "model_b", "order"]
    members = comparisons[comparisons["judge"].isin(panel.judges)]
    counts = (members.dropna(subset=["winner"]).groupby(keys)["winner"].value_counts()
              .unstack(fill_value=0))
    first = members.drop_duplicates(keys).set_index(keys)
    out = first.copy()
    top = counts.reindex(out.index).fillna(0)
    best = top.max(axis=1)
    winners = top.eq(best, axis=0) & (best > 0).to_numpy()[:, None]
    out["winner"] = [None if not row.any() else (row.index[row][0] if row.sum() == 1 else "tie")
                     for _, row in winners.iterrows()]
    out["status"] = np.where(out["winner"].notna(), "ok", "error")
    out["n_members_ok"] = top.sum(axis=1).astype(int)
    out["n_members_failed"] = len(panel.judges) - out["n_members_ok"]
    out["judge"] = panel.name
    return out.reset_index()
