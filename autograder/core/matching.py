"""Cell matching: which student cell is which release cell (docs/release.md).

Student cells are matched to release cells by nbgrader grade_id, then nbformat cell id, then
content (exact, then similar), then position between matched neighbours, so one inserted cell is
one `cell-added` even when a front end dropped all metadata. The integrity rules, the graft and
rescue all read the same `Matching`.
"""

from __future__ import annotations

import difflib
from bisect import bisect_left
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from autograder.core.markers import grade_id, source_of

SIMILAR = 0.6  # SequenceMatcher ratio above which two leftover cells are "the same cell, edited"


def normalized(source: str) -> str:
    """Whitespace-insensitive text of a cell, for matching by content."""
    return "\n".join(n for n in (" ".join(line.split()) for line in source.split("\n")) if n)


@dataclass
class Matching:
    """Student cells (0-based indices) matched to release cells.

    how: student index -> "grade_id" | "id" | "content"; duplicated: (copy, original, how);
    added: unmatched student cells with content (empty ones are ignored); deleted: release cells
    without a student cell; moved: student cells out of the release order.
    """

    to_release: dict[int, int] = field(default_factory=dict)
    to_student: dict[int, int] = field(default_factory=dict)
    how: dict[int, str] = field(default_factory=dict)
    duplicated: list[tuple[int, int, str]] = field(default_factory=list)
    added: list[int] = field(default_factory=list)
    deleted: list[int] = field(default_factory=list)
    moved: list[int] = field(default_factory=list)

    def pair(self, s: int, r: int, how: str) -> None:
        self.to_release[s] = r
        self.to_student[r] = s
        self.how[s] = how


def match_cells(student: Sequence[Any], release: Sequence[Any]) -> Matching:
    """Match by grade_id, then nbformat id, then content (exact, then similar)."""
    m = Matching()
    s_norm = [normalized(source_of(c)) for c in student]
    r_norm = [normalized(source_of(c)) for c in release]
    taken: set[int] = set()
    _match_grade_ids(student, release, s_norm, r_norm, m, taken)
    _match_ids(student, release, m, taken)
    _match_content(student, release, s_norm, r_norm, m, taken)
    _match_gaps(student, release, m, taken)
    by_text = {r_norm[r]: s for r, s in m.to_student.items() if r_norm[r]}
    for s in range(len(student)):
        if s in taken or not s_norm[s]:
            continue
        if s_norm[s] in by_text:
            m.duplicated.append((s, by_text[s_norm[s]], "content"))
        else:
            m.added.append(s)
    m.deleted = [r for r in range(len(release)) if r not in m.to_student and r_norm[r]]
    m.moved = _out_of_order(m.to_release)
    return m


def _match_grade_ids(
    student: Sequence[Any], release: Sequence[Any], s_norm: list[str], r_norm: list[str],
    m: Matching, taken: set[int],
) -> None:
    r_by_gid: dict[str, int] = {}
    for r, cell in enumerate(release):
        r_by_gid.setdefault(grade_id(cell) or "", r)
    s_by_gid: dict[str, list[int]] = defaultdict(list)
    for s, cell in enumerate(student):
        gid = grade_id(cell)
        if gid and gid in r_by_gid:
            s_by_gid[gid].append(s)
    for gid, candidates in s_by_gid.items():
        r = r_by_gid[gid]
        best = max(candidates, key=lambda s: _likeness(student[s], release[r], s_norm[s], r_norm[r], s))
        m.pair(best, r, "grade_id")
        taken.update(candidates)
        m.duplicated.extend((s, best, "grade_id") for s in candidates if s != best)


def _likeness(s_cell: Any, r_cell: Any, s_text: str, r_text: str, s: int) -> tuple[int, float, int]:
    """How surely a student cell is the release cell (same id, then similar text, then first)."""
    same_id = int(bool(s_cell.get("id")) and s_cell.get("id") == r_cell.get("id"))
    return same_id, similarity(s_text, r_text), -s


def similarity(a: str, b: str) -> float:
    """SequenceMatcher ratio over the normalized lines of two cells (lines, not characters: fast)."""
    x, y = a.split("\n"), b.split("\n")
    sm = difflib.SequenceMatcher(None, x, y, autojunk=False)
    if sm.real_quick_ratio() < SIMILAR or sm.quick_ratio() < SIMILAR:
        return 0.0
    return sm.ratio()


def _match_ids(student: Sequence[Any], release: Sequence[Any], m: Matching, taken: set[int]) -> None:
    r_by_id = {c.get("id"): r for r, c in enumerate(release) if c.get("id") and r not in m.to_student}
    for s, cell in enumerate(student):
        r = r_by_id.get(cell.get("id"))
        if s not in taken and r is not None and r not in m.to_student:
            m.pair(s, r, "id")
            taken.add(s)


def _match_content(
    student: Sequence[Any], release: Sequence[Any], s_norm: list[str], r_norm: list[str],
    m: Matching, taken: set[int],
) -> None:
    s_left = [s for s in range(len(student)) if s not in taken and s_norm[s]]
    r_left = [r for r in range(len(release)) if r not in m.to_student and r_norm[r]]
    keys_s = [(student[s].get("cell_type"), s_norm[s]) for s in s_left]
    keys_r = [(release[r].get("cell_type"), r_norm[r]) for r in r_left]
    matcher = difflib.SequenceMatcher(None, keys_s, keys_r, autojunk=False)
    for a, b, size in matcher.get_matching_blocks():
        for k in range(size):
            m.pair(s_left[a + k], r_left[b + k], "content")
            taken.add(s_left[a + k])
    s_left = [s for s in s_left if s not in taken]
    r_left = [r for r in r_left if r not in m.to_student]
    scored: list[tuple[float, int, int]] = []
    for s in s_left:
        for r in r_left:
            ratio = similarity(s_norm[s], r_norm[r])
            if ratio >= SIMILAR:
                scored.append((ratio, s, r))
    for _, s, r in sorted(scored, key=lambda t: (-t[0], t[1], t[2])):
        if s not in taken and r not in m.to_student:
            m.pair(s, r, "content")
            taken.add(s)


def _match_gaps(student: Sequence[Any], release: Sequence[Any], m: Matching, taken: set[int]) -> None:
    """A leftover release cell and a leftover student cell of the same type between the same
    matched neighbours are the same cell, edited beyond recognition (e.g. an answer written into
    a cell whose metadata a front end dropped)."""
    for r in range(len(release)):
        if r in m.to_student:
            continue
        before = [m.to_student[k] for k in range(r - 1, -1, -1) if k in m.to_student][:1]
        after = [m.to_student[k] for k in range(r + 1, len(release)) if k in m.to_student][:1]
        low = before[0] if before else -1
        high = after[0] if after else len(student)
        for s in range(low + 1, high):
            if s not in taken and student[s].get("cell_type") == release[r].get("cell_type"):
                m.pair(s, r, "position")
                taken.add(s)
                break


def _out_of_order(to_release: dict[int, int]) -> list[int]:
    """Student cells outside a longest run in release order (the fewest cells that moved)."""
    order = sorted(to_release)
    seq = [to_release[s] for s in order]
    tails: list[int] = []
    tail_at: list[int] = []
    parent = [-1] * len(seq)
    for i, value in enumerate(seq):
        k = bisect_left(tails, value)
        if k == len(tails):
            tails.append(value)
            tail_at.append(i)
        else:
            tails[k] = value
            tail_at[k] = i
        parent[i] = tail_at[k - 1] if k else -1
    keep: set[int] = set()
    i = tail_at[-1] if tail_at else -1
    while i >= 0:
        keep.add(i)
        i = parent[i]
    return [order[i] for i in range(len(seq)) if i not in keep]
