"""Hidden tests of A2 (backprop basics). Instructor only: never released.

Each test belongs to the group named in `@hidden_test(...)` (a grade cell's grade_id, points in
`[tests]` of assignment.toml). Inputs come from `ctx.rng`; the student's code runs through
`ctx.call` (in the sandbox when grading); `ctx.ref` is the reference (the solution notebook).

Conventions, as in A3 and A4:
* every value and every gradient is its own test or case, so partial work earns partial credit;
* a self-consistency test (the gradient against the function's own value) `requires` the value
  to match the reference first: `(0.0, zeros, zeros)` is consistent with itself;
* ReLU and max inputs stay at least 0.1 away from their kink; the tie and the exact 0 are cases
  of their own, with the convention the notebook states (max routes to x on a tie, ReLU's
  gradient at 0 is 0);
* messages never show an expected value (ctx.assert_close reports counts and bands only).
"""

from __future__ import annotations

import numpy as np

from autograder.grading.hidden import hidden_test

SIGMOID_NEURON = """The sigmoid neuron of Part 2 as a graph, nodes in a scrambled order."""
NEURON_SPEC = [
    ["f", "Sigmoid", ["s"]],
    ["s", "Add", ["ab", "w2"]],
    ["a", "Multiply", ["w0", "x0"]],
    ["ab", "Add", ["a", "b"]],
    ["b", "Multiply", ["w1", "x1"]],
]


def _away_from_zero(rng, shape, low=0.1, high=2.0):
    x = rng.uniform(low, high, size=shape)
    return x * rng.choice([-1.0, 1.0], size=shape)


# --------------------------------------------------------------------------- Part 1


@hidden_test("simple_graph", weight=1)
def simple_graph_value_matches_reference(ctx):
    cases = [("the lecture's numbers", (-2.0, 5.0, -4.0))]
    cases += [(f"random inputs {i}", tuple(ctx.rng.normal(scale=3, size=3))) for i in range(3)]
    for label, (x, y, z) in cases:
        with ctx.case(label):
            ctx.assert_close(ctx.call("simple_graph", x, y, z)[0], ctx.ref.simple_graph(x, y, z)[0], what="f")


@hidden_test("simple_graph", weight=3)
def simple_graph_gradients_match_reference(ctx):
    cases = [("the lecture's numbers", (-2.0, 5.0, -4.0)), ("z = 0", (1.5, -0.5, 0.0))]
    cases += [(f"random inputs {i}", tuple(ctx.rng.normal(scale=3, size=3))) for i in range(3)]
    for label, (x, y, z) in cases:
        with ctx.case(label):
            got = ctx.call("simple_graph", x, y, z)
            ref = ctx.ref.simple_graph(x, y, z)
            ctx.assert_close(np.asarray(got[1:], dtype=float), np.asarray(ref[1:]), what="(df/dx, df/dy, df/dz)")


# --------------------------------------------------------------------------- Part 2


def _neuron_inputs(ctx):
    cases = [("the lecture's numbers", np.array([2.0, -3.0, -3.0]), np.array([-1.0, -2.0]))]
    cases += [(f"random inputs {i}", ctx.rng.normal(size=3), ctx.rng.normal(size=2)) for i in range(3)]
    cases.append(("a large pre-activation", np.array([3.0, 4.0, 2.0]), np.array([2.0, 1.5])))
    return cases


@hidden_test("sigmoid_neuron", weight=2)
def sigmoid_neuron_value_matches_reference(ctx):
    for label, w, x in _neuron_inputs(ctx):
        with ctx.case(label):
            ctx.assert_close(ctx.call("sigmoid_neuron", w, x)[0], ctx.ref.sigmoid_neuron(w, x)[0], what="f")


@hidden_test("sigmoid_neuron", weight=3)
def sigmoid_neuron_dw_matches_reference(ctx):
    for label, w, x in _neuron_inputs(ctx):
        with ctx.case(label):
            ctx.assert_close(ctx.call("sigmoid_neuron", w, x)[1], ctx.ref.sigmoid_neuron(w, x)[1], what="dw")


@hidden_test("sigmoid_neuron", weight=3)
def sigmoid_neuron_dx_matches_reference(ctx):
    for label, w, x in _neuron_inputs(ctx):
        with ctx.case(label):
            ctx.assert_close(ctx.call("sigmoid_neuron", w, x)[2], ctx.ref.sigmoid_neuron(w, x)[2], what="dx")


@hidden_test("sigmoid_neuron", weight=2, requires="sigmoid_neuron_value_matches_reference")
def sigmoid_neuron_gradients_agree_with_its_value(ctx):
    w, x = ctx.rng.normal(size=3), ctx.rng.normal(size=2)
    with ctx.case("dw, numerically"):
        ctx.check_gradient("sigmoid_neuron", (w, x), wrt=0, analytic=ctx.call("sigmoid_neuron", w, x)[1])
    with ctx.case("dx, numerically"):
        ctx.check_gradient("sigmoid_neuron", (w, x), wrt=1, analytic=ctx.call("sigmoid_neuron", w, x)[2])


# --------------------------------------------------------------------------- Part 3


@hidden_test("gradient_patterns")
def add_distributes(ctx):
    for label, dz in (("a float", 1.7), ("an array", ctx.rng.normal(size=(2, 3)))):
        with ctx.case(label):
            dx, dy = ctx.call("add_backward", dz)
            ctx.assert_close(dx, ctx.ref.add_backward(dz)[0], what="dx")
            ctx.assert_close(dy, ctx.ref.add_backward(dz)[1], what="dy")


@hidden_test("gradient_patterns")
def copy_adds(ctx):
    for label, (a, b) in (("floats", (0.5, -2.25)), ("arrays", ctx.rng.normal(size=(2, 4)))):
        with ctx.case(label):
            ctx.assert_close(ctx.call("copy_backward", a, b), ctx.ref.copy_backward(a, b), what="dx")


@hidden_test("gradient_patterns")
def mul_swaps(ctx):
    x, y, dz = ctx.rng.normal(size=(3, 5))
    with ctx.case("arrays"):
        got, ref = ctx.call("mul_backward", x, y, dz), ctx.ref.mul_backward(x, y, dz)
        ctx.assert_close(got[0], ref[0], what="dx")
        ctx.assert_close(got[1], ref[1], what="dy")


@hidden_test("gradient_patterns")
def max_routes(ctx):
    x = _away_from_zero(ctx.rng, 6)
    y = x + _away_from_zero(ctx.rng, 6)  # never equal: the tie is its own case
    dz = ctx.rng.normal(size=6)
    for label, args in (("distinct inputs", (x, y, dz)),
                        ("a tie goes to x", (np.array([1.0, 2.0]), np.array([1.0, -1.0]), np.array([3.0, 4.0])))):
        with ctx.case(label):
            got, ref = ctx.call("max_backward", *args), ctx.ref.max_backward(*args)
            ctx.assert_close(got[0], ref[0], what="dx")
            ctx.assert_close(got[1], ref[1], what="dy")


# --------------------------------------------------------------------------- Part 4


def _gate_cases(ctx):
    rng = ctx.rng
    return [
        ("Add", [rng.normal(size=(2, 3)), rng.normal(size=(2, 3))], rng.normal(size=(2, 3))),
        ("Multiply", [rng.normal(size=4), rng.normal(size=4)], rng.normal(size=4)),
        ("Sigmoid", [rng.normal(scale=3, size=(3, 2))], rng.normal(size=(3, 2))),
        ("ReLU", [_away_from_zero(rng, (2, 5))], rng.normal(size=(2, 5))),
        ("ReLU at exactly 0", [np.array([0.0, 1.5, -2.0, 0.0])], np.array([1.0, 2.0, 3.0, 4.0])),
        ("MatMul", [rng.normal(size=(3, 4)), rng.normal(size=(4, 2))], rng.normal(size=(3, 2))),
    ]


@hidden_test("modular_api", weight=2)
def gates_forward_match_reference(ctx):
    for label, inputs, grad in _gate_cases(ctx):
        gate = label.split()[0]
        with ctx.case(label):
            out, _ = ctx.call("gate_forward_backward", gate, inputs, grad)
            ctx.assert_close(out, ctx.ref.gate_forward_backward(gate, inputs, grad)[0], what=f"{gate} output")


@hidden_test("modular_api", weight=3)
def gates_backward_match_reference(ctx):
    for label, inputs, grad in _gate_cases(ctx):
        gate = label.split()[0]
        with ctx.case(label):
            _, got = ctx.call("gate_forward_backward", gate, inputs, grad)
            _, ref = ctx.ref.gate_forward_backward(gate, inputs, grad)
            if ctx.check(len(got) == len(ref), f"{gate}.backward returns one gradient per input",
                         f"{len(got)} returned for {len(ref)} input(s)"):
                for i, (g, r) in enumerate(zip(got, ref)):
                    ctx.assert_close(g, r, what=f"{gate} gradient of input {i}")


def _graph_cases(ctx):
    w, x = ctx.rng.normal(size=3), ctx.rng.normal(size=2)
    neuron = {"w0": w[0], "x0": x[0], "w1": w[1], "x1": x[1], "w2": w[2]}
    branching = [["y", "Add", ["p", "q"]], ["p", "Multiply", ["x", "x"]], ["q", "Sigmoid", ["x"]]]
    deep = [["h", "ReLU", ["a"]], ["a", "MatMul", ["X", "W1"]], ["s", "MatMul", ["h", "W2"]],
            ["L", "MatMul", ["s", "one"]]]
    X = ctx.rng.normal(size=(4, 3))
    W1 = ctx.rng.normal(size=(3, 5))
    while np.min(np.abs(X @ W1)) < 0.05:  # ReLU inputs away from the kink
        W1 = ctx.rng.normal(size=(3, 5))
    mlp = {"X": X, "W1": W1, "W2": ctx.rng.normal(size=(5, 1)), "one": np.ones((1, 1))}
    return [("the sigmoid neuron, nodes out of order", NEURON_SPEC, neuron, "f"),
            ("a value used by two gates (gradients add up)", branching, {"x": 0.7}, "y"),
            ("x used twice by one gate", [["y", "Multiply", ["x", "x"]]], {"x": -1.3}, "y"),
            ("MatMul, ReLU, MatMul", deep, mlp, "L")]


@hidden_test("modular_api", weight=2)
def graph_forward_matches_reference(ctx):
    for label, spec, values, output in _graph_cases(ctx):
        with ctx.case(label):
            got, _ = ctx.call("run_graph", spec, values, output)
            ref, _ = ctx.ref.run_graph(spec, values, output)
            ctx.assert_close(got[output], ref[output], what=f"value of {output}")


@hidden_test("modular_api", weight=4)
def graph_backward_matches_reference(ctx):
    for label, spec, values, output in _graph_cases(ctx):
        with ctx.case(label):
            _, got = ctx.call("run_graph", spec, values, output)
            _, ref = ctx.ref.run_graph(spec, values, output)
            for name in values:
                if ctx.check(name in got, f"a gradient for the input {name!r}"):
                    ctx.assert_close(got[name], ref[name], what=f"gradient of {name}")


# --------------------------------------------------------------------------- Part 5


MATMUL_CASES = [("N=2, D=3, M=4", 2, 3, 4), ("N=1", 1, 5, 3), ("M=1", 6, 4, 1), ("N=16, D=8, M=10", 16, 8, 10)]
LECTURE = (np.array([[2.0, 1, -3], [-3, 4, 2]]), np.array([[3.0, 2, 1, -1], [2, 1, 3, 2], [3, 2, 1, -2]]),
           np.array([[2.0, 3, -3, 9], [-8, 1, 4, 6]]))


def _matmul_inputs(ctx):
    out = [("the lecture's numbers", *LECTURE)]
    for label, N, D, M in MATMUL_CASES:
        out.append((label, ctx.rng.normal(size=(N, D)), ctx.rng.normal(size=(D, M)), ctx.rng.normal(size=(N, M))))
    return out


@hidden_test("matmul_backward")
def matmul_dx_matches_reference(ctx):
    for label, x, w, dy in _matmul_inputs(ctx):
        with ctx.case(label):
            ctx.assert_close(ctx.call("matmul_backward", x, w, dy)[0], ctx.ref.matmul_backward(x, w, dy)[0], what="dx")


@hidden_test("matmul_backward")
def matmul_dw_matches_reference(ctx):
    for label, x, w, dy in _matmul_inputs(ctx):
        with ctx.case(label):
            ctx.assert_close(ctx.call("matmul_backward", x, w, dy)[1], ctx.ref.matmul_backward(x, w, dy)[1], what="dw")


# --------------------------------------------------------------------------- Part 6


@hidden_test("jvp_matmul")
def jvp_matches_reference(ctx):
    for label, N, D, M in MATMUL_CASES:
        x, w, v = ctx.rng.normal(size=(N, D)), ctx.rng.normal(size=(D, M)), ctx.rng.normal(size=(N, D))
        with ctx.case(label):
            ctx.assert_close(ctx.call("jvp_matmul", x, w, v), ctx.ref.jvp_matmul(x, w, v), what="dy")


# --------------------------------------------------------------------------- loop probes
# Inputs of growing size n for measuring the loop-free functions (autograder.grading.measure): their
# Python-level work must not grow with n. Every axis grows, so a loop over any of them shows.

from autograder.grading.measure import loop_probe  # noqa: E402 - the probes' own section


@loop_probe("matmul_backward")
def matmul_backward_probe(rng, n):
    D, M = n // 2 + 2, n // 4 + 2
    return rng.normal(size=(n, D)), rng.normal(size=(D, M)), rng.normal(size=(n, M))
