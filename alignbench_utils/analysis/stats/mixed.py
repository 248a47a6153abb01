"""Linear mixed model: model effects adjusted for category, questions as random intercepts.

Why: questions differ a lot in difficulty; a random intercept per question soaks that up, so
the model contrasts are estimated within questions (paired), while ``C(category)`` keeps the
fixed category differences out of the residual. Fitted with statsmodels ``MixedLM`` on ok rows
only; warnings and fit failures are reported in the table instead of raised.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import statsmodels.formula.api as smf
from scipy.stats import norm

from alignbench_utils.analysis.stats.matrix import score_matrix

__all__ = ["mixed_effects"]

_COLUMNS = ["model", "effect", "lower", "upper", "p_value", "baseline", "converged", "warning"]


def mixed_effects(frame: pd.DataFrame, *, baseline: str | None = None, level: float = 0.95,
                  reference: str | None = None) -> pd.DataFrame:
    """Fit ``score ~ C(model) + C(category) + (1 | question_id)``; one row per model.

    ``effect`` is the model's fixed effect versus ``baseline`` (default: the first model of
    the frame; its own row is 0 with NaN bounds), with a Wald CI at ``level`` and p-value.
    ``converged`` is statsmodels' flag (False when the fit failed); ``warning`` joins the
    warning or error messages ('' when clean). ``reference`` is the old name of
    ``baseline`` (not to be confused with the reference-answer control).
    """
    matrix = score_matrix(frame)  # validates the frame
    models = list(matrix.models)
    baseline = baseline or reference or models[0]
    if baseline not in models:
        raise ValueError(f"baseline (reference) model {baseline!r} is not a model of the "
                         f"frame: {models}")
    ordered = [baseline] + [m for m in models if m != baseline]
    ok = frame[frame["status"].eq("ok")]
    present = set(ok["model"])
    if baseline not in present:
        raise ValueError(f"baseline model {baseline!r} has no ok judgments")
    # Plain level codes keep arbitrary model names out of the formula; models without ok
    # rows get no level (NaN effect) so the design stays full rank.
    data = pd.DataFrame({
        "score": pd.to_numeric(ok["score"]).to_numpy(float),
        "model": pd.Categorical(ok["model"].map({m: f"m{i}" for i, m in enumerate(ordered)}),
                                categories=[f"m{i}" for i, m in enumerate(ordered)
                                            if m in present]),
        "category": ok["category"].astype(str).to_numpy(),
        "question": ok["question_id"].astype(str).to_numpy(),
    })
    effect = np.full(len(ordered), np.nan)
    se = effect.copy()
    p_value = effect.copy()
    effect[0] = 0.0
    converged, messages = False, []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            formula = "score ~ C(model)" + (" + C(category)" if data["category"].nunique() > 1
                                            else "")
            fit = smf.mixedlm(formula, data, groups=data["question"]).fit()
            converged = bool(fit.converged)
            for i in range(1, len(ordered)):
                name = f"C(model)[T.m{i}]"
                if name in fit.params.index:
                    effect[i], se[i] = fit.params[name], fit.bse[name]
                    p_value[i] = fit.pvalues[name]
        except (np.linalg.LinAlgError, ValueError) as exc:
            messages.append(f"{type(exc).__name__}: {exc}")
    messages = [str(w.message) for w in caught] + messages
    z = norm.ppf(0.5 + level / 2)
    return pd.DataFrame({
        "model": ordered, "effect": effect, "lower": effect - z * se, "upper": effect + z * se,
        "p_value": p_value, "baseline": baseline, "converged": converged,
        "warning": "; ".join(dict.fromkeys(messages)),
    }, columns=_COLUMNS)
