"""Realistic wrong implementations of the A2 functions, and answers that do no work at all.

tests/test_a2.py grafts each over the reference (the replacing definitions come after it) and
checks that the hidden tests take points for it, while the reference gets full marks. MUTANTS maps
a grade_id to (mutant id, source); NO_WORK has the same form and must score 0 in its group.
A mutant of a gate class also rebinds GATES, which the given helpers read.
"""

from __future__ import annotations

_GATES = '\nGATES = {"Add": Add, "Multiply": Multiply, "Sigmoid": Sigmoid, "ReLU": ReLU, "MatMul": MatMul}\n'


def _gate(name: str, forward: str, backward: str) -> str:
    return f'''
class {name}:
    @staticmethod
    def forward(ctx, *inputs):
{forward}

    @staticmethod
    def backward(ctx, grad):
{backward}
''' + _GATES


def _graph(topo: str, backward: str) -> str:
    return f'''
class ComputationalGraph:
    def __init__(self):
        self.nodes = []

    def add(self, output, gate, *inputs):
        self.nodes.append((output, gate, tuple(inputs)))

    def topological_order(self):
{topo}

    def forward(self, values):
        values = dict(values)
        self.ctxs = {{}}
        for output, gate, inputs in self.topological_order():
            ctx = Ctx()
            values[output] = gate.forward(ctx, *(values[name] for name in inputs))
            self.ctxs[output] = ctx
        self.values = values
        return values

    def backward(self, output):
{backward}
'''


_TOPO = '''        producer = {node[0]: node for node in self.nodes}
        order, done = [], set()

        def visit(node):
            if node[0] in done:
                return
            for name in node[2]:
                if name in producer:
                    visit(producer[name])
            done.add(node[0])
            order.append(node)

        for node in self.nodes:
            visit(node)
        return order'''
_BACKWARD = '''        grads = {output: np.ones_like(self.values[output])}
        for out, gate, inputs in reversed(self.topological_order()):
            if out not in grads:
                continue
            for name, g in zip(inputs, gate.backward(self.ctxs[out], grads[out])):
                grads[name] = ACCUMULATE
        return grads'''

MUTANTS: dict[str, list[tuple[str, str]]] = {
    "simple_graph": [
        ("dfdz is z", "def simple_graph(x, y, z):\n    q = x + y\n    return q * z, z, z, z\n"),
        ("no chain rule for x, y", "def simple_graph(x, y, z):\n    q = x + y\n    return q * z, 1.0, 1.0, q\n"),
        ("wrong forward", "def simple_graph(x, y, z):\n    return x + y * z, z, z, x + y\n"),
    ],
    "sigmoid_neuron": [
        ("ddot without (1 - f)", '''
def sigmoid_neuron(w, x):
    dot = w[0] * x[0] + w[1] * x[1] + w[2]
    f = sigmoid(dot)
    ddot = f
    return f, np.array([x[0] * ddot, x[1] * ddot, ddot]), np.array([w[0] * ddot, w[1] * ddot])
'''),
        ("dw and dx swapped", '''
def sigmoid_neuron(w, x):
    dot = w[0] * x[0] + w[1] * x[1] + w[2]
    f = sigmoid(dot)
    ddot = (1 - f) * f
    return f, np.array([w[0] * ddot, w[1] * ddot, ddot]), np.array([x[0] * ddot, x[1] * ddot])
'''),
        ("no bias gradient", '''
def sigmoid_neuron(w, x):
    dot = w[0] * x[0] + w[1] * x[1] + w[2]
    f = sigmoid(dot)
    ddot = (1 - f) * f
    return f, np.array([x[0] * ddot, x[1] * ddot, 0.0]), np.array([w[0] * ddot, w[1] * ddot])
'''),
        ("f without the bias", '''
def sigmoid_neuron(w, x):
    dot = w[0] * x[0] + w[1] * x[1]
    f = sigmoid(dot)
    ddot = (1 - f) * f
    return f, np.array([x[0] * ddot, x[1] * ddot, ddot]), np.array([w[0] * ddot, w[1] * ddot])
'''),
    ],
    "gradient_patterns": [
        ("add halves", "def add_backward(dz):\n    return dz / 2, dz / 2\n"),
        ("copy keeps one branch", "def copy_backward(dz1, dz2):\n    return dz1\n"),
        ("mul without swap", "def mul_backward(x, y, dz):\n    return x * dz, y * dz\n"),
        ("max routes to the smaller", '''
def max_backward(x, y, dz):
    x_wins = np.asarray(x) < np.asarray(y)
    return np.where(x_wins, dz, 0.0), np.where(x_wins, 0.0, dz)
'''),
        ("max tie goes to y", '''
def max_backward(x, y, dz):
    x_wins = np.asarray(x) > np.asarray(y)
    return np.where(x_wins, dz, 0.0), np.where(x_wins, 0.0, dz)
'''),
    ],
    "modular_api": [
        ("Multiply without swap", _gate("Multiply",
            "        ctx.save_for_backward(*inputs)\n        return inputs[0] * inputs[1]",
            "        x, y = ctx.saved\n        return x * grad, y * grad")),
        ("Sigmoid backward from its input", _gate("Sigmoid",
            "        ctx.save_for_backward(inputs[0])\n        return 1 / (1 + np.exp(-inputs[0]))",
            "        (x,) = ctx.saved\n        return ((1 - x) * x * grad,)")),
        ("ReLU backward ungated", _gate("ReLU",
            "        ctx.save_for_backward(inputs[0])\n        return np.maximum(0.0, inputs[0])",
            "        return (grad,)")),
        ("ReLU passes at 0", _gate("ReLU",
            "        ctx.save_for_backward(inputs[0])\n        return np.maximum(0.0, inputs[0])",
            "        (x,) = ctx.saved\n        return (grad * (x >= 0),)")),
        ("MatMul dw transposed", _gate("MatMul",
            "        ctx.save_for_backward(*inputs)\n        return inputs[0] @ inputs[1]",
            "        x, w = ctx.saved\n        return grad @ w.T, (grad.T @ x).T / 1.0 * 0 + x.T @ grad * 2")),
        ("no topological sort", _graph("        return list(self.nodes)", _BACKWARD.replace("ACCUMULATE", "grads.get(name, 0.0) + g"))),
        ("assign, not accumulate", _graph(_TOPO, _BACKWARD.replace("ACCUMULATE", "g"))),
    ],
    "matmul_backward": [
        ("dw scaled by 1/N", "def matmul_backward(x, w, dy):\n    return dy @ w.T, x.T @ dy / x.shape[0]\n"),
        ("dx and dw returned in the wrong order", "def matmul_backward(x, w, dy):\n    return x.T @ dy, dy @ w.T\n"),
        ("dw from dy.T", "def matmul_backward(x, w, dy):\n    return dy @ w.T, (dy.T @ x).T * 0.5\n"),
    ],
    "jvp_matmul": [
        ("value, not tangent", "def jvp_matmul(x, w, v):\n    return x @ w\n"),
        ("sum of value and tangent", "def jvp_matmul(x, w, v):\n    return (x + v) @ w\n"),
    ],
}

NO_WORK: dict[str, list[tuple[str, str]]] = {
    "simple_graph": [("zeros", "def simple_graph(x, y, z):\n    return 0.0, 0.0, 0.0, 0.0\n"),
                     ("ones", "def simple_graph(x, y, z):\n    return 1.0, 1.0, 1.0, 1.0\n")],
    "sigmoid_neuron": [("zeros", "def sigmoid_neuron(w, x):\n    return 0.0, np.zeros(3), np.zeros(2)\n"),
                       ("half", "def sigmoid_neuron(w, x):\n    return 0.5, np.ones(3), np.ones(2)\n")],
    "gradient_patterns": [("zeros", '''
def add_backward(dz):
    return 0 * dz, 0 * dz
def copy_backward(dz1, dz2):
    return 0 * dz1
def mul_backward(x, y, dz):
    return 0 * dz, 0 * dz
def max_backward(x, y, dz):
    return 0 * np.asarray(dz), 0 * np.asarray(dz)
''')],
    "modular_api": [("zeros", '''
def run_graph(spec, values, output):
    names = set(values) | {s[0] for s in spec}
    return {k: np.zeros(1) for k in names}, {k: np.zeros(1) for k in names}
def gate_forward_backward(gate, inputs, grad):
    return np.zeros(np.shape(inputs[0])), [np.zeros(np.shape(v)) for v in inputs]
''')],
    "matmul_backward": [("zeros", "def matmul_backward(x, w, dy):\n    return np.zeros(x.shape), np.zeros(w.shape)\n")],
    "jvp_matmul": [("zeros", "def jvp_matmul(x, w, v):\n    return np.zeros((x.shape[0], w.shape[1]))\n")],
}
