"""The run YAML: one file describes one run (dataset, models, judges, statistics, output).

The schema is the dataclasses below; :func:`load_config` checks a file against them and
fails with one error naming the file, the line and the key path (``models[1].sampling``),
before any endpoint is called. A config holds only the *names* of environment variables
for API keys (``api_key_env``), never a key.
"""

from __future__ import annotations

import dataclasses
import difflib
import os
import re
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from alignbench_utils.backends.base import backend_names
from alignbench_utils.backends.settings import BackendSettings
from alignbench_utils.data.layout import RunLayout
from alignbench_utils.errors import InputError
from alignbench_utils.keys import key_env_problem
from alignbench_utils.protocols.base import DEFAULT_PROTOCOL
from alignbench_utils.protocols.pointwise_alignbench import AlignBenchSettings
from alignbench_utils.taxonomy import CATEGORIES

__all__ = [
    "DEFAULT_CONCURRENCY",
    "FIGURE_FORMATS",
    "FIGURE_WIDTHS",
    "LOCAL",
    "REFERENCE",
    "AgreementSpec",
    "ConfigError",
    "DatasetSpec",
    "EndpointSettings",
    "FiguresSpec",
    "JudgeEvalSpec",
    "JudgeSpec",
    "LocalSpec",
    "ModelSpec",
    "OutputSpec",
    "PairwiseSpec",
    "PanelSpec",
    "Price",
    "RunConfig",
    "Sampling",
    "StatisticsSpec",
    "TablesSpec",
    "check_endpoint_settings",
    "load_config",
    "parse_config",
    "parse_spec",
]

LOCAL = "local"  # base_url: start the embedded local model server for this endpoint
REFERENCE = "reference"  # base_url: the reference control (the questions' reference answers)
DEFAULT_CONCURRENCY = 8  # requests in flight per endpoint
FIGURE_WIDTHS = {"column": 3.3, "page": 6.8}  # inches: a paper's column and its text width
FIGURE_FORMATS = ("pdf", "svg", "png")  # files a figure can be written as
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


class ConfigError(InputError):
    """A run YAML that does not fit the schema; ``field`` is the key path."""


@dataclass
class Sampling:
    """Sampling parameters sent with every request."""

    temperature: float | None = None  # None: official per-category temperature (judge: 0)
    max_tokens: int = 2048
    system_prompt: str | None = None
    seed: int | None = 0  # sent to the endpoint for reproducible sampling; null: not sent


@dataclass
class Price:
    """US dollars per million tokens, for cost estimates; ``batch_discount`` is the fraction
    taken off both for requests sent through a Batch API (``backend: batch``; OpenAI: 0.5)."""

    prompt: float = 0.0
    completion: float = 0.0
    batch_discount: float = 0.5


@dataclass(kw_only=True)
class EndpointSettings(BackendSettings):
    """How hard to push an endpoint and when to give up: the one home of these defaults,
    shared by the run YAML (models/judges entries), the CLI flags and ``EndpointConfig``;
    each backend's own settings come from :class:`~alignbench_utils.backends.BackendSettings`
    (one mapping per backend, e.g. ``batch: {poll_s: 10}``)."""

    timeout_s: float = 120.0  # per request; raise it for slow local CPUs or long answers
    max_retries: int = 6  # retries of a failed request (429, 5xx, timeouts, connection errors)
    max_retry_time_s: float = 600.0  # total time one request may spend retrying
    backoff_base_s: float = 0.5  # first backoff; doubles per retry, with jitter
    backoff_max_s: float = 30.0
    max_failures_without_success: int = 10  # stop the stage: the endpoint is down or wrong
    price: Price | None = None
    budget_usd: float | None = None  # stop a stage before this endpoint's spend in the run
    # (from its records, needs ``price``) would exceed it; a rerun with a higher one goes on
    backend: str = "http"  # how requests reach the model: http, or batch (a Batch API)
    # Each backend's own settings are inherited from BackendSettings (batch: {poll_s: ...}).


@dataclass(kw_only=True)
class ModelSpec(EndpointSettings):
    """An answering model: an OpenAI-compatible endpoint, ``local`` or ``reference``."""

    name: str
    base_url: str | list[str]
    model_id: str | None = None
    api_key_env: str | None = None
    sampling: Sampling = field(default_factory=Sampling)
    family: str | None = None  # model family (e.g. qwen): a judge of a model's own family is
    # checked for self-preference (alignbench_utils.analysis.judge_reliability)


@dataclass(kw_only=True)
class JudgeSpec(ModelSpec):
    """A judge: an endpoint plus how its output is constrained and which prompt it gets."""

    structured: Literal["none", "json_schema", "grammar"] = AlignBenchSettings.structured
    max_reasks: int = 1  # re-asks of an unparseable judgment (a follow-up format reminder)
    template: str | None = None  # path of a prompt template; None: the protocol's own
    protocol: str = DEFAULT_PROTOCOL  # a pointwise judging protocol (alignbench_utils.protocols)
    samples: int = 1  # judgments per answer (repeated judgments; sample i sent with seed + i)

    @property
    def key(self) -> tuple[str, str]:
        """What tells two judge entries apart: the endpoint name and the protocol (one judge
        may judge under several protocols)."""
        return self.name, self.protocol


@dataclass
class DatasetSpec:
    """Which questions: a shipped release or a JSONL path, optionally a stratified subset."""

    source: str = "v1.1"
    categories: list[str] | None = None
    per_category: int | None = None
    seed: int = 0


@dataclass
class StatisticsSpec:
    """Settings of the resampling statistics in notebooks 04 and 05."""

    n_boot: int = 2000
    level: float = 0.95
    correction: Literal["holm", "bonferroni", "fdr_bh", "fdr_by", "sidak", "hommel"] = "holm"
    seed: int = 0
    sample_reduce: Literal["mean", "median"] = "mean"  # a judge's repeated samples → its
    # score of an item in every table (alignbench_utils.analysis.panels)


@dataclass
class FiguresSpec:
    """Print size and files of every figure: ``column`` (3.3 in) or ``page`` (6.8 in) wide
    (:data:`FIGURE_WIDTHS`), text at least 7 pt at that size; any of :data:`FIGURE_FORMATS`."""

    width: Literal["column", "page"] = "page"
    formats: list[str] = field(default_factory=lambda: ["pdf", "svg", "png"])


@dataclass
class TablesSpec:
    """The paper tables (CSV, Markdown, LaTeX): English column names, decimals."""

    english: bool = False  # 总分 → Overall, 数学计算 → Math, ...
    decimals: int = 2


@dataclass
class AgreementSpec:
    """Inputs of the agreement notebook: human labels and/or a second judge."""

    human_labels: str | None = None  # CSV/JSONL of human scores or pairwise labels
    second_judge: str | None = None  # a judge name; default: the second judge listed


@dataclass
class JudgeEvalSpec:
    """The judge meta-evaluation (notebook 07): judges against human labels on pairwise
    benchmarks, under one pairwise protocol (``alignbench_utils.stages.judge_eval``)."""

    benchmarks: list[str]  # e.g. llmbar:Natural, llmbar, pandalm, autoj:PATH, critiquellm:PATH
    protocol: str = "llmbar-vanilla-norules"  # a pairwise protocol (alignbench_utils.protocols)
    judges: list[str] = field(default_factory=list)  # run judges by name; [] (and no
    # extra_judges): every judge of the run
    extra_judges: list[JudgeSpec] = field(default_factory=list)  # judges evaluated only here
    template: str | None = None  # prompt template of the autoj / critiquellm protocols
    orders: Literal["both", "single"] | None = None  # null: the protocol's swap policy
    logit_bias_model: str | None = None  # send the official logit bias for this OpenAI model
    per_subset: int | None = None  # a seeded sample of items per benchmark subset; null: all
    seed: int = 0  # seed of per_subset
    published: bool = True  # put published judges (LLMBar's ChatGPT, PandaLM's) in the table


@dataclass
class PairwiseSpec:
    """The pairwise leaderboard (notebook 08): every other model's answers judged against the
    baseline's, in both orders, with the reference answer in the prompt."""

    baseline: str  # a model of the run, e.g. the reference control or a strong model
    protocol: str = "alignbench-pairwise"  # a pairwise protocol (alignbench_utils.protocols)
    judge: str | None = None  # a judge of the run by name; null: the first judge listed
    inconsistent: Literal["tie", "drop", "half"] = "tie"  # two orders that disagree (MT-Bench: tie)
    orders: Literal["both", "single"] | None = None  # null: the protocol's swap policy


@dataclass
class PanelSpec:
    """A judge panel: a virtual judge whose score of an item is the reduction of its
    members' scores (each member's reduction over its samples; ``alignbench_utils.analysis.panels``).
    ``majority`` takes the score most members gave (their rounded scores)."""

    name: str
    judges: list[str]
    reduce: Literal["mean", "median", "majority"] = "mean"


@dataclass
class LocalSpec:
    """The embedded local model server used wherever ``base_url: local``."""

    model: str = "0.5b"
    parallel: int = 4
    ctx: int = 16384


@dataclass
class OutputSpec:
    """Where the run's data and its HTML report go (default runs/<name>, reports/<name>)."""

    run_dir: str | None = None
    report_dir: str | None = None


@dataclass
class RunConfig:
    """One run, as validated from its YAML file."""

    name: str
    models: list[ModelSpec]
    judges: list[JudgeSpec]
    dataset: DatasetSpec = field(default_factory=DatasetSpec)
    concurrency: int = DEFAULT_CONCURRENCY
    statistics: StatisticsSpec = field(default_factory=StatisticsSpec)
    figures: FiguresSpec = field(default_factory=FiguresSpec)
    tables: TablesSpec = field(default_factory=TablesSpec)
    agreement: AgreementSpec = field(default_factory=AgreementSpec)
    local: LocalSpec = field(default_factory=LocalSpec)
    output: OutputSpec = field(default_factory=OutputSpec)
    judge_eval: JudgeEvalSpec | None = None
    pairwise: PairwiseSpec | None = None
    panels: list[PanelSpec] = field(default_factory=list)
    source_path: str | None = field(default=None, metadata={"internal": True})

    @property
    def run_dir(self) -> Path:
        """Absolute folder of the run's records, results, figures and notebooks."""
        return Path(self.output.run_dir or Path("runs") / self.name).resolve()

    @property
    def layout(self) -> RunLayout:
        """Every path and file name of the run's folder."""
        return RunLayout(self.run_dir)

    @property
    def report_dir(self) -> Path:
        """Absolute folder of the HTML report."""
        return Path(self.output.report_dir or Path("reports") / self.name).resolve()

    @property
    def uses_local(self) -> bool:
        """Whether any model or judge needs the embedded local server."""
        return any(spec.base_url == LOCAL
                   for spec in [*self.models, *self.judges, *self.judge_eval_judges])

    @property
    def judge_eval_judges(self) -> list[JudgeSpec]:
        """The judges of the judge meta-evaluation: the run's judges it names (all of them
        when it names none and adds none), then its own."""
        spec = self.judge_eval
        if spec is None:
            return []
        by_name: dict[str, JudgeSpec] = {}
        for judge in self.judges:  # one entry per endpoint (a judge under two protocols)
            by_name.setdefault(judge.name, judge)
        if not spec.judges and not spec.extra_judges:
            return list(by_name.values())
        return [by_name[name] for name in spec.judges] + list(spec.extra_judges)

    def judge_identity(self, spec: JudgeSpec) -> str:
        """How the analyses name a judge entry: its name, or ``name/protocol`` when the name
        is listed under several protocols (as ``aggregate.judgments_frame`` names them)."""
        several = sum(j.name == spec.name for j in self.judges) > 1
        return f"{spec.name}/{spec.protocol}" if several else spec.name

    @property
    def primary_judge(self) -> str:
        """The judge whose scores make the leaderboard: the first one listed."""
        return self.judge_identity(self.judges[0])

    @property
    def pairwise_judge(self) -> JudgeSpec | None:
        """The judge of the pairwise leaderboard: the one ``pairwise.judge`` names, else the
        primary judge; None without a ``pairwise:`` section."""
        if self.pairwise is None:
            return None
        name = self.pairwise.judge or self.judges[0].name
        return next(j for j in self.judges if j.name == name)

    @property
    def second_judge(self) -> str | None:
        """The judge compared with the primary one in agreement and error analysis."""
        if self.agreement.second_judge:
            return self.agreement.second_judge
        return self.judge_identity(self.judges[1]) if len(self.judges) > 1 else None

    def to_dict(self) -> dict[str, Any]:
        """Plain data (for notebook parameters and the report), without internal fields."""
        data = dataclasses.asdict(self)
        data.pop("source_path")
        return data


# ---------------------------------------------------------------- generic validation


def _line_map(node: yaml.Node, path: tuple = (), out: dict | None = None) -> dict[tuple, int]:
    """Key path → 1-based line, from the YAML composer's marks."""
    out = {} if out is None else out
    out.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            child = (*path, key.value)
            out[child] = key.start_mark.line + 1
            _line_map(value, child, out)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _line_map(item, (*path, index), out)
    return out


def _format_path(path: tuple) -> str:
    """``('models', 0, 'name')`` → ``'models[0].name'``.

    >>> _format_path(("models", 0, "sampling", "temperature"))
    'models[0].sampling.temperature'
    """
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _type_name(hint: Any) -> str:
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_type_name(arg) for arg in typing.get_args(hint))
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in typing.get_args(hint))
    if origin is list:
        return f"list of {_type_name(typing.get_args(hint)[0])}"
    if dataclasses.is_dataclass(hint):
        return "mapping"
    return "null" if hint is type(None) else hint.__name__


class _Checker:
    """Walks a loaded YAML value against a dataclass schema, raising located errors."""

    def __init__(self, file: str | None, lines: dict[tuple, int]) -> None:
        self.file, self.lines = file, lines

    def fail(self, path: tuple, message: str) -> typing.NoReturn:
        probe = path
        while probe and probe not in self.lines:
            probe = probe[:-1]
        raise ConfigError(message, path=self.file, line=self.lines.get(probe),
                          field=_format_path(path) or None)

    def check(self, value: Any, hint: Any, path: tuple) -> Any:
        origin = typing.get_origin(hint)
        if origin in (typing.Union, types.UnionType):
            optional = [a for a in typing.get_args(hint) if a is not type(None)]
            if value is not None and len(optional) == 1 and dataclasses.is_dataclass(optional[0]):
                return self.check(value, optional[0], path)  # an optional section: its errors
            for arg in typing.get_args(hint):
                try:
                    return self.check(value, arg, path)
                except ConfigError:
                    continue
            self.fail(path, f"expected {_type_name(hint)}, got {_describe(value)}")
        if origin is Literal:
            if value not in typing.get_args(hint):
                self.fail(path, f"expected {_type_name(hint)}, got {_describe(value)}")
            return value
        if origin is list:
            if not isinstance(value, list):
                self.fail(path, f"expected {_type_name(hint)}, got {_describe(value)}")
            item = typing.get_args(hint)[0]
            return [self.check(v, item, (*path, i)) for i, v in enumerate(value)]
        if dataclasses.is_dataclass(hint):
            return self.record(value, hint, path)
        if hint is type(None):
            if value is not None:
                self.fail(path, f"expected null, got {_describe(value)}")
            return None
        if hint is float and isinstance(value, int) and not isinstance(value, bool):
            return float(value)
        if not isinstance(value, hint) or (hint is int and isinstance(value, bool)):
            self.fail(path, f"expected {_type_name(hint)}, got {_describe(value)}")
        return value

    def record(self, value: Any, cls: type, path: tuple) -> Any:
        if not isinstance(value, dict):
            self.fail(path, f"expected a mapping, got {_describe(value)}")
        hints = typing.get_type_hints(cls)
        fields = {f.name: f for f in dataclasses.fields(cls) if not f.metadata.get("internal")}
        for key in value:
            if key not in fields:
                close = difflib.get_close_matches(str(key), list(fields), n=1)
                hint = f"; did you mean {close[0]!r}?" if close else ""
                self.fail((*path, key), f"unknown key {key!r} (allowed: {', '.join(fields)}){hint}")
        kwargs = {}
        for name, spec in fields.items():
            if name in value:
                kwargs[name] = self.check(value[name], hints[name], (*path, name))
            elif (spec.default is dataclasses.MISSING
                  and spec.default_factory is dataclasses.MISSING):
                self.fail(path, f"missing required key {name!r}")
        return cls(**kwargs)


def _describe(value: Any) -> str:
    if value is None:
        return "null"
    return f"{type(value).__name__} {value!r:.40}"


# ---------------------------------------------------------------- semantic checks


def _check_endpoint(checker: _Checker, spec: ModelSpec, path: tuple, *, judge: bool,
                    check_env: bool) -> None:
    urls = spec.base_url if isinstance(spec.base_url, list) else [spec.base_url]
    if not urls:
        checker.fail((*path, "base_url"), "needs at least one URL")
    special = [u for u in urls if u in (LOCAL, REFERENCE)]
    if special and len(urls) > 1:
        checker.fail((*path, "base_url"), f"{special[0]!r} cannot be mixed with URLs")
    if judge and urls == [REFERENCE]:
        checker.fail((*path, "base_url"), "a judge cannot be the reference control")
    for url in urls:
        if url not in (LOCAL, REFERENCE) and not re.match(r"^https?://", url):
            checker.fail((*path, "base_url"),
                         f"expected an http(s):// URL, 'local' or 'reference', got {url!r}")
    if not _NAME.match(spec.name):
        checker.fail((*path, "name"), f"{spec.name!r} is not usable as a file name "
                                      "(letters, digits, '.', '_', '-')")
    problem = (key_env_problem(spec.api_key_env, require_set=check_env)
               if spec.api_key_env is not None else None)
    if problem:
        checker.fail((*path, "api_key_env"), problem)
    if urls[0] not in (LOCAL, REFERENCE) and not spec.model_id:
        checker.fail((*path, "model_id"), "required for a remote endpoint")
    for name in ("timeout_s", "max_retry_time_s", "backoff_base_s", "backoff_max_s"):
        if getattr(spec, name) <= 0:
            checker.fail((*path, name), "must be > 0 seconds")
    _check_backend_and_cost(checker, spec, path, urls)
    for name in ("max_retries", "max_failures_without_success"):
        if getattr(spec, name) < 0:
            checker.fail((*path, name), "must be >= 0")
    if spec.sampling.max_tokens < 1:
        checker.fail((*path, "sampling", "max_tokens"), "must be >= 1")
    if judge and isinstance(spec, JudgeSpec) and spec.max_reasks < 0:
        checker.fail((*path, "max_reasks"), "must be >= 0")
    if judge and isinstance(spec, JudgeSpec) and spec.samples < 1:
        checker.fail((*path, "samples"), "must be >= 1")
    if judge and isinstance(spec, JudgeSpec) and spec.samples > 1 and spec.sampling.seed is None:
        checker.fail((*path, "sampling", "seed"), "repeated judgments (samples > 1) need a "
                                                  "seed: sample i is sent with seed + i")
    if judge and spec.sampling.temperature not in (None, 0):
        checker.fail((*path, "sampling", "temperature"),
                     "the official judge runs at temperature 0 (null or 0)")
    if judge and spec.sampling.system_prompt is not None:
        checker.fail((*path, "sampling", "system_prompt"),
                     "the official judge gets a single user message; leave it null")


def _check_backend_and_cost(checker: _Checker, spec: ModelSpec, path: tuple,
                            urls: list[str]) -> None:
    """The backend exists and fits the URL; backend settings, price and budget make sense."""
    if spec.backend not in backend_names():
        checker.fail((*path, "backend"), f"unknown backend {spec.backend!r}; allowed: "
                                         f"{', '.join(backend_names())}")
    if (spec.backend == REFERENCE) != (urls == [REFERENCE]) and spec.backend != "http":
        checker.fail((*path, "backend"), "the reference backend goes with base_url 'reference'")
    if spec.backend == "batch" and (len(urls) != 1 or urls[0] in (LOCAL, REFERENCE)):
        checker.fail((*path, "backend"), "a batch endpoint is one remote base_url (a provider "
                                         "with the /v1/files and /v1/batches API)")
    for backend in dataclasses.fields(BackendSettings):
        for option, problem in getattr(spec, backend.name).problems():
            checker.fail((*path, backend.name, option), problem)
    for name in ("prompt", "completion"):
        if spec.price is not None and getattr(spec.price, name) < 0:
            checker.fail((*path, "price", name), "must be >= 0 US dollars per million tokens")
    if spec.price is not None and not 0 <= spec.price.batch_discount < 1:
        checker.fail((*path, "price", "batch_discount"), "must be in [0, 1), e.g. 0.5")
    if spec.budget_usd is not None:
        if spec.budget_usd <= 0:
            checker.fail((*path, "budget_usd"), "must be > 0 US dollars")
        if spec.price is None:
            checker.fail((*path, "budget_usd"), "needs a price table (price: {prompt, "
                                                "completion}) to count what is spent")


def _check_protocol(checker: _Checker, spec: JudgeSpec, path: tuple) -> None:
    """A judge's protocol is a registered pointwise one (older names are read as their
    current one) and takes the options the entry sets."""
    from alignbench_utils.protocols import PROTOCOLS, canonical_protocol

    spec.protocol = canonical_protocol(spec.protocol)
    pointwise = sorted(n for n, c in PROTOCOLS.items() if c.kind == "pointwise")
    cls = PROTOCOLS.get(spec.protocol)
    if cls is None or cls.kind != "pointwise":
        what = ("is pairwise: use it under judge_eval or pairwise" if cls is not None
                else "is not a judging protocol")
        checker.fail((*path, "protocol"), f"{spec.protocol!r} {what}; pointwise protocols: "
                                          f"{', '.join(pointwise)}")
    options = {f.name for f in dataclasses.fields(cls.settings_class)}
    for name in ("structured", "template"):
        if getattr(spec, name) != getattr(JudgeSpec, name) and name not in options:
            checker.fail((*path, name), f"protocol {spec.protocol} takes no {name} option "
                                        f"(its options: {', '.join(sorted(options))})")


def _check_run(checker: _Checker, cfg: RunConfig, *, check_env: bool) -> None:
    if not _NAME.match(cfg.name):
        checker.fail(("name",), f"{cfg.name!r} is not usable as a folder name")
    for key, specs in (("models", cfg.models), ("judges", cfg.judges)):
        if not specs:
            checker.fail((key,), "needs at least one entry")
        seen: set[Any] = set()
        for index, spec in enumerate(specs):
            if key == "judges":
                _check_protocol(checker, spec, (key, index))  # type: ignore[arg-type]
            entry = spec.key if isinstance(spec, JudgeSpec) else spec.name
            if entry in seen:
                checker.fail((key, index, "name"), f"duplicate name {spec.name!r}"
                             + (f" under protocol {spec.protocol}"
                                if isinstance(spec, JudgeSpec) else ""))
            seen.add(entry)
            _check_endpoint(checker, spec, (key, index), judge=key == "judges",
                            check_env=check_env)
    from alignbench_utils.data.questions import source_problem

    problem = source_problem(cfg.dataset.source)
    if problem:
        checker.fail(("dataset", "source"), problem)
    unknown = [c for c in cfg.dataset.categories or [] if c not in CATEGORIES]
    if unknown:
        checker.fail(("dataset", "categories"),
                     f"unknown categories {unknown}; allowed: {', '.join(CATEGORIES)}")
    if cfg.dataset.per_category is not None and cfg.dataset.per_category < 1:
        checker.fail(("dataset", "per_category"), "must be >= 1 (or null for all questions)")
    if cfg.concurrency < 1:
        checker.fail(("concurrency",), "must be >= 1")
    if cfg.statistics.n_boot < 1:
        checker.fail(("statistics", "n_boot"), "must be >= 1")
    if not 0 < cfg.statistics.level < 1:
        checker.fail(("statistics", "level"), "must be between 0 and 1, e.g. 0.95")
    _check_outputs(checker, cfg)
    judges = list(dict.fromkeys([j.name for j in cfg.judges]
                                + [cfg.judge_identity(j) for j in cfg.judges]))
    second = cfg.agreement.second_judge
    if second is not None and second not in judges:
        checker.fail(("agreement", "second_judge"), f"{second!r} is not one of the judges {judges}")


def _check_panels(checker: _Checker, cfg: RunConfig) -> None:
    """Each panel has a fresh name and two or more distinct judges of the run."""
    judges = [j.name for j in cfg.judges]
    seen = set(judges)
    for index, panel in enumerate(cfg.panels):
        path = ("panels", index)
        if not _NAME.match(panel.name):
            checker.fail((*path, "name"), f"{panel.name!r} is not usable as a file name "
                                          "(letters, digits, '.', '_', '-')")
        if panel.name in seen:
            checker.fail((*path, "name"), f"duplicate name {panel.name!r} (judges and panels "
                                          "share one namespace)")
        seen.add(panel.name)
        for member, name in enumerate(panel.judges):
            if name not in judges:
                checker.fail((*path, "judges", member),
                             f"{name!r} is not one of the judges {judges}")
        if len(set(panel.judges)) < 2 or len(set(panel.judges)) != len(panel.judges):
            checker.fail((*path, "judges"), "needs two or more distinct judges")


def _check_outputs(checker: _Checker, cfg: RunConfig) -> None:
    formats = cfg.figures.formats
    if not formats:
        checker.fail(("figures", "formats"), f"needs at least one of {', '.join(FIGURE_FORMATS)}")
    for index, fmt in enumerate(formats):
        if fmt not in FIGURE_FORMATS:
            checker.fail(("figures", "formats", index),
                         f"unknown format {fmt!r}; allowed: {', '.join(FIGURE_FORMATS)}")
    if not 0 <= cfg.tables.decimals <= 6:
        checker.fail(("tables", "decimals"), "must be between 0 and 6")


def _check_pairwise(checker: _Checker, cfg: RunConfig) -> None:
    spec = cfg.pairwise
    assert spec is not None
    models, judges = [m.name for m in cfg.models], [j.name for j in cfg.judges]
    if spec.baseline not in models:
        checker.fail(("pairwise", "baseline"),
                     f"{spec.baseline!r} is not one of the models {models}")
    if len(models) < 2:
        checker.fail(("pairwise",), "needs at least two models (the baseline and another)")
    if spec.judge is not None and spec.judge not in judges:
        checker.fail(("pairwise", "judge"), f"{spec.judge!r} is not one of the judges {judges}")
    if _reads_template(checker, spec.protocol, ("pairwise", "protocol")):
        checker.fail(("pairwise", "protocol"), f"protocol {spec.protocol} needs the user's "
                                               "template, which the pairwise leaderboard does "
                                               "not take; pick one with its own prompt")


def _reads_template(checker: _Checker, name: str, path: tuple) -> bool:
    """Whether the pairwise protocol ``name`` reads the user's template; a name that is not a
    registered pairwise protocol fails at ``path``."""
    from alignbench_utils.protocols import PROTOCOLS
    from alignbench_utils.protocols.base import canonical_protocol

    pairwise = sorted(n for n, c in PROTOCOLS.items() if c.kind == "pairwise")
    canonical = canonical_protocol(name)
    if canonical not in pairwise:
        kind = f" ({name} is {PROTOCOLS[canonical].kind})" if canonical in PROTOCOLS else ""
        checker.fail(path, f"unknown pairwise protocol {name!r}{kind}; allowed: "
                           f"{', '.join(pairwise)}")
    return bool(PROTOCOLS[canonical].settings.template.get("user"))


def _check_human_labels(checker: _Checker, cfg: RunConfig) -> None:
    """The human labels file exists, has the columns of scores or pairwise labels, and some
    of its rows are about the run's models and questions of its question set (else notebook
    05 fails late). The whole set, not the configured subset: the judgments on disk may come
    from an earlier subset of it."""
    from alignbench_utils.data.human_labels import check_labels_match, read_human_labels
    from alignbench_utils.data.questions import question_rows

    path = ("agreement", "human_labels")
    try:
        labels = read_human_labels(cfg.agreement.human_labels or "")
        questions = question_rows(cfg.dataset.source)
        check_labels_match(labels, [q["question_id"] for q in questions],
                           [m.name for m in cfg.models])
    except InputError as exc:
        checker.fail(path, str(exc))


def _check_judge_eval(checker: _Checker, cfg: RunConfig, *, check_env: bool) -> None:
    from alignbench_utils.judgebench.loaders import benchmark_problem

    spec, path = cfg.judge_eval, ("judge_eval",)
    assert spec is not None
    if not spec.benchmarks:
        checker.fail((*path, "benchmarks"), "needs at least one benchmark, e.g. llmbar:Natural")
    for index, name in enumerate(spec.benchmarks):
        problem = benchmark_problem(name)
        if problem:
            checker.fail((*path, "benchmarks", index), problem)
    reads_template = _reads_template(checker, spec.protocol, (*path, "protocol"))
    if reads_template != (spec.template is not None):
        checker.fail((*path, "template"), f"protocol {spec.protocol} needs a template file"
                     if reads_template else f"protocol {spec.protocol} sends its official "
                     "prompt; leave template null")
    names = [j.name for j in cfg.judges]
    for index, name in enumerate(spec.judges):
        if name not in names:
            checker.fail((*path, "judges", index), f"{name!r} is not one of the judges {names}")
    for index, judge in enumerate(spec.extra_judges):
        where = (*path, "extra_judges", index)
        if judge.name in names:
            checker.fail((*where, "name"), f"duplicate name {judge.name!r} (a run judge: list "
                                           "it under judge_eval.judges)")
        names.append(judge.name)
        _check_endpoint(checker, judge, where, judge=True, check_env=check_env)
    if spec.per_subset is not None and spec.per_subset < 1:
        checker.fail((*path, "per_subset"), "must be >= 1 (or null for all items)")


def check_endpoint_settings(spec: ModelSpec, *, judge: bool) -> None:
    """The checks a ``models``/``judges`` entry of the YAML gets, for an endpoint built
    elsewhere (the CLI's flags): a :class:`ConfigError` whose ``field`` is the key path.

    >>> check_endpoint_settings(ModelSpec(name="m", base_url="http://h/v1", model_id="x",
    ...                                   price=Price(-1.0, 2.0)), judge=False)
    Traceback (most recent call last):
    ...
    alignbench_utils.config.ConfigError: field 'price.prompt': must be >= 0 US dollars per million tokens
    """
    _check_endpoint(_Checker(None, {}), spec, (), judge=judge, check_env=False)


def parse_spec(cls: type, data: Any, *, where: str) -> Any:
    """One ``models``/``judges`` entry (a dict, e.g. a notebook parameter) as its dataclass,
    with every default from its one home here; errors name ``where`` and the key path.

    >>> parse_spec(JudgeSpec, {"name": "j", "base_url": "http://h/v1"}, where="judges[0]").max_reasks
    1
    """
    checker = _Checker(None, {})
    try:
        return checker.record(data, cls, ())
    except ConfigError as exc:
        raise ConfigError(exc.reason, field=f"{where}.{exc.field}" if exc.field else where) \
            from None


def parse_config(data: Any, *, file: str | None = None, lines: dict[tuple, int] | None = None,
                 check_env: bool = False) -> RunConfig:
    """Validate already-loaded YAML data (a dict) into a :class:`RunConfig`.

    ``check_env`` also requires every ``api_key_env`` variable to be set (before a run).

    >>> cfg = parse_config({"name": "t", "models": [{"name": "ref", "base_url": "reference"}],
    ...                     "judges": [{"name": "j", "base_url": "local"}]})
    >>> cfg.judges[0].structured, cfg.uses_local, cfg.dataset.source
    ('none', True, 'v1.1')
    >>> parse_config({"name": "t", "models": [], "judges": [], "judge": {}})
    Traceback (most recent call last):
    ...
    alignbench_utils.config.ConfigError: field 'judge': unknown key 'judge' (allowed: name, models, judges, dataset, concurrency, statistics, figures, tables, agreement, local, output, judge_eval, pairwise, panels); did you mean 'judges'?
    """
    checker = _Checker(file, lines or {})
    cfg = checker.record(data, RunConfig, ())
    _check_run(checker, cfg, check_env=check_env)
    if cfg.judge_eval is not None:
        _check_judge_eval(checker, cfg, check_env=check_env)
    if cfg.pairwise is not None:
        _check_pairwise(checker, cfg)
    if cfg.agreement.human_labels:
        _check_human_labels(checker, cfg)
    _check_panels(checker, cfg)
    cfg.source_path = file
    return cfg


def load_config(path: str | os.PathLike, *, check_env: bool = False) -> RunConfig:
    """Read and validate a run YAML; errors name the file, line and key path. ``check_env``
    (set by ``alignbench run``) also requires every ``api_key_env`` variable to be set."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError("no such run config file", path=path)
    text = path.read_text(encoding="utf-8")
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise ConfigError(f"not valid YAML: {getattr(exc, 'problem', exc)}", path=path,
                          line=mark.line + 1 if mark else None) from None
    if node is None:
        raise ConfigError("file is empty", path=path)
    return parse_config(data, file=str(path), lines=_line_map(node), check_env=check_env)

