"""Switching the audit hook off from student code: nothing reachable does it.

Each attack runs with the guard ON, tries to switch it off (or to erase what it recorded) with
what student objects reach — frames and their globals, a traceback's frames (the hook's own
locals among them), the builtins' `__import__`, function attributes, gc, threads, ctypes —
and then opens a file. The open must still be refused, and the refusal must reach the grader
(a `sandbox-violation`). The sandbox does not depend on any of this (containment is proved
with the hook off, tests/test_containment.py); the hook is what gives students a clear
message, and a hook that could be switched off would give none.
"""

from __future__ import annotations

import pytest
from test_engine import HONEST, by_name, grade

# With the guard on, `import sys` is refused: student code takes the real __import__ from the
# filter's defaults (readable, like every default) and imports what is already loaded.
PRELUDE = '''
_imp = __builtins__["__import__"] if isinstance(__builtins__, dict) else __builtins__.__import__
_cells = [c.cell_contents for c in _imp.__closure__ or ()]  # where an older guard kept it
_real = [d for d in (*(_imp.__defaults__ or ()), *_cells)
         if getattr(d, "__name__", "") == "__import__" and d is not _imp][0]
'''

PROBE = '''
try:
    open("/etc/hostname").read()
    opened = "OPENED"
except Exception as exc:
    opened = type(exc).__name__
print("PROBE", opened)
return a + b
'''

ATTACKS = {
    "worker frames: guard flags": '''
sys = _real("sys")
f = sys._getframe()
while f is not None:
    me = f.f_locals.get("self")
    for attr in ("guard", "guard_enabled", "guard_log"):
        if hasattr(me, attr):
            try:
                g = getattr(me, attr)
                for flag in ("active", "enabled"):
                    if hasattr(g, flag):
                        setattr(g, flag, False)
                setattr(me, attr, None if attr != "guard_enabled" else False)
            except Exception:
                pass
    f = f.f_back
''',
    "worker globals: the event table": '''
sys = _real("sys")
f = sys._getframe()
while f is not None:
    for name in ("GUARDED_EVENTS", "FUNCTION_CODE_ATTRS", "STUDENT_FILE"):
        table = f.f_globals.get(name)
        if isinstance(table, dict):
            table.clear()
    f.f_globals["STUDENT_FILE"] = "nobody"
    f = f.f_back
''',
    "traceback: the hook's own locals": '''
sys = _real("sys")
try:
    open("/etc/hostname")
except Exception as exc:
    tb = exc.__traceback__
    while tb is not None:
        loc = tb.tb_frame.f_locals
        for value in list(loc.values()):
            for method in ("clear", "pop"):
                try:
                    getattr(value, method)()
                except Exception:
                    pass
        tb.tb_frame.f_globals["_EVENTS"] = {}
        tb = tb.tb_next
''',
    "import filter: defaults and code": '''
imp = __builtins__["__import__"] if isinstance(__builtins__, dict) else __builtins__.__import__
for attr, value in (("__defaults__", None), ("__kwdefaults__", None),
                    ("__code__", (lambda *a, **k: None).__code__)):
    try:
        setattr(imp, attr, value)
    except Exception:
        pass
''',
    "gc: find the hook and rewrite it": '''
sys = _real("sys")
real = (__builtins__["__import__"] if isinstance(__builtins__, dict)
        else __builtins__.__import__).__defaults__
real_import = [d for d in real if callable(d)][0]
try:
    gc = real_import("gc")
    for obj in gc.get_objects():
        if getattr(getattr(obj, "__code__", None), "co_name", "") == "hook":
            obj.__code__ = (lambda event, args: None).__code__
except Exception:
    pass
''',
    "ctypes: write the interpreter's memory": '''
ctypes = _real("ctypes")
try:
    ctypes.c_char.from_address(id(open) + 8).value = b"\\0"
except Exception:
    pass
''',
    "erase the record: close the guard's pipe": '''
os = _real("os")
sys = _real("sys")
try:
    open("/etc/hostname")
except Exception:
    pass
os.close(int(sys.argv[sys.argv.index("--guard-log") + 1]))
''',
}


def attacked(attack: str) -> str:
    body = "\n".join("    " + line for line in (PRELUDE + attack + PROBE).strip("\n").splitlines())
    return HONEST.replace("    return a + b", body)


@pytest.mark.parametrize("attack", list(ATTACKS), ids=list(ATTACKS))
def test_the_guard_cannot_be_switched_off_from_student_code(attack):
    result = grade(attacked(ATTACKS[attack]), guard=True)
    assert "PROBE" in result.output and "OPENED" not in result.output
    assert "PROBE ForbiddenOperation" in result.output
    assert by_name(result)["loss_matches_reference"]["status"] == "passed"


@pytest.mark.parametrize("attack", list(ATTACKS), ids=list(ATTACKS))
def test_the_refusal_reaches_the_grader_whatever_the_attack(attack):
    result = grade(attacked(ATTACKS[attack]), guard=True)
    rules = [v["rule"] for v in result.violations]
    assert "sandbox-violation" in rules
    assert any("opening files" in v["message"] or "pipes" in v["message"]
               for v in result.violations)


def test_a_thread_started_by_student_code_is_refused_too():
    source = attacked('''
_thread = _real("_thread")
os = _real("os")
time = _real("time")
done = []
def run():
    try:
        open("/etc/hostname")
        done.append("OPENED")
    except Exception as exc:
        done.append(type(exc).__name__)
_thread.start_new_thread(run, ())
time.sleep(0.3)
print("THREAD", done)
''')
    result = grade(source, guard=True)
    assert "THREAD ['ForbiddenOperation']" in result.output


def test_a_refusal_made_where_no_student_frame_is_on_the_stack_is_refused():
    # os.system called directly by a thread: no frame of the student's code below it.
    source = attacked('''
_thread = _real("_thread")
os = _real("os")
time = _real("time")
_thread.start_new_thread(os.system, ("true",))
time.sleep(0.3)
''')
    result = grade(source, guard=True)
    assert any("os.system" in v["message"] for v in result.violations)


def test_a_tracer_installed_by_student_code_cannot_rewrite_the_hooks_locals():
    """CPython runs audit hooks with tracing off (unless the hook has `__cantrace__`, which
    only its function object could be given, and that is out of reach)."""
    source = attacked('''
sys = _real("sys")
def tracer(frame, event, arg):
    if frame.f_code.co_name == "hook":
        frame.f_locals["event"] = "harmless"
        print("TRACED THE HOOK")
    return tracer
sys.settrace(tracer)
''')
    result = grade(source, guard=True)
    assert "PROBE ForbiddenOperation" in result.output
    assert "TRACED THE HOOK" not in result.output
