"""Biases of a judge, measured on its own judgments: length, self-preference, copying the
prompt's example scores, and (pairwise) position bias and order consistency.

Why each is measured this way:

- **Length**: longer answers are also better answers on average, so the slope of score on
  length is taken *within* question and model (two-way fixed effects, OLS), with a CI from
  standard errors clustered by question; reported per 100 characters.
- **Self-preference**: a judge may be lenient with everyone, so the gap it shows on its own
  family's answers is compared with the gap it shows on other answers (difference in
  differences against the other-family judges on the same items); CI by resampling questions.
- **Example scores**: the official prompt shows ``{'事实正确性': 9, '满足用户需求': 6, ...,
  '综合得分': 7}`` as an example; a judgment that repeats it is read off the template, not
  hard-coded.
- **Position bias / order consistency** (pairwise): the share of decisive verdicts for the
  response shown first, and the share of pairs whose two orders agree.

Inputs are the items frame (one row per judge and item, ``answer`` text for length) and, for
pairwise, the comparisons frame of :mod:`.pairwise` with a ``judge`` column.
"""

from __future__ import annotations

import ast
import re
import warnings
from collections.abc import Mapping

import numpy as np
import pandas as pd
from scipy.stats import norm

from alignbench_utils.analysis.stats.bootstrap import resample_counts
from alignbench_utils.analysis.stats.pairwise import combine_orders
from alignbench_utils.protocols.prompts import load_template

__all__ = [
    "example_copy_rate",
    "example_scores",
    "length_bias",
    "position_bias",
    "self_preference",
]


def _ok(items: pd.DataFrame) -> pd.DataFrame:
    ok = items[items["status"].eq("ok")]
    return ok.assign(score=pd.to_numeric(ok["score"]).astype(float))


def length_bias(items: pd.DataFrame, *, level: float = 0.95) -> pd.DataFrame:
    """Per judge: the change in score per 100 characters of answer, with question and model
    held fixed (``score ~ length/100 + C(question) + C(model)``), CI at ``level`` from
    standard errors clustered by question. Columns ``judge, length_slope_per_100,
    length_slope_lower, length_slope_upper, n``.
    """
    import statsmodels.formula.api as smf

    rows = []
    for judge, part in _ok(items).groupby("judge", sort=True):
        data = pd.DataFrame({"score": part["score"].to_numpy(float),
                             "length": part["answer"].fillna("").str.len().to_numpy(float) / 100,
                             "question": part["question_id"].astype(str).to_numpy(),
                             "model": part["model"].astype(str).to_numpy()})
        effects = [f"C({c})" for c in ("question", "model") if data[c].nunique() > 1]
        slope = lower = upper = float("nan")
        if len(data) > len(effects) + 2 and data["length"].nunique() > 1:
            formula = "score ~ " + " + ".join(["length", *effects])
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                fit = smf.ols(formula, data).fit(
                    cov_type="cluster", cov_kwds={"groups": pd.factorize(data["question"])[0]})
            slope = float(fit.params["length"])
            lower, upper = (float(v) for v in fit.conf_int(1 - level).loc["length"])
        rows.append({"judge": judge, "length_slope_per_100": slope, "length_slope_lower": lower,
                     "length_slope_upper": upper, "n": len(data)})
    return pd.DataFrame(rows, columns=["judge", "length_slope_per_100", "length_slope_lower",
                                       "length_slope_upper", "n"])


def self_preference(items: pd.DataFrame, families: Mapping[str, str | None], *,
                    n_boot: int = 2000, seed: int = 0, level: float = 0.95) -> pd.DataFrame:
    """Per judge with a family: how much more it favours its own family's answers than the
    other-family judges do, beyond how it treats other answers.

    On each item scored by the judge and by judges of other families, ``d`` = its score −
    their mean; ``self_preference`` = mean ``d`` on answers of models of its family − mean
    ``d`` on the other answers (``own_gap`` is the first part alone). CI: percentile
    bootstrap over questions (``default_rng(seed)``, ``n_boot`` resamples). ``families``
    maps model and judge names to a family (None: unknown, left out). Columns ``judge,
    family, own_gap, self_preference, self_preference_lower, self_preference_upper,
    n_own, n_other``; judges without a family or without other-family judges are absent.
    """
    ok = _ok(items)
    wide = ok.pivot_table(index=["question_id", "model"], columns="judge", values="score",
                          aggfunc="first")
    questions, q_index = np.unique(wide.index.get_level_values(0), return_inverse=True)
    model_family = wide.index.get_level_values(1).map(lambda m: families.get(m))
    rng = np.random.default_rng(seed)
    counts = resample_counts(rng.integers(0, len(questions), (n_boot, len(questions))),
                             len(questions))
    rows = []
    for judge in wide.columns:
        family = families.get(judge)
        others = [j for j in wide.columns if families.get(j) not in (None, family)]
        if family is None or not others:
            continue
        d = (wide[judge] - wide[others].mean(axis=1)).to_numpy(float)
        own = np.asarray(model_family == family)
        other = np.asarray(model_family.notna() & (model_family != family))
        parts = []
        for mask in (own, other):
            use = mask & ~np.isnan(d)
            sums = np.bincount(q_index[use], d[use], len(questions))
            ns = np.bincount(q_index[use], minlength=len(questions)).astype(float)
            with np.errstate(invalid="ignore", divide="ignore"):
                parts.append((sums.sum() / ns.sum(), (counts @ sums) / (counts @ ns),
                              int(ns.sum())))
        (own_gap, own_reps, n_own), (other_gap, other_reps, n_other) = parts
        reps = own_reps - other_reps
        lower, upper = np.nanquantile(reps, [(1 - level) / 2, (1 + level) / 2]) \
            if np.isfinite(reps).any() else (np.nan, np.nan)
        rows.append({"judge": judge, "family": family, "own_gap": own_gap,
                     "self_preference": own_gap - other_gap, "self_preference_lower": lower,
                     "self_preference_upper": upper, "n_own": n_own, "n_other": n_other})
    return pd.DataFrame(rows, columns=["judge", "family", "own_gap", "self_preference",
                                       "self_preference_lower", "self_preference_upper",
                                       "n_own", "n_other"])


def example_scores(template: str | None = None) -> dict[str, float]:
    """The example score dict the judge prompt shows (the official one by default).

    >>> example_scores()
    {'事实正确性': 9.0, '满足用户需求': 6.0, '综合得分': 7.0}
    """
    text = load_template(template).replace("{{", "{").replace("}}", "}")
    match = re.search(r"例如：(\{[^}]*\})", text)
    if match is None:
        return {}
    body = match.group(1).replace(", ...", "")
    return {k: float(v) for k, v in ast.literal_eval(body).items()}


def example_copy_rate(items: pd.DataFrame, *, template: str | None = None) -> pd.DataFrame:
    """Per judge: the share of ok judgments whose scores repeat the prompt's example (the
    overall score and every example dimension the judgment has, at least one of them).
    Columns ``judge, example_copy_rate, n``.

    >>> f = pd.DataFrame({"judge": "j", "status": "ok", "score": [7.0, 7.0],
    ...                   "dimensions": [{"事实正确性": 9, "满足用户需求": 6, "清晰度": 5},
    ...                                  {"事实正确性": 8, "满足用户需求": 6}]})
    >>> example_copy_rate(f).values.tolist()
    [['j', 0.5, 2]]
    """
    example = example_scores(template)
    overall = example.pop("综合得分", None)
    ok = _ok(items)

    def copies(score: float, dims: Mapping[str, float]) -> bool:
        shared = [k for k in example if k in dims]
        return (bool(shared) and score == overall
                and all(float(dims[k]) == example[k] for k in shared))

    flags = [copies(s, d if isinstance(d, Mapping) else {})
             for s, d in zip(ok["score"], ok["dimensions"])]
    out = ok.assign(_copy=flags).groupby("judge", sort=True)["_copy"].agg(["mean", "size"])
    return out.reset_index().set_axis(["judge", "example_copy_rate", "n"], axis=1)


def position_bias(comparisons: pd.DataFrame, *, level: float = 0.95) -> pd.DataFrame:
    """Per judge of a comparisons frame: ``position_bias`` = share of decisive ok verdicts
    that chose the response shown first (0.5: none; Wilson CI at ``level``) and
    ``order_consistency`` = share of pairs judged in both orders whose verdicts agree.

    >>> c = pd.DataFrame({"judge": "j", "question_id": [1, 1, 2, 2], "category": "数学计算",
    ...                   "model_a": "m", "model_b": "n", "order": ["ab", "ba"] * 2,
    ...                   "status": "ok", "winner": ["a", "b", "a", "a"]})
    >>> position_bias(c)[["judge", "position_bias", "order_consistency", "n_decisive"]].values.tolist()
    [['j', 0.75, 0.5, 4]]
    """
    rows = []
    z = norm.ppf((1 + level) / 2)
    for judge, part in comparisons.groupby("judge", sort=True):
        decisive = part[part["status"].eq("ok") & part["winner"].isin(["a", "b"])]
        first = ((decisive["order"] == "ab") == (decisive["winner"] == "a")).to_numpy()
        n = len(first)
        p = first.mean() if n else np.nan
        half = z * np.sqrt(p * (1 - p) / n + z**2 / (4 * n**2)) / (1 + z**2 / n) if n else np.nan
        centre = (p + z**2 / (2 * n)) / (1 + z**2 / n) if n else np.nan
        games = combine_orders(part.drop(columns="judge"))
        rows.append({"judge": judge, "position_bias": p, "position_bias_lower": centre - half,
                     "position_bias_upper": centre + half,
                     "order_consistency": games["consistent"].dropna().astype(float).mean(),
                     "n_decisive": n})
    return pd.DataFrame(rows, columns=["judge", "position_bias", "position_bias_lower",
                                       "position_bias_upper", "order_consistency",
                                       "n_decisive"])
