"""The judge meta-evaluation stage: judge benchmark pairs under a pairwise protocol, then the
study's table of judges × benchmarks.

``alignbench judge-eval``, the run YAML's ``judge_eval:`` section and notebook 07 call these.
Items come from :func:`~alignbench_utils.judgebench.load_benchmark` (optionally a seeded
subset of each benchmark subset, :func:`select_items`); every (item, order) is one request of
the pairwise stage (:mod:`alignbench_utils.stages.compare`), so a rerun costs zero calls. The table
(:func:`judge_eval_table`) puts the judges run here next to published ones
(:func:`published_verdicts`) on the *same* items, each with its benchmark's official metric,
a bootstrap CI, the format-error rate, position bias, consistency and the number of calls.
"""

from __future__ import annotations

import os
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from alignbench_utils.config import JudgeSpec, parse_spec
from alignbench_utils.data.layout import RunLayout
from alignbench_utils.judgebench import (
    load_benchmark,
    published_llmbar_chatgpt,
    published_pandalm,
    study_table,
    verdicts_frame,
)
from alignbench_utils.judgebench.table import STUDY_COLUMNS
from alignbench_utils.report.tables import write_table
from alignbench_utils.running.client import EndpointConfig, endpoint_from_spec
from alignbench_utils.running.engine import RunSummary
from alignbench_utils.stages.compare import (
    benchmark_pairs,
    pairwise_protocol,
    run_pairwise,
    unreadable_stage,
    verdicts_from_records,
)

__all__ = [
    "ITEM_KEY",
    "judge_eval_table",
    "judge_eval_verdicts",
    "published_verdicts",
    "run_judge_eval",
    "run_judge_eval_stage",
    "select_items",
    "worst_disagreements",
]

ITEM_KEY = ["benchmark", "subset", "item_id"]
# Published judge outputs shipped in data/judgebench/, by benchmark.
_PUBLISHED = {"llmbar": published_llmbar_chatgpt, "pandalm": published_pandalm}


def select_items(benchmarks: Sequence[str], *, per_subset: int | None = None,
                 seed: int = 0) -> pd.DataFrame:
    """The items of ``benchmarks`` (registry names, e.g. ``llmbar:Natural``, ``pandalm``),
    each item once; with ``per_subset``, a seeded random sample of that many items of each
    benchmark subset (all of a smaller one), kept in file order. A subset's sample depends
    only on ``seed`` and the subset's name, not on which other benchmarks are listed.

    >>> items = select_items(["llmbar:Natural", "llmbar:Adversarial_Manual"], per_subset=5)
    >>> items.groupby("subset").size().to_dict()
    {'Adversarial_Manual': 5, 'Natural': 5}
    >>> items[items.subset == "Natural"].item_id.tolist() == select_items(
    ...     ["llmbar:Natural"], per_subset=5).item_id.tolist()
    True
    """
    if not benchmarks:
        raise ValueError("no benchmarks given")
    if per_subset is not None and per_subset < 1:
        raise ValueError(f"per_subset must be >= 1 (or None for all items), got {per_subset}")
    items = pd.concat([load_benchmark(name) for name in benchmarks], ignore_index=True)
    items = items.drop_duplicates(ITEM_KEY, ignore_index=True)
    if per_subset is None:
        return items
    keep = np.zeros(len(items), dtype=bool)
    for (benchmark, subset), rows in items.groupby(["benchmark", "subset"], sort=False):
        rng = np.random.default_rng([seed, zlib.crc32(f"{benchmark}/{subset}".encode())])
        chosen = rng.choice(len(rows), size=min(per_subset, len(rows)), replace=False)
        keep[rows.index.to_numpy()[chosen]] = True
    return items[keep].reset_index(drop=True)


def run_judge_eval(benchmarks: Sequence[str], endpoint: EndpointConfig,
                   out_dir: str | os.PathLike, *, protocol: str,
                   template: str | os.PathLike | None = None, orders: str | None = None,
                   max_tokens: int | None = None, seed: int | None = None,
                   logit_bias_model: str | None = None, per_subset: int | None = None,
                   subset_seed: int = 0, progress: bool = True) -> list[RunSummary]:
    """Judge every benchmark's items with ``endpoint`` under ``protocol`` into
    ``out_dir/<judge>/<protocol>/<benchmark>__<subset>.jsonl``; one summary per benchmark
    name. Protocol options (template, orders, max_tokens, seed, logit_bias_model) as
    :class:`~alignbench_utils.protocols.pairwise.PairwiseProtocol`; ``per_subset`` and
    ``subset_seed`` as :func:`select_items`. Every benchmark is loaded and every prompt built
    before the first call, so bad input fails early. A benchmark on which not one reply could
    be read gets a printed ``WARNING`` naming the judge, protocol and most common reply."""
    judging = pairwise_protocol(protocol, template=template, orders=orders,
                                max_tokens=max_tokens, seed=seed,
                                logit_bias_model=logit_bias_model)
    pairs = {name: benchmark_pairs(select_items([name], per_subset=per_subset, seed=subset_seed))
             for name in benchmarks}
    for items in pairs.values():  # fill every prompt once: a bad item fails before any call
        for pair in items:
            judging.prompt({**pair, "order": "ab"})
    summaries = [run_pairwise(items, endpoint, out_dir, protocol=judging, stage="judge-eval",
                              name=f"{endpoint.name} on {name}", progress=progress)
                 for name, items in pairs.items()]
    for summary in summaries:  # the judge is a finding (it cannot follow the format): warn
        unreadable = unreadable_stage(summary, judge=endpoint.name, protocol=judging.name)
        if unreadable:
            print(f"WARNING: {unreadable}; its metrics count every item wrong", flush=True)
    return summaries


def run_judge_eval_stage(run_dir: str | os.PathLike, judges: Sequence[dict[str, Any]], *,
                         benchmarks: Sequence[str], protocol: str, concurrency: int = 8,
                         template: str | None = None, orders: str | None = None,
                         logit_bias_model: str | None = None, per_subset: int | None = None,
                         subset_seed: int = 0, progress: bool = False) -> pd.DataFrame:
    """Every judge (run-YAML endpoint dicts) through :func:`run_judge_eval` into the run's
    ``judge_eval/`` folder; prints one summary line per judge and benchmark and returns them
    as a table. A judge's ``sampling.seed`` is sent; its pointwise settings are not used."""
    rows = []
    for index, data in enumerate(judges):
        spec = parse_spec(JudgeSpec, data, where=f"judges[{index}]")
        summaries = run_judge_eval(
            benchmarks, endpoint_from_spec(data, concurrency), RunLayout(run_dir).judge_eval_dir,
            protocol=protocol, template=template, orders=orders, seed=spec.sampling.seed,
            logit_bias_model=logit_bias_model, per_subset=per_subset, subset_seed=subset_seed,
            progress=progress)
        for benchmark, summary in zip(benchmarks, summaries):
            print(summary.one_line(), flush=True)
            rows.append({"judge": spec.name, "benchmark": benchmark, **summary.to_dict()})
    return pd.DataFrame(rows).drop(columns=["stage", "name", "out_paths", "errors"])


def _on_items(verdicts: pd.DataFrame, items: pd.DataFrame) -> pd.DataFrame:
    keys = items[ITEM_KEY].astype({"item_id": str})
    return verdicts.merge(keys, on=ITEM_KEY, how="inner")


def published_verdicts(items: pd.DataFrame) -> pd.DataFrame:
    """Published judges' verdicts (LLMBar's ChatGPT, PandaLM's gpt-3.5-turbo and PandaLM-7B,
    shipped in ``data/judgebench/``) on exactly ``items`` (none for other benchmarks).

    >>> v = published_verdicts(select_items(["llmbar:Natural"], per_subset=3))
    >>> sorted(v["judge"].unique()), len(v)
    (['ChatGPT Vanilla_NoRules (published)'], 6)
    """
    frames = [_on_items(load(), items) for benchmark, load in _PUBLISHED.items()
              if benchmark in set(items["benchmark"])]
    return verdicts_frame(pd.concat(frames, ignore_index=True) if frames else [])


def judge_eval_verdicts(out_dir: str | os.PathLike, items: pd.DataFrame, *,
                        published: bool = True) -> pd.DataFrame:
    """The verdicts of every judge under ``out_dir`` (a judge-eval folder) on ``items``, with
    the published judges' verdicts on the same items when ``published``."""
    frames = [_on_items(verdicts_from_records(out_dir), items),
              published_verdicts(items) if published else None]
    frames = [f for f in frames if f is not None and len(f)]
    return verdicts_frame(pd.concat(frames, ignore_index=True) if frames else [])


def judge_eval_table(verdicts: pd.DataFrame, items: pd.DataFrame, *, n_boot: int = 2000,
                     seed: int = 0, level: float = 0.95,
                     out: str | os.PathLike | None = None) -> pd.DataFrame:
    """The study's table (:func:`~alignbench_utils.judgebench.study_table`) of ``verdicts`` on
    ``items``: one row per judge × benchmark subset, best headline estimate first within each
    subset; written to ``out`` (CSV) when given, and beside it as Markdown and booktabs
    LaTeX for a paper (:func:`~alignbench_utils.report.tables.write_table`, 3 decimals)."""
    if verdicts.empty:  # no judge and no published one on these items: an empty table
        table = pd.DataFrame(columns=STUDY_COLUMNS)
    else:
        table = study_table(verdicts, items, n_boot=n_boot, seed=seed, level=level)
    order = items[["benchmark", "subset"]].drop_duplicates().reset_index(drop=True)
    table = (table.merge(order.reset_index(names="_subset"), on=["benchmark", "subset"])
             .sort_values(["_subset", "estimate"], ascending=[True, False])
             .drop(columns="_subset").reset_index(drop=True))
    if out is not None:
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        table.to_csv(out, index=False)
        write_table(table, Path(out).with_suffix(""), formats=("md", "tex"), decimals=3,
                    caption=f"Judges against human labels, {level:.0%} bootstrap CIs")
    return table


def worst_disagreements(verdicts: pd.DataFrame, items: pd.DataFrame, *, n: int = 10,
                        max_chars: int = 300, judges: Sequence[str] | None = None
                        ) -> pd.DataFrame:
    """The items each judge got most wrong, with its raw replies: wrong in both orders first
    (a confident mistake, the same wrong verdict twice before a split one), then wrong in
    one; a reply without a verdict counts as wrong, an order not judged does not (PandaLM
    judges one). ``judges``: default every judge whose
    name does not end in "(published)". Texts are cut to ``max_chars``."""
    if judges is None:
        judges = [j for j in verdicts["judge"].unique() if not str(j).endswith("(published)")]
    chosen = verdicts[verdicts["judge"].isin(list(judges))]
    orders = [o for o in ("ab", "ba") if o in set(chosen["order"])]
    texts = ["instruction", "output_1", "output_2", *[f"raw_{o}" for o in orders]]
    columns = ["judge", *ITEM_KEY, "label", *[f"verdict_{o}" for o in orders],
               *[f"status_{o}" for o in orders], "orders_wrong", *texts]
    if chosen.empty:
        return pd.DataFrame(columns=columns)
    wide = chosen.pivot(index=["judge", *ITEM_KEY], columns="order",
                        values=["verdict", "raw", "status"])
    wide.columns = [f"{name}_{order}" for name, order in wide.columns]
    wide = wide.reset_index().merge(
        items.astype({"item_id": str})[[*ITEM_KEY, "label", "instruction", "output_1",
                                        "output_2"]], on=ITEM_KEY)
    wrong = sum((wide[f"status_{o}"].notna() & (wide[f"verdict_{o}"].astype("Float64")
                                                 != wide["label"].astype("Float64"))
                 .fillna(True)).astype(int) for o in orders)
    same = (wide[f"verdict_{orders[0]}"].astype("Float64")
            == wide[f"verdict_{orders[-1]}"].astype("Float64")).fillna(False)
    wide = wide.assign(orders_wrong=wrong, same_verdict=same.astype(bool))
    wide = wide[wide["orders_wrong"] > 0].sort_values(
        ["judge", "orders_wrong", "same_verdict"], ascending=[True, False, False], kind="stable")
    wide[texts] = wide[texts].apply(lambda column: column.fillna("").astype(str)
                                    .str.slice(0, max_chars))
    return wide.groupby("judge", sort=False).head(n)[columns].reset_index(drop=True)
