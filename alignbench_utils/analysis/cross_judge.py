"""How the judges of a run agree: leaderboards side by side, Kendall's tau of their rankings
with a paired bootstrap CI, a judge × judge score confusion matrix, and the answers they
disagree on most, each linked to the judgment viewer.

Why paired: two judges scored the same answers, so the bootstrap resamples the questions both
judged with one seed (``stats.bootstrap_replicates`` draws by category from the shared
question layout) and tau is computed per resample. Judges are opaque identities (the frame's
``judge`` column); every function works for any number of them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from itertools import combinations

import numpy as np
import pandas as pd

from alignbench_utils.analysis.error_analysis import judge_disagreements
from alignbench_utils.analysis.stats.bootstrap import bootstrap_replicates
from alignbench_utils.analysis.stats.ranking import kendall_tau_b
from alignbench_utils.report.tables import ci_cell
from alignbench_utils.taxonomy import OVERALL_COL

__all__ = [
    "judge_order",
    "judge_pairs",
    "leaderboards_side_by_side",
    "ranking_agreement_table",
    "score_confusion",
    "top_disagreements",
]


def judge_order(frame: pd.DataFrame, primary: str = "") -> list[str]:
    """The judges of a judgments frame: ``primary`` first (when given), the rest by name.

    >>> judge_order(pd.DataFrame({"judge": ["b", "c", "a", "c"]}), primary="c")
    ['c', 'a', 'b']
    """
    judges = sorted(str(j) for j in frame["judge"].dropna().unique())
    if primary and primary not in judges:
        raise ValueError(f"no judgments by judge {primary!r}; judges: {judges}")
    return ([primary] if primary else []) + [j for j in judges if j != primary]


def judge_pairs(judges: Sequence[str]) -> list[tuple[str, str]]:
    """Every pair of judges, in the order given (the primary judge's pairs first)."""
    return list(combinations(judges, 2))


def _shared(frame: pd.DataFrame, judges: tuple[str, str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The two judges' rows on the questions and models both judged."""
    a, b = (frame[frame["judge"] == j] for j in judges)
    keys = set(zip(a["model"], a["question_id"])) & set(zip(b["model"], b["question_id"]))
    if not keys:
        raise ValueError(f"judges {judges[0]!r} and {judges[1]!r} judged no answer in common")
    questions = {q for _, q in keys}
    models = {m for m, _ in keys}

    def keep(part: pd.DataFrame) -> pd.DataFrame:
        return part[part["question_id"].isin(questions) & part["model"].isin(models)]
    return keep(a), keep(b)


def ranking_agreement_table(frame: pd.DataFrame, judges: Sequence[str], *, n_boot: int = 1000,
                            seed: int = 0, level: float = 0.95,
                            metric: str = OVERALL_COL) -> pd.DataFrame:
    """Kendall's tau-b between every two judges' rankings of the models by ``metric``, with a
    percentile CI at ``level`` over paired resamples of the questions both judged.

    Columns ``judge_a, judge_b, n_models, n_questions, tau, lower, upper, level``.
    """
    rows = []
    for pair in judge_pairs(judges):
        a, b = _shared(frame, pair)
        ra, rb = (bootstrap_replicates(part, n_boot=n_boot, seed=seed) for part in (a, b))
        models = [m for m in ra.models if m in rb.models]
        k = ra.metrics.index(metric)
        ia, ib = [ra.models.index(m) for m in models], [rb.models.index(m) for m in models]
        reps = kendall_tau_b(ra.replicates[:, ia, k], rb.replicates[:, ib, k])
        alpha = (1 - level) / 2
        lower, upper = (np.nanquantile(reps, [alpha, 1 - alpha]) if np.isfinite(reps).any()
                        else (np.nan, np.nan))
        rows.append({"judge_a": pair[0], "judge_b": pair[1], "n_models": len(models),
                     "n_questions": a["question_id"].nunique(),
                     "tau": float(kendall_tau_b(ra.estimates[ia, k], rb.estimates[ib, k])),
                     "lower": float(lower), "upper": float(upper), "level": level})
    return pd.DataFrame(rows, columns=["judge_a", "judge_b", "n_models", "n_questions", "tau",
                                       "lower", "upper", "level"])


def score_confusion(frame: pd.DataFrame, judges: tuple[str, str]) -> pd.DataFrame:
    """Counts of (score by ``judges[0]``, score by ``judges[1]``), scores rounded to whole
    points 1-10, over the answers both scored ok; every score 1-10 is a row and a column.

    >>> f = pd.DataFrame({"judge": ["a", "a", "b", "b"], "model": "m", "question_id": [1, 2, 1, 2],
    ...                   "status": "ok", "score": [8.0, 3.0, 7.0, 3.0]})
    >>> m = score_confusion(f, ("a", "b"))
    >>> int(m.loc[8, 7]), int(m.loc[3, 3]), int(m.to_numpy().sum())
    (1, 1, 2)
    """
    keys = ["model", "question_id"]
    a, b = (frame[(frame["judge"] == j) & frame["status"].eq("ok")][[*keys, "score"]]
            for j in judges)
    both = a.merge(b, on=keys, suffixes=("_a", "_b"))
    points = range(1, 11)
    matrix = pd.crosstab(np.rint(both["score_a"]).astype(int), np.rint(both["score_b"]).astype(int))
    matrix = matrix.reindex(index=points, columns=points, fill_value=0)
    return matrix.rename_axis(index=judges[0], columns=judges[1])


def leaderboards_side_by_side(cis: Mapping[str, pd.DataFrame], order: Sequence[str], *,
                              metric: str = OVERALL_COL, decimals: int = 2) -> pd.DataFrame:
    """One row per model (``order``), per judge its ``metric`` as ``est [lower, upper]`` and
    its rank under that judge; ``cis`` maps judge → ``stats.bootstrap_leaderboard``.

    >>> ci = pd.DataFrame({"model": ["x", "y"], "metric": "总分", "estimate": [6.0, 5.0],
    ...                    "lower": [5.5, 4.5], "upper": [6.5, 5.5]})
    >>> leaderboards_side_by_side({"j": ci}, ["y", "x"]).values.tolist()
    [['y', '5.00 [4.50, 5.50]', 2], ['x', '6.00 [5.50, 6.50]', 1]]
    """
    table = pd.DataFrame({"model": list(order)})
    for judge, ci in cis.items():
        rows = ci[ci["metric"] == metric].set_index("model").reindex(list(order))
        table[f"{metric} · {judge}"] = [ci_cell(e, lo, hi, decimals) for e, lo, hi
                                        in zip(rows["estimate"], rows["lower"], rows["upper"])]
        table[f"rank · {judge}"] = pd.array(
            rows["estimate"].rank(ascending=False, method="min").to_numpy(), dtype="Int64")
    return table


def top_disagreements(frame: pd.DataFrame, judges: tuple[str, str], *,
                      n: int = 10) -> pd.DataFrame:
    """The ``n`` answers two judges scored furthest apart (both ok), with both critiques
    (:func:`~alignbench_utils.report.viewer_links.with_viewer_links` adds the viewer links)."""
    a, b = (frame[frame["judge"] == j] for j in judges)
    return judge_disagreements(a, b, names=judges).head(n)
