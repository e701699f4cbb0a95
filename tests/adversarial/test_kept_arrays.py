"""Large arguments the worker keeps between calls (protocol.KeptArrays): data, never a handle.

A CIFAR-sized X crosses to the worker once and is then named by its slot. What a student could
try with that: make the grader resolve a slot (the grader's reader refuses both tags), name a
slot the worker never filled, change what the worker keeps to alter later calls, or change the
argument it got in place. Each call must still get its own pristine copy, and an array the
hidden test itself changed in place must be sent again, not named.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from test_sandbox import needs_bwrap

from autograder.grading import protocol
from autograder.grading.sandbox.caller import SandboxCaller

BIG = (256, 600)  # 1.2 MiB of float64: over KEEP_MIN_BYTES


def _frames(tagged: object, arrays: list[np.ndarray]) -> list[bytes]:
    head = json.dumps({"v": tagged, "n": len(arrays)}).encode()
    return [head] + [protocol.array_to_npy(a) for a in arrays]


def test_the_grader_refuses_a_reply_that_names_a_kept_array():
    with pytest.raises(protocol.ProtocolError, match="worker only"):
        protocol.decode(_frames({"t": "kept", "k": 0}, []))


def test_the_grader_refuses_a_reply_that_asks_it_to_keep_an_array():
    with pytest.raises(protocol.ProtocolError, match="worker only"):
        protocol.decode(_frames({"t": "nd", "i": 0, "keep": 1}, [np.zeros(3)]))


@pytest.mark.parametrize("slot", [-1, protocol.KEEP_SLOTS, "0", 1.0, None, True])
def test_a_slot_out_of_range_is_a_protocol_error(slot):
    with pytest.raises(protocol.ProtocolError, match="slot"):
        protocol.decode(_frames({"t": "kept", "k": slot}, []), store={})


def test_a_slot_the_worker_never_filled_is_a_protocol_error():
    with pytest.raises(protocol.ProtocolError, match="does not keep"):
        protocol.decode(_frames({"t": "kept", "k": 2}, []), store={})


def test_an_array_the_hidden_test_changed_in_place_is_sent_again():
    kept, X = protocol.KeptArrays(), np.ones(BIG)
    first = kept.node(X, arrays := [])
    assert first["t"] == "nd" and len(arrays) == 1
    assert kept.node(X, arrays) == {"t": "kept", "k": first["keep"]}
    X[3, 4] = -0.0 if X[3, 4] == 0 else 0.0  # one entry, even a sign of zero, is a change
    again = kept.node(X, arrays)
    assert again["t"] == "nd" and len(arrays) == 2


def test_an_equal_copy_is_sent_whole_and_small_arrays_are_never_kept():
    kept, X = protocol.KeptArrays(), np.ones(BIG)
    arrays: list[np.ndarray] = []
    kept.node(X, arrays)
    assert kept.node(X.copy(), arrays)["t"] == "nd"  # another object: never assumed equal
    frames = protocol.encode([np.ones(10), np.ones(10)], protocol.KeptArrays())
    assert b"keep" not in frames[0] and len(frames) == 3


def test_at_most_keep_slots_arrays_are_kept_and_the_oldest_slot_is_reused():
    kept = protocol.KeptArrays()
    arrays: list[np.ndarray] = []
    held = [np.full(BIG, float(i)) for i in range(protocol.KEEP_SLOTS + 1)]
    slots = [kept.node(a, arrays)["keep"] for a in held]
    assert sorted(slots[:-1]) == list(range(protocol.KEEP_SLOTS)) and slots[-1] == slots[0]
    assert kept.node(held[0], arrays)["t"] == "nd"  # its slot now holds another array


CLOBBER = '''
import gc
import numpy as np


def total(X):
    """Returns the sum it was given, then ruins every large array it can reach: the argument
    in place, and what the worker keeps (its frame reader's store, found through the garbage
    collector: the store dict itself holds only ints and arrays, so gc does not track it)."""
    s = float(X.sum())
    X[...] = 0.0
    for obj in gc.get_objects():
        store = getattr(obj, "store", None) if type(obj).__name__ == "FrameReader" else None
        for value in list((store or {}).values()):
            value[...] = -1.0
    return s
'''


@pytest.mark.parametrize("level", ["process", pytest.param("bwrap", marks=needs_bwrap)])
def test_every_call_gets_its_own_pristine_copy_whatever_the_code_did_to_the_last(level):
    """A call's in-place change of its argument must not reach the next call's input. Code that
    also reaches the worker's kept copies changes only its own later inputs: the grader still
    holds and compares its own X."""
    X = np.random.default_rng(0).standard_normal(BIG)
    expected = float(X.sum())
    with SandboxCaller(CLOBBER, level, guard=False) as caller:
        # two calls in one message: each its own copy, taken before any student code ran
        assert caller.call_many("total", [((X,), {}), ((X,), {})], seed=0) == [expected, expected]
        later = caller.call_many("total", [((X,), {})], seed=0)
    assert np.array_equal(X, np.random.default_rng(0).standard_normal(BIG))  # the grader's X
    # the worker's kept copy was ruined by the code itself: only its own later input changed
    assert later == [-1.0 * X.size]


def test_an_honest_in_place_update_is_unaffected_by_keeping():
    source = '''
import numpy as np


def centred_sum(X):
    X -= X.mean(axis=0)  # in place, as many honest students write it
    return float(np.abs(X).sum())
'''
    X = np.random.default_rng(1).standard_normal(BIG)
    expected = float(np.abs(X - X.mean(axis=0)).sum())
    with SandboxCaller(source, "process") as caller:
        got = [caller.call_many("centred_sum", [((X,), {})], seed=0)[0] for _ in range(3)]
    assert got == pytest.approx([expected] * 3, rel=1e-12)
