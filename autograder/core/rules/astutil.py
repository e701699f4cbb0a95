"""Small AST helpers the import, call and loop rules share: names resolved through aliases."""

from __future__ import annotations

import ast
import builtins
from collections.abc import Iterable, Iterator
from collections.abc import Set as AbstractSet

# What the graded module's preamble imports (autograder.core.module.PREAMBLE), and the names the
# configuration may use for them: "np.vectorize" in assignment.toml means numpy.vectorize.
DEFAULT_ALIASES = {"np": "numpy", "numpy": "numpy", "math": "math", "time": "time"}


BUILTIN_NAMES = frozenset(dir(builtins))


def collect_aliases(trees: Iterable[ast.AST]) -> dict[str, str]:
    """Local name -> dotted path, from imports and plain re-bindings (`vec = np.vectorize`),
    also of a module or a builtin (`xp = np`, `mp = map`), in chains (`a = np; b = a`), by
    tuple, walrus or `getattr` with a constant name (`f = getattr(np, 'vectorize')`)."""
    aliases = dict(DEFAULT_ALIASES)
    assigns: list[tuple[ast.expr, ast.expr]] = []
    for tree in trees:
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for name in node.names:
                    if name.asname:
                        aliases[name.asname] = name.name
                    else:
                        top = name.name.split(".")[0]
                        aliases[top] = top
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                for name in node.names:
                    aliases[name.asname or name.name] = f"{node.module}.{name.name}"
            elif isinstance(node, ast.Assign):
                for target in node.targets:
                    assigns.extend(_pairs(target, node.value))
            elif isinstance(node, ast.NamedExpr):
                assigns.append((node.target, node.value))
    # after the imports, so `vec = xp.vectorize` resolves `xp`; again until nothing changes,
    # so a chain resolves whatever order its links come in
    for _ in range(len(assigns) + 1):
        changed = False
        for target, value in assigns:
            dotted = resolve(value, aliases)
            if not isinstance(target, ast.Name) or not dotted or aliases.get(target.id) == dotted:
                continue
            head = dotted.partition(".")[0]
            if "." in dotted or head in aliases.values() or head in BUILTIN_NAMES:
                aliases[target.id] = dotted
                changed = True
        if not changed:
            break
    return aliases


def _pairs(target: ast.expr, value: ast.expr) -> Iterator[tuple[ast.expr, ast.expr]]:
    """(name, value) pairs of one assignment, tuples unpacked element by element."""
    if isinstance(target, (ast.Tuple, ast.List)) and isinstance(value, (ast.Tuple, ast.List)):
        if len(target.elts) == len(value.elts):
            for t, v in zip(target.elts, value.elts, strict=True):
                yield from _pairs(t, v)
    else:
        yield target, value


def constant_getattr(node: ast.AST) -> ast.Attribute | None:
    """`getattr(obj, 'name')` (a constant name) as the attribute `obj.name` it reads."""
    if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "getattr"
            and len(node.args) >= 2 and isinstance(node.args[1], ast.Constant)
            and isinstance(node.args[1].value, str) and node.args[1].value.isidentifier()):
        attr = ast.Attribute(value=node.args[0], attr=node.args[1].value, ctx=ast.Load())
        return ast.copy_location(attr, node)
    return None


def dotted_name(node: ast.AST) -> str | None:
    """`a.b.c` for a chain of attributes on a name, else None (`getattr(a, 'b')` is `a.b`)."""
    parts: list[str] = []
    node = constant_getattr(node) or node
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = constant_getattr(node.value) or node.value
    if not isinstance(node, ast.Name):
        return None
    parts.append(node.id)
    return ".".join(reversed(parts))


def resolve(node: ast.AST, aliases: dict[str, str]) -> str | None:
    """The dotted path a name or attribute chain refers to, its first part resolved."""
    dotted = dotted_name(node)
    if dotted is None:
        return None
    head, _, rest = dotted.partition(".")
    base = aliases.get(head, head)
    return f"{base}.{rest}" if rest else base


def canonical(name: str) -> str:
    """A configured name in its resolved form: "np.vectorize" -> "numpy.vectorize"."""
    head, _, rest = name.partition(".")
    base = DEFAULT_ALIASES.get(head, head)
    return f"{base}.{rest}" if rest else base


def walk_lines(tree: ast.AST, lines: AbstractSet[int] | None = None) -> Iterator[ast.AST]:
    """ast.walk, but only into nodes that span one of `lines` (all of them when None): the rules
    look at the lines the student wrote, and skipping the rest keeps the check fast."""
    todo = [tree]
    while todo:
        node = todo.pop()
        if lines is not None and hasattr(node, "lineno"):
            first, last = node.lineno, getattr(node, "end_lineno", None) or node.lineno
            if not any(line in lines for line in range(first, last + 1)):
                continue
        yield node
        todo.extend(reversed(list(ast.iter_child_nodes(node))))


def references(tree: ast.AST, lines: AbstractSet[int] | None = None) -> Iterator[ast.expr]:
    """Every outermost name/attribute chain (`np.linalg.norm`, not also `np`) on those lines."""
    inner: set[int] = set()
    for node in walk_lines(tree, lines):
        if isinstance(node, ast.Attribute):
            inner.add(id(node.value))
        if isinstance(node, (ast.Attribute, ast.Name)) and id(node) not in inner:
            if dotted_name(node) is not None:
                yield node


def matches(path: str, forbidden: str) -> bool:
    """`numpy.linalg.lstsq` matches a forbidden `numpy.linalg.lstsq` or `numpy.linalg`."""
    return path == forbidden or path.startswith(forbidden + ".")
