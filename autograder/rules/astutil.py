"""Small AST helpers the import, call and loop rules share: names resolved through aliases."""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator
from collections.abc import Set as AbstractSet

# What the graded module's preamble imports (autograder.module.PREAMBLE), and the names the
# configuration may use for them: "np.vectorize" in assignment.toml means numpy.vectorize.
DEFAULT_ALIASES = {"np": "numpy", "numpy": "numpy", "math": "math", "time": "time"}


def collect_aliases(trees: Iterable[ast.AST]) -> dict[str, str]:
    """Local name -> dotted path, from imports and plain re-bindings (`vec = np.vectorize`)."""
    aliases = dict(DEFAULT_ALIASES)
    assigns: list[ast.Assign] = []
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
            elif isinstance(node, ast.Assign) and len(node.targets) == 1:
                assigns.append(node)
    for node in assigns:  # after the imports, so `vec = xp.vectorize` resolves `xp`
        target = node.targets[0]
        if isinstance(target, ast.Name) and isinstance(node.value, (ast.Name, ast.Attribute)):
            dotted = resolve(node.value, aliases)
            if dotted and "." in dotted:
                aliases[target.id] = dotted
    return aliases


def dotted_name(node: ast.AST) -> str | None:
    """`a.b.c` for a chain of attributes on a name, else None."""
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
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
