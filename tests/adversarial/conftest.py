"""The corpus's summary table, printed at the end of the run (cases, caught,
contained, honest control at full marks)."""

from __future__ import annotations

from collections import Counter
from typing import Any


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """One line per kind of case, then the totals; nothing when the corpus did not run."""
    from adversarial.cases import CASES, RESULTS

    if not RESULTS:
        return
    kinds = list(dict.fromkeys(c.kind for c in CASES))
    ran = [c for c in CASES if c.sid in RESULTS]
    total, caught, contained = Counter(), Counter(), Counter()
    for case in ran:
        total[case.kind] += 1
        caught[case.kind] += RESULTS[case.sid]["caught"]
        contained[case.kind] += RESULTS[case.sid]["contained"]
    write = terminalreporter.write_line
    terminalreporter.section("adversarial corpus (A4)")
    write(f"{'kind':<10} {'cases':>6} {'caught':>7} {'contained':>10}")
    for kind in kinds:
        if total[kind]:
            write(f"{kind:<10} {total[kind]:>6} {caught[kind]:>7} {contained[kind]:>10}")
    write(f"{'total':<10} {sum(total.values()):>6} {sum(caught.values()):>7} "
          f"{sum(contained.values()):>10}")
    controls = [c.sid for c in ran if c.kind == "control"]
    full = [sid for sid in controls if RESULTS[sid]["control"]]
    write(f"honest control at full marks: {len(full)}/{len(controls)} "
          f"({', '.join(controls)}; hook on and hook off)")
    missed = [c.sid for c in ran if not (RESULTS[c.sid]["caught"] and RESULTS[c.sid]["contained"])]
    if missed:
        write(f"NOT as expected: {', '.join(missed)}")
