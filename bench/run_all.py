"""Every benchmark of the kit, one command (`make bench`): figures as ratios measured in one run.

    .venv/bin/python bench/run_all.py [--quick] [--only losses train_step check startup grade nbgrader]
                                      [--class-size 100] [--out build/bench] [--doc docs/benchmarks.md]
                                      [--render JSON]

Runs each bench/bench_*.py in a fresh process (its own output shown as it goes), collects its
figures, and writes

* `build/bench/results.json`: the machine, the mode, and per figure name, value, unit, goal,
  met, baseline (what it was measured against in the same run), command (to reproduce it
  alone) and the raw numbers;
* `docs/benchmarks.md`: the table, the machine, how to reproduce, and notes on every goal that
  was not met.

Full mode (the default, `make bench`) grades a class of 100 per assignment against nbgrader
(`--class-size`): about 100 minutes on a 2-core machine, nbgrader's runs most of it; `--quick`
(fewer repeats, 40 submissions for grade, 3 per assignment against nbgrader) about 5. The
figures depend on the machine and its load: the load average is recorded before and after each
benchmark. Nothing here asserts anything about time.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import BUILD, REPO, machine_info, run_bench  # noqa: E402

# key -> (script, args in full mode, args in quick mode, args in smoke mode: plumbing only)
BENCHES: dict[str, tuple[str, list[str], list[str], list[str]]] = {
    "losses": ("bench_losses.py", ["--repeat", "100", "--threads", "1"], ["--repeat", "5", "--threads", "1"],
               ["--N", "20", "--D", "30", "--repeat", "1"]),
    "train_step": ("bench_train_step.py", ["--repeat", "100"], ["--repeat", "20"], ["--repeat", "2"]),
    "check": ("bench_check.py", ["-n", "20"], ["-n", "5"], ["-n", "1"]),
    "startup": ("bench_startup.py", ["--runs", "3"], ["--runs", "2"], ["--runs", "1"]),
    "grade": ("bench_grade.py", ["-n", "200", "--jobs", "1", "2", "--baseline-n", "10"],
              ["-n", "40", "--jobs", "1", "2", "--baseline-n", "5"],
              ["-n", "2", "--jobs", "1", "--baseline-n", "1"]),
    "nbgrader": ("bench_vs_nbgrader.py", ["-n", "100"], ["-n", "3"], ["-n", "1", "--assignments", "A3"]),
    "worker": ("bench_worker.py", ["-n", "20"], ["-n", "6"], ["-n", "2"]),
}
CLASS_SIZE = {"full": 100, "quick": 3, "smoke": 1}  # nbgrader's class per assignment, by mode
# What each figure shows and how it is measured (docs/benchmarks.md).
METHOD = {
    "nbgrader": (
        "`autograder grade A --force` (its default: one job per core) and `nbgrader autograde A "
        "--force` (one notebook at a time: it has no parallel mode) on the same "
        "submissions, each a command of its own in a fresh course (interpreter start, workers, "
        "gradebook and reports included). nbgrader's course carries the same hidden tests in "
        "nbgrader's form: each grade cell ends in a `### BEGIN HIDDEN TESTS` block that runs "
        "that group's `@hidden_test` functions of `solutions/<A>/hidden_tests.py` (or the "
        "best-model check) in the student's kernel, and prints the points as nbgrader's "
        "partial credit (`bench/nbgrader_form/`). The students' notebooks and model files are "
        "the ones in their zips, byte for byte; nbgrader runs each from the top (training and "
        "search included), the kit grafts and calls. Both with single-threaded BLAS (the "
        "grader's workers always are) and nbgrader's per-cell "
        "timeout raised to 30 min so nothing is cut short. The kit runs before and after "
        "nbgrader; the slower run is compared. Value: nbgrader's seconds / the kit's; the "
        "work figure beside it is nbgrader's CPU seconds / the kit's, which neither the number "
        "of cores nor the neighbours change. A class "
        "larger than the ten sample students cycles through them under new ids. CPU per "
        "submission: user + system seconds of the command's whole process tree (the grader's "
        "fork server, workers and sandboxes; nbgrader's kernels) over the class size, the work "
        "done whatever else shares the cores."),
    "startup": (
        "`autograder grade A3 --jobs 1 --force` on one submission, each run a command of its "
        "own, through `bench/startup_probe.py`: seconds from the launch of the command to the "
        "moment a pool worker starts grading the submission (interpreter, the grader's imports, "
        "sandbox preflight, config and intake, the pool's fork server and its preloads), median "
        "of the runs; the CPU seconds spent until then beside it. The import profile below is one more "
        "run with `python -X importtime` (the parent until it dispatches) and the fork server's "
        "preloads in a fresh interpreter."),
    "losses": (
        "The A3 reference's vectorized losses on random data of CIFAR-10's size after the bias "
        "trick (N=500, D=3073, C=10) against their physical bound, the two matrix products every "
        "vectorized loss needs (X W for the scores, X^T dscores for dW), alternated, best of the "
        "repeats, same process, single-threaded BLAS (as the grader runs student code; on a "
        "shared 2-core machine a second BLAS thread mostly measures contention). Value: loss "
        "time / products time. The naive (loops) version's time and the speedup over it are "
        "given beside it as information: at these skinny shapes (C = 10 columns) the products "
        "bound every vectorized version, so that speedup measures the machine's BLAS more than "
        "the code (docs/A3.md reports 40-170x in the notebook's own timing cells on digits)."),
    "train_step": (
        "One SGD step of the A4 reference (forward, backward, in-place update) against its five "
        "matrix products alone (same shapes, same BLAS, single-threaded as in the grader), "
        "alternated, best of the repeats. Value: step time / GEMM time."),
    "check": (
        "`check_notebook` (integrity against the declared release + every policy rule) on the "
        "A3 and A4 releases with the solutions grafted in, median of the runs; the baseline is "
        "`nbformat.read` of the same file in the same run."),
    "worker": (
        "One sandbox worker's whole life (bubblewrap and the interpreter with numpy started, the "
        "graded module loaded, one call answered, stopped) against `python -I -S -B` importing "
        "numpy and ending at once (single-threaded BLAS), the floor any fresh process with numpy "
        "pays, alternated; both counted as the whole machine's CPU seconds from /proc/stat, so "
        "the sandbox's own processes count. Value: worker / floor (information). A second "
        "figure, under bwrap: the same life for a worker forked by the process's zygote "
        "(docs/sandbox.md, \"Reused sandboxes\"), the zygote's sweep after it included, against "
        "the same floor. A fresh worker is the part of a submission's CPU that its isolation "
        "costs; the forked one is what is left of it when a grading process reuses its "
        "sandbox."),
    "grade": (
        "`grade_class` on a class cycled from the demo's 14 A4 cases (full marks, bugs, "
        "violations, cheating, broken zips), each configuration in a fresh process: submissions "
        "per second at `--jobs 1` and `--jobs 2` (speedup), CPU seconds per submission (user + "
        "system of the configuration's whole process tree, start-up included, over the class "
        "size: equal at both --jobs when the second worker adds no work, so a speedup short of "
        "2x with equal CPU per submission means the cores were busy, not that the work grew), "
        "and the grader process's peak RSS over the whole class against its peak over a small "
        "class graded the same way (the kit's own goal: memory does not grow with the class)."),
}


def bench_args(key: str, mode: str, class_size: int | None = None) -> list[str]:
    """The arguments of benchmark `key` in `mode` ("full", "quick" or "smoke"); `class_size`
    replaces the mode's class per assignment against nbgrader (CLASS_SIZE)."""
    _script, full, quick, smoke = BENCHES[key]
    args = {"full": full, "quick": quick, "smoke": smoke}[mode]
    if key == "nbgrader":  # -n is its first argument
        args = ["-n", str(class_size or CLASS_SIZE[mode]), *args[2:]]
    return list(args)


def run(keys: list[str], mode: str, out_dir: Path, doc: Path | None,
        class_size: int | None = None) -> dict[str, Any]:
    """Run the benches, write results.json (and the doc); the results. `class_size`: the
    class per assignment against nbgrader (default by mode: CLASS_SIZE)."""
    started = time.time()
    machine = machine_info()
    print(f"== bench/run_all.py ({mode} mode) on {machine['cpu']}, {machine['cores']} cores, "
          f"load average {machine['load_average']}", flush=True)
    figures: list[dict[str, Any]] = []
    runs: list[dict[str, Any]] = []
    for key in keys:
        script = BENCHES[key][0]
        args = bench_args(key, mode, class_size)
        print(f"\n== {script} {' '.join(args)}", flush=True)
        load_before, t0 = _load(), time.time()
        error = ""
        try:
            got = run_bench(script, args)
        except (subprocess.CalledProcessError, OSError, ValueError) as exc:  # the others still run
            got, error = [], f"{type(exc).__name__}: {exc}"
            print(f"!! {script} failed: {error}", flush=True)
        runs.append({"bench": key, "command": " ".join([".venv/bin/python", f"bench/{script}", *args]),
                     "seconds": round(time.time() - t0, 1), "load_before": load_before,
                     "load_after": _load(), "error": error})
        for f in got:
            f["bench"] = key
        figures += got
    results = {
        "mode": mode,
        "machine": machine,
        "seconds": round(time.time() - started, 1),
        "load_average_end": _load(),
        "runs": runs,
        "figures": figures,
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "results.json").write_text(json.dumps(results, indent=1) + "\n")
    if doc is not None:
        doc.write_text(render_doc(results))
    _summary(results)
    print(f"\nresults: {out_dir / 'results.json'}" + (f"; {doc}" if doc is not None else ""))
    return results


def _load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()] if hasattr(os, "getloadavg") else []


def _value(f: dict[str, Any]) -> str:
    v, unit = f["value"], f["unit"]
    if unit == "x":
        return f"{v:.1f}x" if v >= 10 else f"{v:.2f}x"
    if unit == "s":
        return f"{v * 1000:.0f} ms" if v < 1 else f"{v:.1f} s"
    return f"{v:g} {unit}"


def _goal(f: dict[str, Any]) -> str:
    if f["goal"] == "information":
        return "(information)"
    op, number = f["goal"].split()[:2]
    return f"{op.replace('>=', '≥').replace('<=', '≤')} " + (
        f"{float(number) * 1000:.0f} ms" if f["unit"] == "s" and float(number) < 1 else f"{number}{f['unit']}")


def _summary(results: dict[str, Any]) -> None:
    print(f"\n== summary ({results['mode']} mode, {results['seconds']:.0f} s)")
    for f in results["figures"]:
        print(f"  {'met ' if f['met'] else 'NOT '} {_value(f):>9}  goal {_goal(f):<9} {f['name']}")
        print(f"        baseline: {f['baseline']}")


# --------------------------------------------------------------------------------------------
# docs/benchmarks.md


def notes_for(f: dict[str, Any], results: dict[str, Any]) -> str:
    """Why a goal was not met, from the figure's own numbers (docs/benchmarks.md)."""
    d, bench = f["details"], f.get("bench")
    load = results["machine"]["load_average"]
    if bench == "nbgrader":
        fixed, per = d["fixed_seconds"], d["per_submission_seconds"]
        imports = d.get("import_seconds", {})
        cpu = d.get("cpu_per_submission", {})
        marginal = per["nbgrader"] / per["autograder"] if per["autograder"] else float("inf")
        cpu_text = (f" CPU per submission over the whole run (user + system of each command's process "
                    f"tree): nbgrader {cpu['nbgrader']:.2f} s, the kit {cpu['autograder']:.2f} s "
                    f"({cpu['nbgrader'] / cpu['autograder']:.0f}x less work)." if cpu.get("autograder") else "")
        return (
            f"Split from the one-submission runs (single runs, so a rough split): nbgrader about {fixed['nbgrader']:.1f} s fixed + "
            f"{per['nbgrader']:.1f} s per submission (a fresh kernel, the whole notebook: data, "
            f"plots, training, search, then the hidden tests); the kit about {fixed['autograder']:.1f} s "
            f"fixed + {per['autograder']:.2f} s per submission. Per further submission the kit is "
            f"{marginal:.0f}x faster; the smaller the class, the more its fixed cost counts.{cpu_text} "
            f"Imports in a fresh interpreter in this run: `nbformat` {imports.get('nbformat', float('nan')):.1f} s, "
            f"`nbgrader.api` (the gradebook, which the kit imports on a thread while the first "
            f"submission is graded) {imports.get('nbgrader.api', float('nan')):.1f} s. nbgrader's cost "
            f"per submission is the notebook's run time, so the ratio grows with the notebook (a "
            f"search on CIFAR-10 instead of digits) and with the class; the kit's does not depend "
            f"on either. Load average at the start of the run: {load[0]}.")
    if bench == "startup":
        rows = d.get("runs", [])
        dispatch = min((r["to_dispatch_s"] for r in rows), default=float("nan"))
        return (
            f"Load average {d.get('load_average', ['?'])[0]} when it was measured (2 cores): wall "
            f"time on a busy machine counts the neighbours too; the CPU seconds spent until then "
            f"were {d['cpu_on_path_s']:.2f} s (the fork server's beside the parent's). The parent dispatched the submission after "
            f"{dispatch:.2f} s at best. The grader and its fork server start side by side and each "
            f"imports about half a second of CPU (numpy and jsonschema, which nbformat and the "
            f"config's schema need, in both; the kit's own modules), while the sandbox preflight's "
            f"probe worker boots numpy in its sandbox: on two cores shared with other work they "
            f"wait for each other. (The search for the host's world-writable folders, made only "
            f"at the uid sandbox level, took {d['sweep_scan_s']:.2f} s alone in a fresh "
            f"interpreter.)"
            + (" PYTHONDONTWRITEBYTECODE was set in this run: no .pyc files are written, so the "
               "kit's own modules were compiled from source at every start."
               if d.get("dont_write_bytecode") else ""))
    if bench == "grade" and f["unit"] == "x" and "rows" in d:
        one = d["rows"][0]
        run = next((r for r in results["runs"] if r["bench"] == "grade"), {})
        text = (f"Load average {run.get('load_before', ['?'])[0]} before this benchmark and "
                f"{run.get('load_after', ['?'])[0]} after it (its own processes count). ")
        if one.get("busy_cores") and one["n"]:
            cores = results["machine"]["cores_usable"] or results["machine"]["cores"]
            two = d["rows"][-1]
            text += (
                f"The cores were not free for a second worker: while --jobs 1 graded, "
                f"{one['busy_cores']:.2f} of the {cores} cores were already busy on average "
                f"(machine-wide, from /proc/stat: this grader's pool worker, the sandboxed "
                f"worker it calls, the parent writing reports at "
                f"{one['parent_cpu_s'] / one['n']:.2f} s of CPU per submission, and other work on "
                f"the machine), and {two.get('busy_cores') or 0:.2f} during --jobs 2. Two workers "
                f"reach 2x only on cores nobody else uses: the goal is to be checked again on an "
                f"idle machine (or one with more cores than workers).")
        return text
    if bench == "train_step":
        return (
            "The step's elementwise work (ReLU, softmax, the update) and the temporaries it "
            "allocates are outside BLAS; on a loaded machine the GEMMs alone are the least "
            "disturbed part, so the ratio rises with the load.")
    if bench == "check":
        return "The check parses the notebook and the release and runs every rule; see bench_check.py."
    if bench == "losses":
        return (
            f"The vectorized loss is {d['vectorized_ms']:.2f} ms and its two matrix products alone "
            f"(X W and X^T dscores, timed in the same run) {d['gemm_ms']:.2f} ms: the rest of the "
            f"loss (the margins or the softmax, on an (N, C) = ({d['N']}, {d['C']}) array) costs more "
            f"than the goal allows. The naive loops take {d['naive_ms']:.0f} ms (information).")
    return ""


def render_doc(results: dict[str, Any]) -> str:
    """docs/benchmarks.md from the results of one run."""
    m, figures = results["machine"], results["figures"]
    lines = [
        "# Benchmarks",
        "",
        "Generated by `bench/run_all.py` (`make bench`); do not edit by hand, run it again. Every "
        "figure is a ratio (or a time) measured against its baseline **in the same run**: these "
        "machines are shared and noisy, and a side-by-side ratio says more than a time. Nothing "
        "in the test suite asserts anything about time.",
        "",
        f"Mode: **{results['mode']}**; the whole run took {results['seconds'] / 60:.1f} min. "
        f"Raw numbers: `build/bench/results.json`.",
        "",
        *[f"The {', '.join(r['benches'])} figures were measured again after that run, on "
          f"{r['date']} (commit {r['commit']}, load average {', '.join(map(str, r['load_average']))} "
          f"at the start), with `{r['command']}`; they replace that run's." for r in
          results.get("replaced", [])],
        *([""] if results.get("replaced") else []),
        "| figure | value | goal | met | baseline (same run) |",
        "|---|---|---|---|---|",
    ]
    for f in figures:
        lines.append(f"| {f['name']} | {_value(f)} | {_goal(f)} | {'yes' if f['met'] else '**no**'} | "
                     f"{f['baseline']} |")
    lines += ["", "## The machine", "",
              f"* CPU: {m['cpu']}; {m['cores']} cores ({m['cores_usable']} usable by this process)",
              f"* memory: {m['memory_gib']} GiB; {m['os']}",
              f"* Python {m['python']}, numpy {m['numpy']}; BLAS: {m['blas']}",
              f"* BLAS environment: {', '.join(f'{k}={v}' for k, v in m['blas_env'].items()) or 'none set'}",
              f"* load average (1, 5, 15 min) at the start: {', '.join(map(str, m['load_average']))}; "
              f"at the end: {', '.join(map(str, results['load_average_end']))}",
              f"* date: {m['date']}; commit {m['commit']}",
              "",
              "Load average before and after each benchmark:",
              "",
              "| benchmark | seconds | load before | load after |",
              "|---|---|---|---|"]
    for r in results["runs"]:
        lines.append(f"| `{r['command']}` | {r['seconds']:.0f} | {r['load_before'][0] if r['load_before'] else ''} "
                     f"| {r['load_after'][0] if r['load_after'] else ''} |")
    lines += ["", "## Reproduce", "",
              "```",
              ".venv/bin/python bench/run_all.py            # full mode (make bench), ~100 min on 2 cores (nbgrader: ~85)",
              ".venv/bin/python bench/run_all.py --class-size 20   # a smaller class against nbgrader",
              ".venv/bin/python bench/run_all.py --quick    # fewer repeats, 40 / 3 submissions, ~5 min",
              ".venv/bin/python bench/run_all.py --render build/bench/results.json  # the doc again, no run",
              ".venv/bin/python bench/run_all.py --only losses check   # some of them",
              ".venv/bin/python bench/run_all.py --replace build/bench/results.json --only startup"
              "   # again, in place of a full run's",
              "```", "",
              "Each figure alone:", ""]
    for f in figures:
        lines.append(f"* {f['name']}: `{f['command']}`")
    lines += ["", "## How each figure is measured", ""]
    for key in dict.fromkeys(f.get("bench") for f in figures):
        if key in METHOD:
            lines.append(f"* **{BENCHES[key][0]}**: {METHOD[key]}")
    missed = [f for f in figures if not f["met"]]
    failed = [r for r in results["runs"] if r.get("error")]
    lines += ["", "## Goals not met", ""]
    if not missed and not failed:
        lines.append("None in this run.")
    for r in failed:
        lines.append(f"* `{r['command']}` **failed** in this run, so its figures are missing: {r['error']}")
    for f in missed:
        lines.append(f"* **{f['name']}**: {_value(f)} against a goal of {_goal(f)}. {notes_for(f, results)}")
    for f in figures:
        if f.get("bench") == "startup":
            lines += ["", "## Start-up: the import profile", "",
                      f"{f['name']}: {_value(f)}. Slowest imports made at top level, cumulative "
                      "milliseconds (`python -X importtime`, one run in this benchmark):", "",
                      "| grader process, until it dispatches | ms | fork server, its preloads | ms |",
                      "|---|---|---|---|"]
            parent, server = f["details"]["parent_profile"], f["details"]["server_profile"]
            for k in range(max(len(parent), len(server))):
                cells = []
                for side in (parent, server):
                    cells += [f"`{side[k]['module']}`", str(side[k]["ms"])] if k < len(side) else ["", ""]
                lines.append("| " + " | ".join(cells) + " |")
            first = f["details"].get("imported_by_first_call") or []
            lines += ["", "Per run (seconds from launch; CPU seconds):", "",
                      "| dispatched | in a worker | parent CPU | fork server CPU | worker CPU |",
                      "|---|---|---|---|---|"]
            lines += [f"| {r['to_dispatch_s']} | {r['to_worker_s']} | {r['parent_cpu_s']} | "
                      f"{r['server_cpu_s']} | {r['worker_cpu_s']} |" for r in f["details"]["runs"]]
            if first:
                lines += ["", "Packages a worker imported during its first submission, not preloaded by "
                          "the fork server: " + ", ".join(f"`{m}`" for m in first) + "."]
    vs = [f for f in figures if f.get("bench") == "nbgrader" and "same_points" in f["details"]]
    if vs:
        lines += ["", "## Are the hidden tests equivalent? Points per student", "",
                  "Automatic points of the test groups (manual questions and the kit's deductions "
                  "left out), the kit's | nbgrader's. They differ where the graders differ by "
                  "design: nbgrader gives a grade cell 0 when its visible sanity checks fail or "
                  "anything is written to stderr (a warning), and runs the hidden tests in the "
                  "student's process (a monkeypatch reaches them); the kit grades the hidden "
                  "tests alone, with partial credit, in a sandbox. Also, the sample students' model "
                  "files come from the solution's run (the demo's builders edit TODO bodies after "
                  "it), so where a bug changes training nbgrader's re-run trains another model "
                  "than the one in the zip.", ""]
        for f in vs:
            d = f["details"]
            lines.append(f"* {f['name'].split(' (')[0]}: same points for {d['same_points']} of "
                         f"{d['submissions']} students.")
            for r in d["scores"]:
                diff = "; ".join(f"{g}: {a:g} vs {b:g}" for g, (a, b) in r["differ"].items())
                lines.append(f"  * {r['student']}: {r['autograder']:g} | {r['nbgrader']:g}"
                             + (f" (differ: {diff})" if diff else ""))
    lines += [""]
    return "\n".join(lines)


def replace(earlier: Path, keys: list[str], doc: Path | None) -> int:
    """Run `keys` again (full mode) and merge their figures and runs into `earlier`, e.g. a
    figure measured while the machine was busy, or after a change to its benchmark alone."""
    if not keys:
        raise SystemExit("--replace needs --only with the benchmarks to run again")
    results = json.loads(earlier.read_text())
    with tempfile.TemporaryDirectory(prefix="bench-replace-") as tmp:
        again = run(keys, "full", Path(tmp), None)
    results["figures"] = ([f for f in results["figures"] if f.get("bench") not in keys]
                          + again["figures"])
    results["runs"] = [r for r in results["runs"] if r["bench"] not in keys] + again["runs"]
    m = again["machine"]
    results.setdefault("replaced", []).append({
        "benches": keys, "date": m["date"], "commit": m["commit"], "load_average": m["load_average"],
        "command": ".venv/bin/python bench/run_all.py --replace build/bench/results.json --only "
                   + " ".join(keys)})
    earlier.write_text(json.dumps(results, indent=1) + "\n")
    if doc is not None:
        doc.write_text(render_doc(results))
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="fewer repeats and submissions (~5 min)")
    p.add_argument("--smoke", action="store_true", help=argparse.SUPPRESS)  # tests: plumbing only
    p.add_argument("--only", nargs="+", choices=list(BENCHES), help="run only these benchmarks")
    p.add_argument("--class-size", type=int,
                   help="students per assignment against nbgrader (default 100; --quick 3)")
    p.add_argument("--out", default=str(BUILD), help="where results.json goes (default build/bench)")
    p.add_argument("--doc", default=str(REPO / "docs" / "benchmarks.md"),
                   help="the Markdown report to write (default docs/benchmarks.md; '' for none)")
    p.add_argument("--render", metavar="RESULTS_JSON",
                   help="only write the doc again from an earlier run's results.json")
    p.add_argument("--replace", metavar="RESULTS_JSON",
                   help="run --only's benchmarks again and put their figures in place of theirs "
                        "in an earlier run's results.json (the doc says so)")
    args = p.parse_args(argv)
    if args.replace:
        return replace(Path(args.replace), args.only or [], Path(args.doc) if args.doc else None)
    if args.render:
        Path(args.doc).write_text(render_doc(json.loads(Path(args.render).read_text())))
        return 0
    mode = "smoke" if args.smoke else "quick" if args.quick else "full"
    run(args.only or list(BENCHES), mode, Path(args.out), Path(args.doc) if args.doc else None,
        args.class_size)
    return 0


if __name__ == "__main__":
    sys.exit(main())
