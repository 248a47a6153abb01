"""Judges × benchmarks: every metric with a bootstrap CI, and the study's one-line-per-cell table.

Bootstrap: items are resampled with replacement within each benchmark subset (and within each
group when ``by_group``); ``numpy.random.default_rng(seed)`` draws the resample indices once
per subset (or group), so every judge of that subset sees the *same* resamples and their
intervals are comparable (paired). A replicate is one matrix product of resample counts and
per-item features (:mod:`.metrics`); intervals are percentile intervals at ``level``,
ignoring replicates where a metric is undefined (e.g. no decisive verdict).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from alignbench_utils.analysis.stats.bootstrap import resample_counts
from alignbench_utils.judgebench.frame import verdicts_frame
from alignbench_utils.judgebench.metrics import (
    BENCHMARK_FAMILY,
    COMMON_METRICS,
    HEADLINE,
    features,
    item_arrays,
    metric_values,
)

__all__ = ["METRIC_COLUMNS", "STUDY_COLUMNS", "judge_metrics", "study_table"]

METRIC_COLUMNS = ["judge", "benchmark", "subset", "group", "family", "metric", "estimate",
                  "lower", "upper", "n_items", "n_missing", "n_calls"]
STUDY_COLUMNS = ["judge", "benchmark", "subset", "metric", "estimate", "lower", "upper",
                 *COMMON_METRICS, "n_items", "n_missing", "n_calls"]


def _resamples(n: int, n_boot: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return resample_counts(rng.integers(0, n, size=(n_boot, n)), n)


def _units(items: pd.DataFrame, by_group: bool) -> list[tuple[str, np.ndarray]]:
    units = [("overall", np.ones(len(items), dtype=bool))]
    if by_group:
        groups = items["group"]
        units += [(str(g), (groups == g).to_numpy()) for g in pd.unique(groups.dropna())]
    return units


def _check_coverage(verdicts: pd.DataFrame, items: pd.DataFrame,
                    families: dict[str, str]) -> None:
    judged = set(zip(verdicts["benchmark"], verdicts["subset"]))
    known = set(zip(items["benchmark"], items["subset"]))
    if judged - known:
        raise ValueError(f"verdicts for subsets with no items: {sorted(judged - known)}")
    unknown = sorted({b for b, _ in judged} - set(families))
    if unknown:
        raise ValueError(f"no metric family for benchmarks {unknown}; known: "
                         f"{sorted(families)} (pass families={{name: family}})")


def judge_metrics(verdicts: pd.DataFrame, items: pd.DataFrame, *, n_boot: int = 2000,
                  seed: int = 0, level: float = 0.95, by_group: bool = False,
                  swap_rule: bool = False,
                  families: dict[str, str] | None = None) -> pd.DataFrame:
    """Every metric of every judge on every benchmark subset, long, with bootstrap CIs.

    ``verdicts`` is a verdicts frame, ``items`` the items of the judged subsets
    (:func:`~.loaders.load_benchmark`). Columns :data:`METRIC_COLUMNS`: ``group`` is
    ``"overall"`` or, with ``by_group``, each item group (Auto-J reports per scenario group);
    ``n_items`` the items judged, ``n_missing`` the subset's items this judge has no call for,
    ``n_calls`` the calls (rows). ``swap_rule`` applies PandaLM's swap rule; ``families`` maps
    extra benchmark names to a metric family (``llmbar``, ``autoj``, ``pandalm``, ``mtbench``).

    >>> from .items import items_frame
    >>> its = items_frame([{"benchmark": "llmbar", "subset": "s", "item_id": i, "label": 1,
    ...     "instruction": "", "input": "", "output_1": "", "output_2": "", "group": None}
    ...     for i in range(4)])
    >>> vs = pd.DataFrame([{"judge": "j", "benchmark": "llmbar", "subset": "s", "item_id": i,
    ...     "order": o, "verdict": v, "status": "ok", "raw": ""}
    ...     for i, (v1, v2) in enumerate([(1, 1), (1, 2), (2, 2), (1, 1)])
    ...     for o, v in (("ab", v1), ("ba", v2))])
    >>> t = judge_metrics(vs, its, n_boot=200).set_index("metric")
    >>> t.loc[["correct_average", "correct_both", "equal", "position_bias"], "estimate"].tolist()
    [0.625, 0.5, 0.75, 0.125]
    """
    if n_boot < 1 or not 0 < level < 1:
        raise ValueError(f"need n_boot >= 1 and 0 < level < 1, got {n_boot}, {level}")
    verdicts = verdicts_frame(verdicts)
    families = BENCHMARK_FAMILY | (families or {})
    _check_coverage(verdicts, items, families)
    alpha = (1 - level) / 2
    rows = []
    for (benchmark, subset), subset_items in items.groupby(["benchmark", "subset"], sort=False):
        subset_verdicts = verdicts[verdicts["benchmark"].eq(benchmark)
                                   & verdicts["subset"].eq(subset)]
        if subset_verdicts.empty:
            continue
        subset_items = subset_items.reset_index(drop=True)
        family = families[benchmark]
        units = _units(subset_items, by_group)
        draws = {name: _resamples(int(mask.sum()), n_boot, seed) for name, mask in units}
        for judge, judge_verdicts in subset_verdicts.groupby("judge", sort=False):
            names, x = features(item_arrays(judge_verdicts, subset_items), family,
                                swap_rule=swap_rule)
            for unit, mask in units:
                xu = x[mask]
                estimates = metric_values(names, xu.sum(axis=0), family)
                replicates = metric_values(names, draws[unit] @ xu, family)
                counts = {"n_items": int(xu[:, names.index("judged")].sum()),
                          "n_calls": int(xu[:, names.index("calls")].sum())}
                counts["n_missing"] = int(mask.sum()) - counts["n_items"]
                for metric, estimate in estimates.items():
                    with warnings.catch_warnings():  # an all-undefined metric: NaN bounds
                        warnings.simplefilter("ignore", RuntimeWarning)
                        lower, upper = np.nanquantile(replicates[metric], [alpha, 1 - alpha])
                    rows.append({"judge": judge, "benchmark": benchmark, "subset": subset,
                                 "group": unit, "family": family, "metric": metric,
                                 "estimate": float(estimate), "lower": float(lower),
                                 "upper": float(upper), **counts})
    return pd.DataFrame(rows, columns=METRIC_COLUMNS)


def study_table(verdicts: pd.DataFrame, items: pd.DataFrame, *, n_boot: int = 2000,
                seed: int = 0, level: float = 0.95, swap_rule: bool = False,
                families: dict[str, str] | None = None) -> pd.DataFrame:
    """The study's table: one row per judge × benchmark subset with the benchmark's headline
    metric (:data:`~.metrics.HEADLINE`) and its CI, next to the format-error rate, position
    bias, consistency and the numbers of items and calls (columns :data:`STUDY_COLUMNS`).
    """
    long = judge_metrics(verdicts, items, n_boot=n_boot, seed=seed, level=level,
                         swap_rule=swap_rule, families=families)
    keys = ["judge", "benchmark", "subset"]
    headline = long[long["metric"].eq(long["family"].map(HEADLINE))]
    common = long[long["metric"].isin(list(COMMON_METRICS))].pivot(
        index=keys, columns="metric", values="estimate").reset_index()
    table = headline.merge(common, on=keys, how="left")
    return table[STUDY_COLUMNS].reset_index(drop=True)
