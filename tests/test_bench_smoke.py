"""bench/run_all.py's plumbing on tiny sizes: figures collected, results.json and the doc written.

Asserts only on structure, never on time (the benchmarks' figures are for docs/benchmarks.md).
"""

from __future__ import annotations

import importlib.util
import json
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
