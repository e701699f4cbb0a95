"""Red team: graded code cannot stand in for, or change, the assignment's stubs.

A stub is what a hidden test observes a student's function through (A4's nn_probe_loss reads
the learning-rate schedule off the updates). Graded code that defines a function of the same
name, or that rewrites the stub it is handed, must not change what the next call sees.
"""

from __future__ import annotations

import numpy as np

from autograder.grading.hidden import Stubs
from autograder.grading.protocol import FuncRef
from autograder.grading.sandbox import Limits, SandboxCaller

FAST = Limits(call_timeout_s=5.0, load_timeout_s=20.0)

STUBS = Stubs.from_source('''
import numpy as np


def ones_loss(W):
    return np.float64(0.0), np.ones_like(W)
''')

SHADOW = '''
import numpy as np


def ones_loss(W):
    """Same name as the stub: a loss whose gradient is zero (the student's own)."""
    return np.float64(0.0), np.zeros_like(W)


def step(loss_func, W):
    _, dW = loss_func(W)
    return W - dW
'''

TAMPER = SHADOW + '''

def tamper(loss_func, W):
    """Rewrites the stub it is handed (its code and its module's numpy) for later calls."""
    loss_func.__code__ = ones_loss.__code__
    loss_func.__globals__["np"] = None
    return W
'''


def test_a_student_function_named_like_a_stub_is_not_the_stub():
    with SandboxCaller(SHADOW, limits=FAST, guard=False, stubs=STUBS) as c:
        W = np.zeros((2, 2))
        assert c.call("step", [FuncRef("stub", "ones_loss"), W], {}, 0).tolist() == [[-1, -1], [-1, -1]]
        assert c.call("step", [FuncRef("student", "ones_loss"), W], {}, 0).tolist() == [[0, 0], [0, 0]]


def test_a_stub_rewritten_by_graded_code_is_fresh_in_the_next_worker():
    with SandboxCaller(TAMPER, limits=FAST, guard=False, stubs=STUBS) as c:
        W = np.zeros((2, 2))
        c.call("tamper", [FuncRef("stub", "ones_loss"), W], {}, 0)
    # Each submission gets a fresh worker: what one submission did to a stub is gone.
    with SandboxCaller(SHADOW, limits=FAST, guard=False, stubs=STUBS) as c:
        assert c.call("step", [FuncRef("stub", "ones_loss"), np.zeros((2, 2))], {}, 0).tolist() == [
            [-1, -1], [-1, -1]]
