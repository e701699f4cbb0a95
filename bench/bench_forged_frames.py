"""Benchmark: the grader's peak memory when student code forges frames on the result pipe.

    .venv/bin/python bench/bench_forged_frames.py [--assignment A3]

Grades the assignment's reference solution through the sandboxed engine (guard off, as a
hostile student would have it), once honestly and once per forged-frame scenario, each in a
fresh process, and prints each run's peak resident memory (the grading process only: the
worker is a child) as a ratio against the honest run of the same command. The forging code
sits at the top of the first graded function's body: on its first call it writes the forged
frames straight to the worker's result pipe (its fd is on the worker's command line), then
returns the honest value. The goal (issue: bounded reads on the trusted side) is at most 2x.
Prints figures and asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

from autograder.grading import protocol

SCENARIOS = {
    "honest": "the reference, no forgery (the baseline)",
    "head-16mib-lists": "a 16 MiB JSON head `[[],[],...]` (the issue's attack)",
    "head-at-cap-lists": f"a JSON head of exactly {protocol.MAX_HEAD} bytes of `[[],[],...]`",
    "head-at-cap-valid": f"a valid reply head of {protocol.MAX_HEAD} bytes (floats and "
                         f"{protocol.MAX_HEAD_CONTAINERS - 8} lists: parsed)",
    "array-at-cap": "one array frame of exactly the reply's array budget (accepted)",
    "array-over-cap": "one array frame 8 bytes over the reply's array budget (refused)",
    "many-arrays": f"a head announcing {protocol.MAX_ARRAYS} arrays (refused)",
}

FORGE = '''

_FORGED = []


def _forge(args):
    """Write a forged reply on the result pipe, once."""
    if _FORGED:
        return
    _FORGED.append(1)
    import json as _json
    import os as _os
    import struct as _struct
    import sys as _sys
    fd = int(_sys.argv[_sys.argv.index("--out") + 1])
    f = _sys._getframe()  # the request's id, from the worker's frames: the reply is accepted
    while f is not None and not hasattr(f.f_locals.get("self"), "request_id"):
        f = f.f_back
    rid = str(f.f_locals["self"].request_id).encode()

    def frame(data):
        _os.write(fd, _struct.pack("<I", len(data)) + data)

    scenario = {scenario!r}
    cap = {max_head}
    if scenario == "head-16mib-lists":
        frame(b"[" + b"[]," * (16 * 2**20 // 3) + b"[]]")
    elif scenario == "head-at-cap-lists":
        frame((b"[" + b"[]," * cap)[:cap - 3] + b"[]]")
    elif scenario == "head-at-cap-valid":
        lists = b",".join([b"[]"] * ({containers} - 8))
        start = b'{{"v":{{"t":"dict","v":[["ok",true],["id",' + rid + b'],["value",[[' + lists
        end = b']]]]}},"n":0}}'
        floats = b",0.1" * ((cap - len(start) - len(end)) // 4)
        head = start + floats + end
        frame(head + b" " * (cap - len(head)))
    elif scenario in ("array-at-cap", "array-over-cap"):
        budget = 2 * sum(a.nbytes for a in args if type(a) is np.ndarray) + 16 * 2**20
        count = budget // 8 + (1 if scenario == "array-over-cap" else 0)
        frame(b'{{"v":{{"t":"dict","v":[["ok",true],["id",' + rid
              + b'],["value",[{{"t":"nd","i":0}}]]]}},"n":1}}')
        header = {{"descr": "<f8", "fortran_order": False, "shape": (count,)}}
        import io as _io
        buf = _io.BytesIO()
        np.lib.format.write_array_header_1_0(buf, header)
        data = buf.getvalue()
        _os.write(fd, _struct.pack("<I", len(data) + 8 * count) + data)
        chunk = bytes(2**20)
        left = 8 * count
        while left:
            n = _os.write(fd, chunk[:min(left, len(chunk))])
            left -= n
    elif scenario == "many-arrays":
        frame(_json.dumps({{"v": None, "n": {max_arrays}}}).encode())
'''


def forged_source(source: str, function: str, scenario: str) -> str:
    """The module with `_forge(args)` called at the top of `function`'s body."""
    lines = source.splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith(f"def {function}("))
    params = lines[at][len(f"def {function}("):lines[at].index(")")]
    names = [p.split("=")[0].strip() for p in params.split(",") if p.strip()]
    lines.insert(at + 1, f"    _forge(({', '.join(names)},))")
    return "\n".join(lines) + FORGE.format(
        scenario=scenario, max_head=protocol.MAX_HEAD, containers=protocol.MAX_HEAD_CONTAINERS,
        max_arrays=protocol.MAX_ARRAYS)


def run_one(assignment: str, scenario: str) -> dict:
    """Grade once in this process; peak RSS of this process (KiB) and what happened."""
    from autograder.core.config import REPO_ROOT, load_config
    from autograder.core.module import load_trusted_module, module_source
    from autograder.core.notebook import read_notebook
    from autograder.grading.engine import grade_module
    from autograder.grading.hidden import load_tests_module

    sol = REPO_ROOT / "solutions" / assignment
    config = load_config(sol / "assignment.toml")
    cells = [c for nb in config.notebooks for c in read_notebook(sol / nb).cells]
    source = module_source(cells)
    ref = load_trusted_module(source, f"ref_{assignment}")
    tests = load_tests_module(sol / "hidden_tests.py")
    first = next(iter(config.tests))
    student = source if scenario == "honest" else forged_source(source, first, scenario)
    start = time.perf_counter()
    result = grade_module(student, config, tests, ref, None, guard=False, prestart=False)
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    bad = [t for t in result.tests if t["status"] != "passed"]
    return {"peak_kib": peak, "seconds": round(seconds, 2), "sandbox": result.sandbox,
            "not_passed": [" ".join(f"{t['name']}: {t['status']}: {t['message']}".split())[:110]
                           for t in bad]}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--assignment", default="A3")
    p.add_argument("--scenario", help=argparse.SUPPRESS)  # one run, in a child process
    args = p.parse_args(argv)
    if args.scenario:
        print(json.dumps(run_one(args.assignment, args.scenario)))
        return 0
    print(f"{args.assignment} reference graded once per scenario, each in a fresh process; "
          "peak RSS of the grading process")
    print(f"{'scenario':<20}{'peak MiB':>10}{'x honest':>10}  what the grader did")
    honest = None
    for scenario, what in SCENARIOS.items():
        done = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--assignment",
                               args.assignment, "--scenario", scenario],
                              capture_output=True, text=True, timeout=900)
        if done.returncode:
            print(f"{scenario:<20} failed: {done.stderr[-500:]}")
            continue
        res = json.loads(done.stdout.strip().splitlines()[-1])
        mib = res["peak_kib"] / 1024
        honest = honest or mib
        outcome = "; ".join(res["not_passed"][:1]) or "all tests passed"
        print(f"{scenario:<20}{mib:>10.1f}{mib / honest:>9.2f}x  {outcome}")
        print(f"{'':<40}  ({what}; {res['seconds']} s, sandbox {res['sandbox']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
