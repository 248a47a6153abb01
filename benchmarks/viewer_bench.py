"""The judgment viewer at full scale: 20 models × 683 questions × 2 judges = 27,320 judgments.

Writes a synthetic run (the real v1.1 questions; answers and critiques of realistic length cut
from the benchmark's own Chinese reference texts; per-dimension critiques ending in the score
dict; ~3% parse failures with a re-ask and ~1% endpoint errors), builds ``viewer.html``, opens
it in headless Chromium (tests/browser.py) and prints: file size, time to usable
(``window.__viewerReady``, ms after navigation start) and the redraw time of filter changes
made through the page's own controls (handler time, and time until the next frame is drawn).
``--before COMMIT`` also builds the page with that commit's viewer (``git archive`` of its
``alignbench_utils/``, run in a subprocess) from the same run and measures it in the same
browser, so before and after are compared on one machine (changes its page lacks are skipped).
Prints figures only; run:
``PYTHONPATH=. .venv/bin/python benchmarks/viewer_bench.py --before 9f228c7``.
"""

from __future__ import annotations

import argparse
import base64
import gzip
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))  # the DevTools harness and the record fixtures

from browser import Browser, Tab
from run_fixtures import judgment_records

from alignbench_utils import load_questions
from alignbench_utils.data.questions import write_jsonl
from alignbench_utils.protocols.parsing import OVERALL_KEYS
from alignbench_utils.report.viewer import page_data, write_viewer

JUDGES = ("judge-a", "judge-b")
N_MODELS = 20
ANSWER_CHARS = (450, 0.6)   # lognormal median and sigma of an answer's length (characters)
COMMENT_CHARS = (60, 0.4)   # ... of each per-dimension comment in a critique
INTRO_CHARS, SUMMARY_CHARS = (100, 0.4), (50, 0.4)  # ... of its opening and closing remarks
PARSE_FAILED, ERROR = 0.03, 0.01
LOADS = 3

# One filter change = JavaScript run in the page through its controls (as a user would).
CHANGE = "el => el.dispatchEvent(new Event(el.type === 'checkbox' || el.tagName === 'SELECT' ? 'change' : 'input', {bubbles: true}))"
ACTIONS = [
    ("model: one model", "box('model', 'model-03')"),
    ("+ category 逻辑推理", "box('category', '逻辑推理')"),
    ("+ status parse_failed", "box('status', 'parse_failed')"),
    ("- status parse_failed", "box('status', 'parse_failed')"),
    ("- model", "box('model', 'model-03')"),
    ("score >= 8", "set('score-min', '8')"),
    ("dimension 事实正确性", "set('dim', '事实正确性')"),
    ("dimension <= 4", "set('dim-max', '4')"),
    ("clear filters", "document.getElementById('reset').click()"),
    ("judge judge-a", "box('judge', 'judge-a')"),
    ("+ score >= 8", "set('score-min', '8')"),
    ("+ other judge judge-b (first use)", "set('vs-judge', 'judge-b')"),
    ("+ judge-b's score <= 4", "set('vs-max', '4')"),
    ("clear filters", "document.getElementById('reset').click()"),
    ("other judge judge-b, gap >= 3", "set('vs-judge', 'judge-b'); set('gap-min', '3')"),
    ("+ category 数学计算", "box('category', '数学计算')"),
    ("sort by gap", "head('gap')"),
    ("sort by gap, descending", "head('gap')"),
    ("clear filters", "document.getElementById('reset').click()"),
    *[(f"search {q!r}", f"set('search', {q!r})") for q in ("参", "参考", "参考答", "参考答案")],
    ("search 'python'", "set('search', 'python')"),
    ("search 'Python' (case)", "set('search', 'Python')"),
    ("clear search", "set('search', '')"),
    ("sort by score", "head('score')"),
    ("sort by score, descending", "head('score')"),
    ("sort by question text", "head('question text')"),
    ("sort by model", "head('model')"),
    ("status error", "box('status', 'error')"),
    ("clear filters", "document.getElementById('reset').click()"),
]
HELPERS = f"""
const fire = {CHANGE};
const box = (facet, v) => {{ const el = document.querySelector(
  `fieldset[data-facet="${{facet}}"] input[value="${{v}}"]`); el.checked = !el.checked; fire(el); }};
const set = (id, v) => {{ const el = document.getElementById(id); el.value = v; fire(el); }};
const head = (label) => [...document.querySelectorAll('#head span')]
  .find(s => s.textContent === label).click();
"""


def synthetic_run(run_dir: Path, seed: int = 0) -> dict[str, float]:
    """Write the judgments of ``JUDGES`` over ``N_MODELS`` models; returns the record count
    and the mean answer and critique lengths (characters)."""
    rng = np.random.default_rng(seed)
    corpus = "".join(q["reference"] for q in load_questions("v1.1").to_list())

    def cut(n: int) -> str:  # a random stretch of real Chinese text
        start = int(rng.integers(0, len(corpus) - n))
        return corpus[start:start + n]

    def length(median: float, sigma: float) -> int:
        return int(np.clip(rng.lognormal(np.log(median), sigma), 20, 6000))

    models = {f"model-{k:02d}": 4.0 + 4.5 * k / (N_MODELS - 1) for k in range(N_MODELS)}
    answers: dict[tuple[str, int], str] = {}
    critiques: list[int] = []
    for j_index, judge in enumerate(JUDGES):
        records = judgment_records(judge, models, per_category=None, seed=j_index, n_failed=0)
        for rec in records:
            item = (rec["model"], rec["question_id"])
            rec["answer"] = answers.setdefault(item, cut(length(*ANSWER_CHARS)))
            dims = {k: int(v) for k, v in rec["dimensions"].items()}
            scores = {**dims, OVERALL_KEYS[0]: int(rec["score"])}
            comments = "".join(f"{k}：{cut(length(*COMMENT_CHARS))}。得分：{v}分。\n"
                               for k, v in dims.items())
            critique = (f"与参考答案相比，{cut(length(*INTRO_CHARS))}。\n{comments}"
                        f"综上所述，{cut(length(*SUMMARY_CHARS))}。\n{scores}")
            critiques.append(len(critique))
            rec.update(judgment=critique, reasks=0, judgment_history=[], parse_method="dict",
                       request={"temperature": 0, "max_tokens": 2048, "seed": None,
                                "structured_output": "none"})
            draw = rng.random()
            if draw < PARSE_FAILED:
                rambling = critique[: critique.rfind("{")]
                rec.update(status="parse_failed", score=None, dimensions={}, judgment=rambling,
                           reasks=1, judgment_history=[rambling], parse_method="none",
                           error="no score dict found")
            elif draw < PARSE_FAILED + ERROR:
                rec.update(status="error", score=None, dimensions={}, judgment="",
                           parse_method=None, error="HTTP 500 after 5 attempts")
        for model in models:
            write_jsonl([r for r in records if r["model"] == model],
                        run_dir / "judgments" / judge / f"{model}.jsonl")
    return {"n": len(critiques), "answer_chars": float(np.mean([len(a) for a in answers.values()])),
            "critique_chars": float(np.mean(critiques))}


def measure(tab: Tab) -> dict[str, float]:
    """Handler time and time to the next drawn frame, per action, in the open page; actions
    on a control the page lacks (an older viewer) are skipped."""
    out = {}
    has_gap = tab.evaluate("!!document.getElementById('gap-min')")
    for label, action in ACTIONS:
        if not has_gap and "gap" in action:
            continue
        try:
            out[label] = tab.evaluate(f"""(async () => {{ {HELPERS}
                const t0 = performance.now(); {action}; const t1 = performance.now();
                await new Promise(r => requestAnimationFrame(() => setTimeout(r, 0)));
                return [t1 - t0, performance.now() - t0, window.__viewer.count()]; }})()""",
                                      await_promise=True)
        except RuntimeError as exc:
            raise RuntimeError(f"filter change {label!r} failed") from exc
    return out


def page_of_commit(commit: str, run_dir: Path, out: Path) -> Path:
    """The viewer page of ``run_dir`` as the viewer of ``commit`` writes it."""
    with tempfile.TemporaryDirectory() as src:
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", commit, "alignbench_utils"],
                                 check=True, capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", src], input=archive, check=True)
        # cwd: ``python -c`` puts it first on sys.path, ahead of PYTHONPATH
        script = ("import sys; from alignbench_utils.report.viewer import write_viewer; "
                  "write_viewer(sys.argv[1], sys.argv[2])")
        subprocess.run([sys.executable, "-c", script, str(run_dir), str(out)],
                       env={**os.environ, "PYTHONPATH": src}, cwd=src, check=True)
    return out


def report(browser: Browser, name: str, page: Path) -> None:
    """Load ``page`` ``LOADS`` times, then change filters in it; print the figures."""
    print(f"\n== {name}: {page.name} {page.stat().st_size / 2**20:.1f} MiB")
    loads, redraws = [], {}
    for index in range(LOADS):
        tab = Tab(browser, page.as_uri())
        ready = tab.wait_until("window.__viewerReady")
        marks = {mark: tab.wait_until(
            f"performance.getEntriesByName('viewer:{mark}')[0]?.startTime")
            for mark in ("data", "search-ready")}
        assert not tab.errors and not tab.requests, (tab.errors, tab.requests)
        print(f"load {index + 1}: usable at {ready:.0f} ms after navigation start "
              f"(data decoded at {marks['data']:.0f} ms; search index built at "
              f"{marks['search-ready']:.0f} ms)")
        loads.append(ready)
        if index == LOADS - 1:
            redraws = measure(tab)
        tab.close()
    print(f"time to usable: median {statistics.median(loads):.0f} ms, max {max(loads):.0f} ms "
          f"over {LOADS} loads")
    print(f"{'filter change':34} {'handler ms':>10} {'to frame ms':>12} {'rows':>7}")
    for label, (handler, frame, rows) in redraws.items():
        print(f"{label:34} {handler:10.1f} {frame:12.1f} {rows:7d}")
    handlers = [v[0] for v in redraws.values()]
    frames = [v[1] for v in redraws.values()]
    print(f"redraw over {len(redraws)} filter changes: handler median "
          f"{statistics.median(handlers):.1f} ms, max {max(handlers):.1f} ms; to next frame "
          f"median {statistics.median(frames):.1f} ms, max {max(frames):.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", help="write the run and viewer here instead of a temp folder")
    parser.add_argument("--before", metavar="COMMIT",
                        help="also measure the page written by this commit's viewer")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(args.keep or tmp)
        started = time.perf_counter()
        run = synthetic_run(root / "run")
        print(f"synthetic run: {run['n']} judgments ({N_MODELS} models x 683 questions x "
              f"{len(JUDGES)} judges) in {time.perf_counter() - started:.1f} s; mean answer "
              f"{run['answer_chars']:.0f} chars, mean critique {run['critique_chars']:.0f} chars")
        pages = {}
        if args.before:
            started = time.perf_counter()
            pages[f"before ({args.before})"] = page_of_commit(
                args.before, root / "run", root / "report" / "viewer-before.html")
            print(f"write_viewer before: {time.perf_counter() - started:.1f} s")
        started = time.perf_counter()
        page = pages["after (this tree)"] = write_viewer(root / "run",
                                                         root / "report" / "viewer.html")
        print(f"write_viewer: {time.perf_counter() - started:.1f} s")
        data = json.dumps(page_data(page.read_text(encoding="utf-8")), ensure_ascii=False,
                          separators=(",", ":")).encode("utf-8")
        gzipped = len(base64.b64encode(gzip.compress(data, compresslevel=6)))
        print(f"embedded data: JSON {len(data) / 2**20:.1f} MiB; gzip + base64 alone "
              f"{gzipped / 2**20:.1f} MiB; page (long-range copies + gzip + base64) "
              f"{page.stat().st_size / 2**20:.1f} MiB")
        browser = Browser(root / "profile", window_size=(1400, 900))
        try:
            for name, page in pages.items():
                report(browser, name, page)
        finally:
            browser.close()


if __name__ == "__main__":
    main()
