"""Forged frames on the result pipe: the trusted side reads them within hard bounds.

Student code (guard off: it is no boundary) finds the result pipe's fd on the worker's command
line and writes its own frames before returning. The grader must refuse what is out of bounds
without reading or parsing it, keep its memory bounded for what is inside the bounds, give the
attacking function 0 points, and grade the rest of the submission as usual.
"""

from __future__ import annotations

import tracemalloc

import pytest
from test_engine import HONEST, by_name, grade

from autograder.grading import protocol

FORGE = '''
import json
import os
import struct
import sys
fd = int(sys.argv[sys.argv.index("--out") + 1])
f = sys._getframe()  # the request id, from the worker's frames, so the reply is accepted
while f is not None and not hasattr(f.f_locals.get("self"), "request_id"):
    f = f.f_back
rid = str(f.f_locals["self"].request_id).encode()


def frame(data):
    os.write(fd, struct.pack("<I", len(data)) + data)


def npy(count, descr="<f8"):
    import io
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": descr, "fortran_order": False,
                                               "shape": (count,)})
    return buf.getvalue()


def send_array(count, descr="<f8", itemsize=8):
    frame(b'{"v":{"t":"dict","v":[["ok",true],["id",' + rid + b'],["value",[{"t":"nd","i":0}]]]},"n":1}')
    header = npy(count, descr)
    os.write(fd, struct.pack("<I", len(header) + itemsize * count) + header)
    left = itemsize * count
    chunk = bytes(2**20)
    while left:
        left -= os.write(fd, chunk[:min(left, len(chunk))])
'''


def forged(attack: str) -> str:
    """The honest module, with `add` writing `attack`'s frames before its honest return."""
    attack = "if type(a) is np.ndarray:  # the first call (arrays)\n" + "\n".join(
        "    " + line for line in attack.strip("\n").splitlines())
    body = "\n".join("    " + line for line in (FORGE + attack).strip("\n").splitlines())
    return HONEST.replace("    return a + b", body + "\n    return a + b")


def grade_traced(source: str) -> tuple[dict, int]:
    """Grade; the add test's entry and the peak of Python allocations in the grader meanwhile."""
    tracemalloc.start()
    try:
        result = grade(source)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    tests = by_name(result)
    assert tests["loss_matches_reference"]["status"] == "passed"  # the rest is graded
    return tests["add_matches_reference"], peak


MIB = 2**20


def test_a_16_mib_json_head_of_empty_lists_is_refused_unread():
    entry, peak = grade_traced(forged('frame(b"[" + b"[]," * (16 * 2**20 // 3) + b"[]]")'))
    assert entry["score"] < entry["max_score"] and "BadResult" in entry["message"]
    assert peak < 32 * MIB


def test_a_head_at_the_cap_full_of_lists_is_refused_before_parsing():
    cap = protocol.MAX_HEAD
    entry, peak = grade_traced(forged(f'frame((b"[" + b"[]," * {cap})[:{cap} - 3] + b"[]]")'))
    assert entry["score"] < entry["max_score"] and "lists or dicts" in entry["message"]
    assert peak < 32 * MIB


def test_a_valid_head_at_the_cap_is_parsed_once_within_bounded_memory():
    """Accepted as the reply (it carries the request's id): the real reply, late, is skipped."""
    cap, lists = protocol.MAX_HEAD, protocol.MAX_HEAD_CONTAINERS - 8
    entry, peak = grade_traced(forged(f'''
start = b'{{"v":{{"t":"dict","v":[["ok",true],["id",' + rid + b'],["value",[[' + b",".join([b"[]"] * {lists})
end = b']]]]}},"n":0}}'
head = start + b",0.1" * (({cap} - len(start) - len(end)) // 4) + end
frame(head + b" " * ({cap} - len(head)))
'''))
    assert entry["score"] < entry["max_score"] and entry["status"] == "failed"
    assert peak < 48 * MIB


def test_an_array_over_the_replys_budget_is_refused():
    # add's arguments are two (4, 3) arrays: the budget is 16 MiB and 384 bytes.
    entry, peak = grade_traced(forged("send_array((16 * 2**20 + 2 * 192) // 8 + 1)"))
    assert entry["score"] < entry["max_score"] and "over" in entry["message"]
    assert peak < 48 * MIB


def test_an_array_at_the_budget_is_read_once_and_fails_the_comparison():
    entry, peak = grade_traced(forged("send_array((16 * 2**20 + 2 * 192) // 8)"))
    assert entry["score"] < entry["max_score"] and entry["status"] == "failed"
    assert peak < 48 * MIB  # one copy of the 16 MiB, not three


def test_a_head_announcing_more_arrays_than_the_call_can_return_is_refused():
    entry, _ = grade_traced(forged('frame(json.dumps({"v": None, "n": 50000}).encode())'))
    assert entry["score"] < entry["max_score"] and "arrays in one message" in entry["message"]


@pytest.mark.parametrize("descr", ["<f16", "|O", "<c16"])
def test_arrays_of_a_dtype_no_graded_function_returns_are_refused(descr):
    entry, _ = grade_traced(forged(f'send_array(4, "{descr}", 16)'))
    assert entry["score"] < entry["max_score"] and "refused" in entry["message"]


def test_an_array_of_300_dimensions_is_refused_not_a_grader_crash():
    # numpy cannot make it (at most 64 dimensions): it must be a refused frame, not a ValueError
    entry, _ = grade_traced(forged('''
frame(b'{"v":{"t":"dict","v":[["ok",true],["id",' + rid + b'],["value",[{"t":"nd","i":0}]]]},"n":1}')
import io
buf = io.BytesIO()
np.lib.format.write_array_header_1_0(buf, {"descr": "<f8", "fortran_order": False, "shape": (1,) * 300})
data = buf.getvalue() + bytes(8)
os.write(fd, struct.pack("<I", len(data)) + data)
'''))
    assert entry["score"] < entry["max_score"] and "dimensions" in entry["message"]
