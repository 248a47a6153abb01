"""Judge meta-evaluation: how well a pairwise judge agrees with human preference labels.

Data flow: ``load_benchmark(name)`` gives an **items frame**; a judging run (or an importer
of published outputs, :mod:`.published`) gives a **verdicts frame**; ``judge_metrics`` /
``study_table`` turn both into each benchmark's official metrics with bootstrap CIs.

Items frame (:mod:`.items`), one row per benchmark item:

==============  ==========================================================================
benchmark       ``llmbar``, ``pandalm``, ``autoj``, ``critiquellm``, ``mtbench-human``
subset          e.g. ``Natural``, ``Adversarial_GPTInst``, ``testset-v1``, a file's stem
item_id         str, unique within (benchmark, subset)
instruction     the task; ``input`` its extra context ("" when none)
output_1/2      the two responses, in the benchmark's order
label           1 (output_1 better), 2 (output_2 better), 0 (tie): the gold label
group           scenario group / category / turn, or None
(extras)        raw human labels (``human_labels``: tuple of labels), ``scenario``,
                ``reference``, ``cmp_key``, conversations, ... per benchmark
==============  ==========================================================================

Verdicts frame (:mod:`.frame`), one row per (judge, benchmark, subset, item_id, order):

==============  ==========================================================================
judge           the judge's name
benchmark       as in the items frame (with subset and item_id: the join key)
subset
item_id         str
order           ``"ab"``: output_1 shown first; ``"ba"``: output_2 shown first
verdict         nullable int, **mapped back to the original labels**: 1, 2, 0 (tie), or NA
status          ``ok`` (has a verdict), ``parse_failed`` (a reply without a verdict under the
                benchmark's rule, :mod:`.verdicts`), ``error`` (no usable reply: API failure)
raw             the judge's raw reply (kept for every status)
fallback        bool, optional (default False): the verdict is an official rule's default for
                an unreadable reply (PandaLM: tie), counted in ``fallback_rate``
(extras)        anything else a producer records (finish_reason, error, reason, ...)
==============  ==========================================================================

A verdict is NA exactly when status is not ``ok``; such calls are never averaged as a guess:
each metric states how it counts them (:mod:`.metrics`), and the format-error rate is in
every table. Verdict rules by name: ``VERDICT_RULES``; one call's ``verdict``/``status``/
``fallback`` from its raw reply: ``read_verdict(rule, raw, order)``; metric families by
benchmark: ``BENCHMARK_FAMILY``.
"""

from typing import TYPE_CHECKING

from alignbench_utils.judgebench.verdicts import VERDICT_RULES, map_back, read_verdict
from alignbench_utils.lazy import lazy_exports

if TYPE_CHECKING:
    from alignbench_utils.judgebench.frame import (
        ORDERS,
        STATUSES,
        VERDICT_COLUMNS,
        check_verdicts,
        verdicts_frame,
    )
    from alignbench_utils.judgebench.items import ITEM_COLUMNS, LABELS, items_frame, majority_label
    from alignbench_utils.judgebench.loaders import BENCHMARK_NAMES, load_benchmark
    from alignbench_utils.judgebench.metrics import BENCHMARK_FAMILY, HEADLINE
    from alignbench_utils.judgebench.published import (
        import_llmbar_result,
        import_pandalm_result,
        published_llmbar_chatgpt,
        published_pandalm,
    )
    from alignbench_utils.judgebench.shipped import (
        LLMBAR_PROCESSED,
        LLMBAR_SUBSETS,
        load_llmbar,
        load_pandalm,
    )
    from alignbench_utils.judgebench.table import judge_metrics, study_table
    from alignbench_utils.judgebench.user_formats import (
        load_autoj,
        load_critiquellm_pairwise,
        load_critiquellm_pointwise,
        load_mtbench_human,
        mtbench_human_items,
    )

# The verdict rules load at once (the pairwise protocols read replies with them); the rest,
# which needs pandas and scipy, on first use.
__getattr__, __dir__ = lazy_exports(__name__, {
    **dict.fromkeys(["ORDERS", "STATUSES", "VERDICT_COLUMNS", "check_verdicts",
                     "verdicts_frame"], ".frame"),
    **dict.fromkeys(["ITEM_COLUMNS", "LABELS", "items_frame", "majority_label"], ".items"),
    **dict.fromkeys(["BENCHMARK_NAMES", "load_benchmark"], ".loaders"),
    **dict.fromkeys(["BENCHMARK_FAMILY", "HEADLINE"], ".metrics"),
    **dict.fromkeys(["import_llmbar_result", "import_pandalm_result", "published_llmbar_chatgpt",
                     "published_pandalm"], ".published"),
    **dict.fromkeys(["LLMBAR_PROCESSED", "LLMBAR_SUBSETS", "load_llmbar", "load_pandalm"],
                    ".shipped"),
    **dict.fromkeys(["judge_metrics", "study_table"], ".table"),
    **dict.fromkeys(["load_autoj", "load_critiquellm_pairwise", "load_critiquellm_pointwise",
                     "load_mtbench_human", "mtbench_human_items"], ".user_formats"),
})

__all__ = [
    "BENCHMARK_FAMILY",
    "BENCHMARK_NAMES",
    "HEADLINE",
    "ITEM_COLUMNS",
    "LABELS",
    "LLMBAR_PROCESSED",
    "LLMBAR_SUBSETS",
    "ORDERS",
    "STATUSES",
    "VERDICT_COLUMNS",
    "VERDICT_RULES",
    "check_verdicts",
    "import_llmbar_result",
    "import_pandalm_result",
    "items_frame",
    "judge_metrics",
    "load_autoj",
    "load_benchmark",
    "load_critiquellm_pairwise",
    "load_critiquellm_pointwise",
    "load_llmbar",
    "load_mtbench_human",
    "load_pandalm",
    "majority_label",
    "map_back",
    "mtbench_human_items",
    "published_llmbar_chatgpt",
    "published_pandalm",
    "read_verdict",
    "study_table",
    "verdicts_frame",
]
