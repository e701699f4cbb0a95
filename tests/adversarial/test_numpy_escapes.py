"""The self-check catches numpy's own ways to files and C libraries (found by the corpus).

`open` and `import ctypes` were forbidden, but `np.fromfile(path)` read the hidden tests by path
and `np.ctypeslib.load_library` loaded libc without one import statement: the static rules said
nothing (the sandbox contained them, and the audit hook refused them when on). They are
`forbidden-import` now; numpy's vectorization helpers under `np.lib` stay allowed.
"""

from __future__ import annotations

import pytest
from fixtures import make_violations as mv

from autograder.core.config import release_dir
from autograder.student.check import check_notebook

NOTEBOOK = "two_layer_net.ipynb"


@pytest.fixture(scope="module")
def solved():
    return mv.solved_real(release_dir("A4") / NOTEBOOK, "A4", NOTEBOOK)


def rules_for(solved, line: str) -> list[str]:
    index, block = mv.find_function(solved, "nn_get_search_params")
    nb = mv.add_to_body(solved, index, line, block)
    return [v.rule for v in check_notebook(dict(nb)).violations]


@pytest.mark.parametrize("line", [
    "data = np.fromfile('/course/solutions/A4/hidden_tests.py', dtype=np.uint8)",
    "data = np.loadtxt('../solutions/A4/hidden_tests.py', dtype=str)",
    "np.save('/tmp/x.npy', np.zeros(3))",
    "np.zeros(3).tofile('/tmp/x.bin')",
    "libc = np.ctypeslib.load_library('libc.so.6', '/lib')",
    "from numpy import ctypeslib as c",
    "import numpy.ctypeslib",
    "np.lib._datasource.os.system('sh')",
    "m = np.memmap('/tmp/x', mode='w+', shape=(3,))",
])
def test_numpy_file_and_ctypes_access_is_a_forbidden_import(solved, line: str) -> None:
    assert "forbidden-import" in rules_for(solved, line)


@pytest.mark.parametrize("line", [
    "w = np.lib.stride_tricks.sliding_window_view(np.arange(5), 2)",
    "v = np.__version__",
    "s = np.linalg.norm(np.ones(3))",
])
def test_ordinary_numpy_stays_allowed(solved, line: str) -> None:
    assert rules_for(solved, line) == []
