"""bench/run_all.py's plumbing on tiny sizes: figures collected, results.json and the doc written.

Asserts only on structure, never on time (the benchmarks' figures are for docs/benchmarks.md).
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

BENCH = Path(__file__).resolve().parent.parent / "bench"
FIGURE_KEYS = {"name", "value", "unit", "goal", "met", "baseline", "command"}


def _run_all() -> ModuleType:
    sys.path.insert(0, str(BENCH))
    spec = importlib.util.spec_from_file_location("bench_run_all", BENCH / "run_all.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, str]:
    tmp = tmp_path_factory.mktemp("bench")
    _run_all().main(["--smoke", "--only", "losses", "train_step", "check",
                     "--out", str(tmp), "--doc", str(tmp / "benchmarks.md")])
    return json.loads((tmp / "results.json").read_text()), (tmp / "benchmarks.md").read_text()


def test_every_figure_has_the_results_json_fields(smoke_run: tuple[dict, str]) -> None:
    results, _doc = smoke_run
    assert {f["bench"] for f in results["figures"]} == {"losses", "train_step", "check"}
    for f in results["figures"]:
        assert FIGURE_KEYS <= set(f)
        assert isinstance(f["value"], float) and isinstance(f["met"], bool)
        assert f["goal"].split()[0] in (">=", "<=")
        assert f["command"].startswith(".venv/bin/python bench/")


def test_results_record_the_machine_and_each_run(smoke_run: tuple[dict, str]) -> None:
    results, _doc = smoke_run
    assert results["mode"] == "smoke"
    for key in ("cpu", "cores", "memory_gib", "python", "numpy", "blas", "load_average", "date"):
        assert key in results["machine"]
    assert [r["bench"] for r in results["runs"]] == ["losses", "train_step", "check"]


def test_the_doc_has_the_table_the_machine_and_how_to_reproduce(smoke_run: tuple[dict, str]) -> None:
    results, doc = smoke_run
    assert "| figure | value | goal | met | baseline (same run) |" in doc
    assert "## The machine" in doc and "## Reproduce" in doc and "## Goals not met" in doc
    for f in results["figures"]:
        assert f["name"] in doc


def test_a_goal_is_met_or_not_by_its_operator() -> None:
    sys.path.insert(0, str(BENCH))
    from common import meets

    assert meets(25.0, ">= 20") and not meets(19.9, ">= 20")
    assert meets(0.15, "<= 0.2") and not meets(0.3, "<= 0.2")


def test_the_class_against_nbgrader_is_100_by_default_and_a_parameter() -> None:
    run_all = _run_all()
    assert run_all.bench_args("nbgrader", "full")[:2] == ["-n", "100"]
    assert run_all.bench_args("nbgrader", "full", class_size=7)[:2] == ["-n", "7"]
    smoke = run_all.bench_args("nbgrader", "smoke")
    assert smoke[:2] == ["-n", "1"] and smoke[2:] == ["--assignments", "A3"]


def test_run_measured_counts_the_cpu_of_a_descendant_left_orphaned() -> None:
    # the command starts a grandchild that outlives it (as a grader's fork server does) and
    # burns 0.3 s of its own CPU: the measured tree CPU includes it only if it was reaped
    burn = ("import time\nt = time.process_time()\nwhile time.process_time() - t < 0.3: pass\n")
    command = ("import subprocess, sys; "
               f"subprocess.Popen([sys.executable, '-c', {burn!r}], start_new_session=True)")
    code = ("import sys; sys.path.insert(0, sys.argv[1]); from common import become_subreaper, "
            "run_measured; assert become_subreaper(); "
            f"print(run_measured([sys.executable, '-c', {command!r}])[1])")
    out = subprocess.run([sys.executable, "-c", code, str(BENCH)], capture_output=True, text=True,
                         check=True).stdout
    assert float(out) >= 0.3


def test_top_imports_keeps_top_level_imports_before_the_dispatch_slowest_first() -> None:
    sys.path.insert(0, str(BENCH))
    from bench_startup import top_imports

    log = "\n".join([
        "import time: self [us] | cumulative | imported package",
        "import time:       100 |        900 |   nested.inner",
        "import time:        50 |       1000 | small",
        "import time:        10 |       5000 | big",
        "something else on stderr",
        "startup_probe: first submission dispatched",
        "import time:        10 |       9000 | after_the_dispatch",
    ])
    assert top_imports(log) == [{"module": "big", "ms": 5.0}, {"module": "small", "ms": 1.0}]


def test_the_doc_shows_the_start_up_import_profile(smoke_run: tuple[dict, str]) -> None:
    results, _doc = smoke_run
    row = {"to_dispatch_s": 0.5, "to_worker_s": 0.9, "parent_cpu_s": 0.4, "server_cpu_s": 0.3,
           "worker_cpu_s": 0.01}
    startup = {"name": "fixed start-up of autograder grade (A3)", "value": 0.9, "unit": "s",
               "goal": "<= 1", "met": True, "baseline": "python -c pass: 20 ms",
               "command": ".venv/bin/python bench/bench_startup.py", "bench": "startup",
               "details": {"runs": [row], "cpu_on_path_s": 0.71, "sweep_scan_s": 0.1,
                           "load_average": [1.0, 1.0, 1.0],
                           "parent_profile": [{"module": "autograder.grading.grade", "ms": 310.0}],
                           "server_profile": [{"module": "numpy", "ms": 120.0},
                                              {"module": "nbformat", "ms": 90.0}],
                           "imported_by_first_call": ["tarfile"]}}
    doc = _run_all().render_doc({**results, "figures": [*results["figures"], startup]})
    assert "## Start-up: the import profile" in doc
    assert "| `autograder.grading.grade` | 310.0 | `numpy` | 120.0 |" in doc
    assert "|  |  | `nbformat` | 90.0 |" in doc


def test_replace_puts_a_benchmark_run_again_in_place_of_its_figures(
        smoke_run: tuple[dict, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    results, _doc = smoke_run
    earlier = tmp_path / "results.json"
    earlier.write_text(json.dumps(results))
    run_all = _run_all()
    real_run = run_all.run
    monkeypatch.setattr(run_all, "run", lambda keys, mode, out, doc, size=None:
                        real_run(keys, "smoke", out, doc, size))  # tiny sizes, as the smoke run
    run_all.main(["--replace", str(earlier), "--only", "check", "--doc", str(tmp_path / "b.md")])
    merged = json.loads(earlier.read_text())
    assert [r["bench"] for r in merged["runs"]] == ["losses", "train_step", "check"]
    assert sum(f["bench"] == "check" for f in merged["figures"]) == sum(
        f["bench"] == "check" for f in results["figures"])
    assert merged["replaced"][0]["benches"] == ["check"]
    assert "The check figures were measured again after that run" in (tmp_path / "b.md").read_text()
