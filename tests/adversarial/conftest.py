"""The corpus's summary table, printed at the end of the run (cases, caught,
contained, honest control at full marks)."""

from __future__ import annotations

from collections import Counter
from typing import Any


def corpus_results(terminalreporter: Any) -> dict[str, dict[str, Any]]:
    """sid -> outcome of each corpus case that ran, read from the test reports' user properties
    (so it also works under pytest-xdist, whose workers send their reports to this process)."""
    from adversarial.cases import CORPUS_RESULT

    found: dict[str, dict[str, Any]] = {}
    for reports in terminalreporter.stats.values():
        for report in reports:
            if getattr(report, "when", None) != "call":
                continue
            for name, value in getattr(report, "user_properties", ()):
                if name == CORPUS_RESULT:
                    sid, outcome = value
                    found[sid] = outcome
    return found


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """One line per kind of case, then the totals; nothing when the corpus did not run."""
    from adversarial.cases import CASES

    results = corpus_results(terminalreporter)
    if not results:
        return
    kinds = list(dict.fromkeys(c.kind for c in CASES))
    ran = [c for c in CASES if c.sid in results]
    total, caught, contained = Counter(), Counter(), Counter()
    for case in ran:
        total[case.kind] += 1
        caught[case.kind] += results[case.sid]["caught"]
        contained[case.kind] += results[case.sid]["contained"]
    write = terminalreporter.write_line
    terminalreporter.section("adversarial corpus (A4)")
    write(f"{'kind':<10} {'cases':>6} {'caught':>7} {'contained':>10}")
    for kind in kinds:
        if total[kind]:
            write(f"{kind:<10} {total[kind]:>6} {caught[kind]:>7} {contained[kind]:>10}")
    write(f"{'total':<10} {sum(total.values()):>6} {sum(caught.values()):>7} "
          f"{sum(contained.values()):>10}")
    controls = [c.sid for c in ran if c.kind == "control"]
    full = [sid for sid in controls if results[sid]["control"]]
    write(f"honest control at full marks: {len(full)}/{len(controls)} "
          f"({', '.join(controls)}; hook on and hook off)")
    missed = [c.sid for c in ran if not (results[c.sid]["caught"] and results[c.sid]["contained"])]
    if missed:
        write(f"NOT as expected: {', '.join(missed)}")
