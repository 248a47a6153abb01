"""The ``alignbench`` command line: one function per subcommand, ``main(argv) -> int``.

Exit codes: 0 success; 2 bad input (an :class:`InputError`, message on stderr); 1 when
nothing could be done (every item tried failed, or a :class:`RunError`: a local model that
fails its checks, a server that dies, a key found in an output). API keys are read only from the
environment variable named by ``--api-key-env`` and never printed.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import logging
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from alignbench_utils.backends.settings import BackendSettings
from alignbench_utils.data.store import request_hash
from alignbench_utils.errors import InputError, RunError

if TYPE_CHECKING:  # the heavy modules load only when a subcommand runs
    from alignbench_utils.running.client import EndpointConfig
    from alignbench_utils.running.engine import RunSummary

__all__ = [
    "INTERRUPTED",
    "build_parser",
    "cmd_estimate",
    "cmd_generate",
    "cmd_import",
    "cmd_judge",
    "cmd_judge_eval",
    "cmd_notebook",
    "cmd_report",
    "cmd_run",
    "cmd_serve_local",
    "cmd_setup_local",
    "main",
    "os_problem",
]


# Backends with settings of their own (backends.BackendSettings): one flag group each.
_BACKEND_SETTINGS = tuple(f.name for f in dataclasses.fields(BackendSettings))


def _add_endpoint_args(p: argparse.ArgumentParser, *, required: bool) -> None:
    """Endpoint flags: where, which model, and every :class:`EndpointSettings` field (their
    defaults live there, shared with the run YAML)."""
    from alignbench_utils.config import DEFAULT_CONCURRENCY, EndpointSettings, Sampling

    p.add_argument("--base-url", action="append", default=[], dest="base_urls",
                   help="OpenAI-compatible base URL; repeat for a pool of replicas")
    p.add_argument("--model-id", required=required, default="",
                   help="model id sent to the endpoint")
    p.add_argument("--api-key-env", default=None,
                   help="name of the environment variable holding the API key")
    p.add_argument("--concurrency", type=_at_least(1), default=DEFAULT_CONCURRENCY)
    for f in dataclasses.fields(EndpointSettings):
        if f.name == "price":
            continue
        if f.name in _BACKEND_SETTINGS:  # a backend's own: --<backend>-<option>
            for option in dataclasses.fields(f.default_factory()):  # type: ignore[misc]
                p.add_argument(f"--{f.name}-{option.name.replace('_', '-')}",
                               dest=f"{f.name}.{option.name}", type=type(option.default),
                               default=option.default,
                               help=f"{f.name} backend; default {option.default}")
            continue
        flag = "--timeout" if f.name == "timeout_s" else "--" + f.name.replace("_", "-")
        kind = float if f.default is None else type(f.default)  # None: budget_usd, unset
        p.add_argument(flag, dest=f.name, type=kind, default=f.default,
                       help=f"default {f.default}")
    p.add_argument("--price", nargs="+", type=float, default=None,
                   metavar="PRICE", help="US$ per million tokens: PROMPT COMPLETION "
                                         "[BATCH_DISCOUNT], for costs and --budget-usd")
    p.add_argument("--max-tokens", type=int, default=Sampling.max_tokens)
    p.add_argument("--sampling-seed", type=int, default=Sampling.seed,
                   help="seed sent with every request for reproducible sampling; -1: send none")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def _flag(field: str | None, name_flag: str) -> str:
    """The CLI option of an endpoint setting's key path (``sampling.max_tokens`` →
    ``--max-tokens``, ``timeout_s`` → ``--timeout``, ``name`` → the command's name option).

    >>> _flag("sampling.max_tokens", "--model"), _flag("timeout_s", "--judge"), _flag("name", "--judge")
    ('--max-tokens', '--timeout', '--judge')
    >>> _flag("price.batch_discount", "--model"), _flag("base_url", "--model")
    ('--price', '--base-url')
    """
    key = (field or "").split(".")[-1] if not (field or "").startswith("price") else "price"
    if key == "name":
        return name_flag
    return "--timeout" if key == "timeout_s" else "--" + key.replace("_", "-")


def _at_least(low: int) -> Callable[[str], int]:
    """An argparse ``type``: an integer >= ``low``, as the YAML twin of the option requires
    (argparse then exits 2 naming the option).

    >>> _at_least(1)("3")
    3
    >>> _at_least(1)("-2")
    Traceback (most recent call last):
    ...
    argparse.ArgumentTypeError: must be >= 1, got -2
    """
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"must be >= {low}, got {value}")
        return value

    parse.__name__ = f"integer >= {low}"
    return parse


def _endpoint(args: argparse.Namespace, name: str, *, judge: bool = False,
              name_flag: str = "--model") -> EndpointConfig:
    """The endpoint the flags describe, checked like a YAML ``models``/``judges`` entry (an
    error names the option)."""
    from alignbench_utils.config import (
        ConfigError,
        EndpointSettings,
        ModelSpec,
        Price,
        Sampling,
        check_endpoint_settings,
    )
    from alignbench_utils.running.client import EndpointConfig

    if not args.base_urls:
        raise InputError("--base-url is required", field="base_url")
    settings = {f.name: getattr(args, f.name) for f in dataclasses.fields(EndpointSettings)
                if f.name != "price" and f.name not in _BACKEND_SETTINGS}
    for backend in _BACKEND_SETTINGS:
        options = {k.partition(".")[2]: v for k, v in vars(args).items()
                   if k.startswith(backend + ".")}
        settings[backend] = next(f.default_factory for f in dataclasses.fields(BackendSettings)
                                 if f.name == backend)(**options)
    if args.price is not None and len(args.price) not in (2, 3):
        raise InputError("--price takes PROMPT COMPLETION [BATCH_DISCOUNT]", field="price")
    price = Price(*args.price) if args.price else None
    try:
        check_endpoint_settings(ModelSpec(
            name=name, base_url=args.base_urls, model_id=args.model_id or None,
            api_key_env=args.api_key_env, price=price, **settings,
            sampling=Sampling(max_tokens=args.max_tokens if args.max_tokens is not None
                              else Sampling.max_tokens)), judge=judge)
    except ConfigError as exc:
        raise InputError(exc.reason, field=_flag(exc.field, name_flag)) from None
    return EndpointConfig(name=name, base_urls=args.base_urls, model_id=args.model_id,
                          api_key_env=args.api_key_env, concurrency=args.concurrency,
                          price=price, **settings)


def _sampling_seed(args: argparse.Namespace) -> int | None:
    return None if args.sampling_seed < 0 else args.sampling_seed


def _writer_lock(out: str | Path) -> contextlib.AbstractContextManager[Path]:
    """The lock of the run folder ``out`` lies in (else of ``out``): one writer at a time."""
    from alignbench_utils.data.layout import run_root
    from alignbench_utils.running.runlock import run_lock

    return run_lock(run_root(out) or Path(out))


def _finish(summary: RunSummary) -> int:
    print(summary.one_line(), flush=True)
    return 1 if summary.nothing_done else 0


def add_generate(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("generate", help="answer questions with a model (writes OUT/<MODEL>.jsonl)")
    p.add_argument("--questions", default="v1.1",
                   help="v1.0, v1.1, a JSONL path or a Hugging Face dataset name")
    p.add_argument("--model", required=True,
                   help="the model's name in this run; 'reference' = reference-answer control")
    p.add_argument("--out", required=True, help="answers folder")
    p.add_argument("--per-category", type=_at_least(1), default=None)
    p.add_argument("--seed", type=int, default=0, help="seed of the --per-category subset")
    p.add_argument("--system-prompt", default=None)
    p.add_argument("--temperature", type=float, default=None,
                   help="override the official per-category temperature")
    _add_endpoint_args(p, required=False)
    p.set_defaults(func=cmd_generate)


def cmd_generate(args: argparse.Namespace) -> int:
    from alignbench_utils.config import REFERENCE
    from alignbench_utils.data.questions import question_rows
    from alignbench_utils.running.client import EndpointConfig
    from alignbench_utils.stages.generate import run_generation

    endpoint = (EndpointConfig.reference(args.model) if args.model == REFERENCE
                else _endpoint(args, args.model, name_flag="--model"))
    questions = question_rows(args.questions, per_category=args.per_category, seed=args.seed)
    with _writer_lock(args.out):
        summary = run_generation(questions, endpoint, Path(args.out) / f"{args.model}.jsonl",
                                 max_tokens=args.max_tokens, temperature=args.temperature,
                                 system_prompt=args.system_prompt, seed=_sampling_seed(args),
                                 progress=not args.no_progress)
    return _finish(summary)


def add_judge(sub: argparse._SubParsersAction) -> None:
    from alignbench_utils.config import JudgeSpec
    from alignbench_utils.protocols import DEFAULT_PROTOCOL

    p = sub.add_parser("judge", help="judge answers (writes OUT/<JUDGE>/<model>.jsonl; under "
                                     "another protocol than the official one "
                                     "OUT/<JUDGE>/<PROTOCOL>/<model>.jsonl)")
    p.add_argument("--answers", required=True,
                   help="answer JSONL file or folder of them (this package's or official files)")
    p.add_argument("--questions", default="v1.1",
                   help="question set that supplies fields official answer files lack")
    p.add_argument("--judge", required=True, help="the judge's name in this run")
    p.add_argument("--out", required=True, help="judgments folder")
    p.add_argument("--structured", choices=("none", "json_schema", "grammar"), default="none")
    p.add_argument("--max-reasks", type=_at_least(0), default=JudgeSpec.max_reasks)
    p.add_argument("--protocol", default=DEFAULT_PROTOCOL,
                   help="pointwise judging protocol: alignbench-pointwise (official) or "
                        "mtbench-single (MT-Bench single-answer grading)")
    p.add_argument("--template", default=None, help="judge prompt template file")
    p.add_argument("--samples", type=int, default=JudgeSpec.samples,
                   help="judge each answer this many times (repeated judgments; sample i is "
                        "sent with the sampling seed + i)")
    _add_endpoint_args(p, required=True)
    p.set_defaults(func=cmd_judge)


def cmd_judge(args: argparse.Namespace) -> int:
    from alignbench_utils.data.layout import judge_folder
    from alignbench_utils.stages.judge import run_judging

    endpoint = _endpoint(args, args.judge, judge=True, name_flag="--judge")
    with _writer_lock(args.out):
        summary = run_judging(args.answers, endpoint,
                              judge_folder(args.out, args.judge, args.protocol),
                              max_reasks=args.max_reasks, structured=args.structured,
                              template=args.template, max_tokens=args.max_tokens,
                              seed=_sampling_seed(args), questions=args.questions,
                              protocol=args.protocol, samples=args.samples,
                              progress=not args.no_progress)
    return _finish(summary)


def add_judge_eval(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("judge-eval", help="evaluate a judge against human labels on pairwise "
                                          "benchmarks (writes OUT/<JUDGE>/<protocol>/*.jsonl "
                                          "and OUT/study_table.csv)")
    p.add_argument("--benchmark", action="append", required=True, dest="benchmarks",
                   help="llmbar, llmbar:Adversarial, llmbar:SUBSET, pandalm, autoj:PATH, "
                        "critiquellm:PATH, mtbench-human; repeat for several")
    p.add_argument("--protocol", required=True,
                   help="pairwise protocol, e.g. llmbar-vanilla-norules, llmbar-vanilla, "
                        "mtbench-pair-v2, pandalm, autoj, critiquellm")
    p.add_argument("--judge", required=True, help="the judge's name in this evaluation")
    p.add_argument("--out", required=True, help="judge-eval folder (several judges may share it)")
    p.add_argument("--template", default=None,
                   help="prompt template for autoj/critiquellm: str.format text with "
                        "{output_1}, {output_2} and {instruction}/{input}/{task}/{reference}")
    p.add_argument("--orders", choices=("both", "single"), default=None,
                   help="judge both orders or only the benchmark's; default: the protocol's")
    p.add_argument("--logit-bias-model", default=None,
                   help="send the protocol's official logit bias with token ids of this OpenAI "
                        "model's tokenizer (needs tiktoken), e.g. gpt-4")
    p.add_argument("--per-subset", type=_at_least(1), default=None,
                   help="a seeded random sample of this many items per benchmark subset")
    p.add_argument("--subset-seed", type=int, default=0, help="seed of --per-subset")
    p.add_argument("--no-published", action="store_true",
                   help="leave published judges (LLMBar's ChatGPT, PandaLM's) out of the table")
    p.add_argument("--n-boot", type=_at_least(1), default=2000,
                   help="bootstrap resamples of the CIs")
    _add_endpoint_args(p, required=True)
    p.set_defaults(func=cmd_judge_eval, max_tokens=None)  # None: the protocol's max_tokens


def cmd_judge_eval(args: argparse.Namespace) -> int:
    from alignbench_utils.stages.judge_eval import (
        judge_eval_table,
        judge_eval_verdicts,
        run_judge_eval,
        select_items,
    )

    endpoint = _endpoint(args, args.judge, judge=True, name_flag="--judge")
    with _writer_lock(args.out):
        summaries = run_judge_eval(
            args.benchmarks, endpoint, args.out, protocol=args.protocol,
            template=args.template, orders=args.orders, max_tokens=args.max_tokens,
            seed=_sampling_seed(args), logit_bias_model=args.logit_bias_model,
            per_subset=args.per_subset, subset_seed=args.subset_seed,
            progress=not args.no_progress)
    for summary in summaries:
        print(summary.one_line(), flush=True)
    items = select_items(args.benchmarks, per_subset=args.per_subset, seed=args.subset_seed)
    verdicts = judge_eval_verdicts(args.out, items, published=not args.no_published)
    table = judge_eval_table(verdicts, items, n_boot=args.n_boot,
                             out=Path(args.out) / "study_table.csv")
    shown = ["judge", "benchmark", "subset", "metric", "estimate", "lower", "upper",
             "parse_failed_rate", "position_bias", "consistency", "n_items", "n_calls"]
    print(table[shown].to_string(index=False, float_format="{:.3f}".format), flush=True)
    return 1 if any(summary.nothing_done for summary in summaries) else 0


def add_import(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("import", help="import official-format answer/judgment files into a run")
    group = p.add_mutually_exclusive_group(required=True)
    group.add_argument("--answers", nargs="+", help="official answer JSONL files")
    group.add_argument("--judgments", nargs="+", help="official judgment JSONL files")
    p.add_argument("--out", required=True, help="run folder (gets answers/ or judgments/)")
    p.add_argument("--judge", default=None,
                   help="judge name for judgments (default: the file's folder name; required "
                        "when the file has none)")
    p.add_argument("--questions", default="v1.1",
                   help="question set that supplies missing fields (reference, subcategory)")
    p.set_defaults(func=cmd_import)


def cmd_import(args: argparse.Namespace) -> int:
    from alignbench_utils.data.layout import RunLayout
    from alignbench_utils.data.official import (
        fill_question_fields,
        read_official_answers,
        read_official_judgments,
    )
    from alignbench_utils.data.questions import question_rows
    from alignbench_utils.running.engine import RunSummary, Task, plan, store_writers

    by_id = {q["question_id"]: q for q in question_rows(args.questions)}
    records = []
    first_seen: dict[tuple[str, object], tuple[str, int]] = {}  # (model, question) → where
    for path in args.answers or args.judgments:
        rows = (read_official_answers(path) if args.answers
                else read_official_judgments(path, judge=args.judge))
        for number, rec in enumerate(rows, start=1):
            if args.answers:  # two answers to one question: which one would be judged?
                seen = first_seen.setdefault((rec["model"], rec["question_id"]), (path, number))
                if seen != (path, number):
                    raise InputError(f"duplicate answer of model {rec['model']!r} to "
                                     f"question_id {rec['question_id']} (first on line "
                                     f"{seen[1]} of {seen[0]})", path=path, line=number,
                                     field="question_id")
            fill_question_fields(rec, by_id, source=args.questions, path=path, line=number)
            rec["request_hash"] = request_hash({"stage": "import", **{
                k: rec.get(k) for k in ("model", "judge", "question_id", "answer", "judgment")}})
            records.append(rec)
    layout = RunLayout(args.out)
    tasks = [Task(key=rec["request_hash"], item=rec,
                  target=layout.answers_file(rec["model"]) if args.answers
                  else layout.judgments_file(rec["judge"], rec["model"])) for rec in records]
    summary = RunSummary("import", "files")
    with _writer_lock(args.out):
        todo = plan(tasks, summary)
        with store_writers(summary) as writers:
            for task in todo:
                writers[task.target].append(task.item)
    written, skipped, out = len(todo), summary.skipped, args.out
    print(f"import: {written} records written, {skipped} already there, into {out}", flush=True)
    return 0


def add_run(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("run", help="execute the notebooks of a run YAML, then render its report")
    p.add_argument("config", help="run YAML, e.g. runs/demo.yaml")
    p.add_argument("--notebooks", nargs="+", default=None,
                   help="only these notebooks (e.g. 03_aggregate 04_analysis); default: all")
    p.add_argument("--force", nargs="*", default=None, metavar="NOTEBOOK",
                   help="execute these notebooks (all when none is named) even when nothing "
                        "they depend on changed; by default a notebook is skipped then")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_run)


def cmd_run(args: argparse.Namespace) -> int:
    from alignbench_utils.config import load_config
    from alignbench_utils.pipeline import run_pipeline

    config = load_config(args.config, check_env=True)
    force = args.force == [] or (args.force or False)  # a bare --force: every notebook
    try:
        pages = run_pipeline(config, notebooks=args.notebooks,
                             progress=not args.no_progress, force=force,
                             echo=print if args.no_progress else None)
    except Exception as exc:
        papermill = sys.modules.get("papermill")  # loaded when a notebook was executed
        if papermill is None or not isinstance(exc, papermill.PapermillExecutionError):
            raise
        if exc.ename == "KeyboardInterrupt":  # Ctrl-C reached the kernel first
            raise KeyboardInterrupt from None
        if exc.ename in _OS_ERRORS:  # a full disk or a read-only folder, inside a notebook
            print(f"alignbench run: {exc.evalue}; make room or fix permissions, then rerun "
                  "the same command (records written so far are kept)", file=sys.stderr)
            return 1
        notes = "".join(f"\n  {note}" for note in getattr(exc, "__notes__", []))
        print(f"alignbench run: notebook failed: {exc.ename}: {exc.evalue}{notes}",
              file=sys.stderr)
        return 1
    print(f"report: {pages[-1]}", flush=True)
    return 0


_OS_ERRORS = frozenset({"OSError", "PermissionError", "FileExistsError", "NotADirectoryError",
                        "IsADirectoryError"})  # a notebook's file system errors, by name


def add_estimate(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("estimate", help="requests, tokens and cost a run YAML will take, per "
                                        "model and judge (sends nothing)")
    p.add_argument("config", help="run YAML, e.g. runs/demo.yaml")
    p.add_argument("--csv", default=None, help="also write the table to this CSV file")
    p.set_defaults(func=cmd_estimate)


def cmd_estimate(args: argparse.Namespace) -> int:
    from alignbench_utils.config import load_config
    from alignbench_utils.stages.estimate import estimate_frame, estimate_run, format_estimate

    config = load_config(args.config)
    rows = estimate_run(config)
    print(format_estimate(rows, config.name), flush=True)
    if args.csv:
        estimate_frame(rows).to_csv(args.csv, index=False)
    return 0


def add_report(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("report", help="re-render the HTML report of a run (runs nothing)")
    p.add_argument("config", help="run YAML, e.g. runs/demo.yaml")
    p.set_defaults(func=cmd_report)


def cmd_report(args: argparse.Namespace) -> int:
    from alignbench_utils.pipeline import render_only

    pages = render_only(args.config)
    print(f"report: {pages[-1]}", flush=True)
    return 0


def add_notebook(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("notebook", help="copies of a run's notebooks with its parameters, to "
                                        "open in JupyterLab (nothing executed)")
    p.add_argument("config", help="run YAML, e.g. runs/demo.yaml")
    p.add_argument("notebooks", nargs="*", metavar="NOTEBOOK",
                   help="e.g. 06_error_analysis; default: all")
    p.add_argument("--force", action="store_true",
                   help="replace prepared copies that were changed since they were prepared")
    p.set_defaults(func=cmd_notebook)


def cmd_notebook(args: argparse.Namespace) -> int:
    from alignbench_utils.prepare import open_command, prepare_notebooks

    paths = prepare_notebooks(args.config, args.notebooks, overwrite=args.force)
    print("\n".join(f"prepared: {path}" for path in paths))
    print(f"open with: {open_command(paths[0] if len(paths) == 1 else paths[0].parent)}",
          flush=True)
    return 0


def _add_local_model_arg(p: argparse.ArgumentParser) -> None:
    from alignbench_utils.local.local_models import load_registry

    p.add_argument("--model", default="0.5b", choices=sorted(load_registry()[0]),
                   help="registered local model (alignbench_utils/local_models.json)")


def add_setup_local(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("setup-local", help="build llama-server and fetch+verify a local model")
    _add_local_model_arg(p)
    p.set_defaults(func=cmd_setup_local)


def cmd_setup_local(args: argparse.Namespace) -> int:
    from alignbench_utils.local.local_server import setup_local

    binary, model = setup_local(args.model)
    print(f"llama-server: {binary}\nmodel: {model}", flush=True)
    return 0


def add_serve_local(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("serve-local", help="serve a local model on 127.0.0.1 until Ctrl-C")
    _add_local_model_arg(p)
    p.add_argument("--port", type=_at_least(0), default=None, help="default: a free port")
    p.add_argument("--parallel", type=_at_least(1), default=4, help="concurrent slots (-np)")
    p.add_argument("--ctx", type=_at_least(1), default=16384,
                   help="total context, split over slots")
    p.add_argument("--log-dir", default=None, help="server log folder")
    p.set_defaults(func=cmd_serve_local)


def cmd_serve_local(args: argparse.Namespace) -> int:
    import signal
    import time

    from alignbench_utils.local.local_server import serve_local

    # SIGTERM unwinds like Ctrl-C so the server is always stopped.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        with serve_local(args.model, port=args.port, parallel=args.parallel, ctx=args.ctx,
                         log_dir=args.log_dir) as server:
            print(f"serving {server.model_id} at {server.base_url} (log: {server.log_path});"
                  " Ctrl-C to stop", flush=True)
            while server.proc.poll() is None:
                time.sleep(0.5)
            print(f"alignbench serve-local: server exited with code {server.proc.returncode}",
                  file=sys.stderr)
            return 1
    except KeyboardInterrupt:
        print("stopped", flush=True)
        return 0


SUBCOMMANDS: list[Callable[[argparse._SubParsersAction], None]] = [
    add_generate, add_judge, add_judge_eval, add_import, add_run, add_estimate, add_report,
    add_setup_local, add_serve_local,
    add_notebook,
]


def build_parser() -> argparse.ArgumentParser:
    """The argument parser; each ``add_*`` function registers one subcommand."""
    parser = argparse.ArgumentParser(
        prog="alignbench",
        description="Run the AlignBench benchmark: generate answers, judge them, build reports.")
    sub = parser.add_subparsers(dest="command", required=True)
    for add in SUBCOMMANDS:
        add(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``alignbench`` console script."""
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except InputError as exc:
        print(f"alignbench {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except RunError as exc:
        print(f"alignbench {args.command}: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:  # records written so far are whole lines: a rerun resumes
        # Tasks the interrupt cut off (a dead kernel's) would log their errors at exit.
        logging.getLogger("asyncio").setLevel(logging.CRITICAL)
        print(f"alignbench {args.command}: {INTERRUPTED}", file=sys.stderr)
        return 130
    except OSError as exc:  # a full disk, a read-only folder: the store keeps whole lines
        print(f"alignbench {args.command}: {os_problem(exc)}", file=sys.stderr)
        return 1


INTERRUPTED = "interrupted; rerun the same command to resume"


def os_problem(exc: OSError) -> str:
    """One line for a file system error: the path, the cause, what to do.

    >>> os_problem(OSError(28, "No space left on device", "runs/r/answers/m.jsonl"))
    'runs/r/answers/m.jsonl: No space left on device; make room or fix permissions, then rerun the same command (records written so far are kept)'
    """
    where = exc.filename if exc.filename is not None else "a file of the run"
    return (f"{where}: {exc.strerror or exc}; make room or fix permissions, then rerun the "
            "same command (records written so far are kept)")


if __name__ == "__main__":
    raise SystemExit(main())
