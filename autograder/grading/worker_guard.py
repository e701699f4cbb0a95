"""The worker's import guard: an audit hook plus an `__import__` filter (docs/sandbox.md, "The guard").

It exists for clear early messages ("os is not allowed in graded code"); it is *not* a security
boundary. The sandbox holds with the worker's `--no-guard`, and the containment tests prove it.
Runs inside the worker: standard library only (staged with the worker, see WORKER_FILES).
"""

from __future__ import annotations

import builtins
import sys
import types
from typing import Any

STUDENT_FILE = "<student>"  # the graded module's file name: the code the guard watches
# Audit events refused once the guard is installed (the messages say what to do). `open` and
# `import` are refused only as described in `Guard`; prefixes end with a dot.
GUARDED_EVENTS = {
    "open": "opening files",
    "os.listdir": "listing directories",
    "os.scandir": "listing directories",
    "os.remove": "deleting files",
    "os.rmdir": "deleting files",
    "os.rename": "renaming files",
    "os.mkdir": "creating folders",
    "os.symlink": "creating links",
    "os.link": "creating links",
    "os.chmod": "changing file permissions",
    "os.chown": "changing file permissions",
    "os.truncate": "changing files",
    "os.system": "running commands (os.system)",
    "os.exec": "running programs",
    "os.posix_spawn": "running programs",
    "os.spawn": "running programs",
    "os.fork": "starting processes",
    "os.forkpty": "starting processes",
    "os.kill": "sending signals",
    "os.killpg": "sending signals",
    "subprocess.Popen": "running commands (subprocess)",
    "ctypes.": "using C memory and libraries (ctypes)",
    "socket.": "network access",
    "gc.get_objects": "inspecting the grader's objects (gc)",
    "gc.get_referrers": "inspecting the grader's objects (gc)",
    "gc.get_referents": "inspecting the grader's objects (gc)",
    "code.__new__": "building code objects",
    "object.__setattr__": "replacing the code of the grader's guard",
    "import": "importing modules",
}
# Function attributes whose change the guard refuses on its own functions.
FUNCTION_CODE_ATTRS = frozenset({"__code__", "__defaults__", "__kwdefaults__"})

# The guard's two functions, compiled into a namespace of their own that is emptied right
# after: they read no global and no builtin name at run time, only their default arguments
# (immutable values and C functions). Student code that reaches them (a traceback's frames
# show a hook's locals) can read those values but change none of them: changing `__code__`
# or `__defaults__` of a function that is not the student's is itself refused, and there is
# no flag to clear. See docs/sandbox.md ("The guard").
_GUARD_SOURCE = '''
def refuse(what, _write=_WRITE, _fd=_FD, _error=_ERROR, _oserror=_OSERROR,
           _allowed_text=_ALLOWED_TEXT):
    if what.startswith("import "):
        what = what + _allowed_text
    message = what + " is not allowed in graded code"
    try:
        _write(_fd, (message[:300] + "\\n").encode())  # to the grader, out of the student's reach
    except _oserror:
        pass  # pipe full or closed: the operation is refused all the same
    raise _error(message)


def hook(event, args, _events=_EVENTS, _prefixes=_PREFIXES, _allowed=_ALLOWED,
         _student=_STUDENT, _getframe=_GETFRAME, _loader_codes=_LOADER_CODES,
         _attrs=_ATTRS, _func=_FUNCTION, _str=_STRTYPE, _type=_TYPE, _refuse=refuse,
         _guard_codes=_GUARD_CODES):
    what = _events.get(event)
    if what is None:
        for prefix in _prefixes:
            if event.startswith(prefix):
                what = _events[prefix]
                break
        else:
            return
    if event == "import":
        name = args[0]
        if _type(name) is not _str:
            _refuse("import of a module named by a non-string")
        top = name.partition(".")[0]
        if top in _allowed:
            return
        frame = _getframe(1)
        while frame is not None and frame.f_code.co_filename.startswith("<frozen importlib"):
            frame = frame.f_back
        if frame is not None and frame.f_code.co_filename == _student:
            _refuse("import " + top)
        return
    if event == "open" or event == "os.listdir" or event == "os.scandir":
        code = _getframe(1).f_code
        for loader_code in _loader_codes:
            if code is loader_code:
                return  # the import system finding and reading a module (numpy's lazy ones)
        path = args[0] if event == "open" and args and _type(args[0]) is _str else ""
        _refuse(what + (" (" + path[:80] + ")" if path else ""))
    if event == "object.__setattr__":
        target = args[0]
        if _type(target) is not _func or args[1] not in _attrs:
            return
        code = target.__code__
        for guard_code in _guard_codes:
            if code is guard_code:
                _refuse(what)
        return  # any other function (namedtuple sets __defaults__ of the ones it makes)
    _refuse(what)


def guarded_import(name, globals=None, locals=None, fromlist=(), level=0, _real=_REAL_IMPORT,
                   _allowed=_ALLOWED, _str=_STRTYPE, _type=_TYPE, _refuse=refuse):
    if level == 0:
        if _type(name) is not _str:
            _refuse("import of a module named by a non-string")
        top = name.partition(".")[0]
        if top not in _allowed:
            _refuse("import " + top)
    return _real(name, globals, locals, fromlist, level)
'''


def _import_system_codes() -> tuple[types.CodeType, ...]:
    """The code objects of the import system (importlib's frozen modules and zipimport): it
    opens module files and lists their folders when numpy imports a submodule lazily, on first
    use, while student code runs. Compared by identity: a student's code cannot pass for it."""
    codes: dict[int, types.CodeType] = {}
    for name in ("_frozen_importlib", "_frozen_importlib_external", "zipimport"):
        module = sys.modules.get(name)
        for obj in vars(module).values() if module else ():
            members = vars(obj).values() if isinstance(obj, type) else (obj,)
            for member in members:
                func = getattr(member, "__func__", member)  # staticmethod, classmethod
                code = getattr(func, "__code__", None) if isinstance(func, types.FunctionType) else None
                if code is not None:
                    codes[id(code)] = code
    return tuple(codes.values())


class ForbiddenOperation(PermissionError):
    """Raised by the guard; its message names the operation and the allowed imports."""


class Guard:
    """The guard: an audit hook plus an `__import__` filter for the student module.

    Installed once, when the module is loaded, and on for the rest of the worker's life (the
    worker does nothing it refuses after that): there is no switch. While installed it refuses
    every event of GUARDED_EVENTS, from any code (also from threads, finalizers and callbacks
    the student arranged, where no student frame is on the stack), except:
    `import` of a module outside the allow-list only when student code imports it (numpy may
    import what it needs), and `open` when the import system reads a module. Each refusal is
    written to `log_fd`, a pipe only the grader reads, so student code can neither hide nor
    erase it. It is *not* a security boundary: see docs/sandbox.md.
    """

    def __init__(self, allowed: tuple[str, ...], enabled: bool, log_fd: int | None = None) -> None:
        self.allowed = frozenset(allowed)
        self.enabled = enabled
        self.log_fd = log_fd
        self._import: Any = None

    def install(self) -> None:
        if not self.enabled:
            return
        import os

        loader_codes = _import_system_codes()
        allowed_text = " (allowed imports: " + ", ".join(sorted(self.allowed)) + ")"
        if self.log_fd is not None:
            os.set_blocking(self.log_fd, False)
        ns: dict[str, Any] = {
            "__builtins__": {},
            # read-only views and immutable values only (a hook's locals are visible to code
            # that catches its exception: nothing there may be changeable)
            "_EVENTS": types.MappingProxyType(dict(GUARDED_EVENTS)),
            "_PREFIXES": tuple(k for k in GUARDED_EVENTS if k.endswith(".")),
            "_ALLOWED": self.allowed, "_STUDENT": STUDENT_FILE, "_GETFRAME": sys._getframe,
            "_LOADER_CODES": loader_codes, "_ATTRS": FUNCTION_CODE_ATTRS,
            "_FUNCTION": types.FunctionType, "_STRTYPE": str, "_TYPE": type,
            "_WRITE": os.write, "_FD": -1 if self.log_fd is None else self.log_fd,
            "_ERROR": ForbiddenOperation, "_OSERROR": OSError, "_ALLOWED_TEXT": allowed_text,
            "_REAL_IMPORT": builtins.__import__,
        }
        code = compile(_GUARD_SOURCE, "<guard>", "exec")
        # The functions' code objects are constants of the compiled source: known before the
        # functions exist, so the hook can refuse changes to its own functions by identity.
        ns["_GUARD_CODES"] = tuple(c for c in code.co_consts if isinstance(c, types.CodeType))
        exec(code, ns)  # noqa: S102 - our own constant source
        hook, self._import = ns["hook"], ns["guarded_import"]
        ns.clear()  # the functions keep their defaults; their globals hold nothing now
        sys.addaudithook(hook)

    def builtins_for_student(self) -> dict[str, Any]:
        """A copy of builtins whose __import__ refuses modules outside the allow-list, also the
        ones already loaded (the audit hook only sees imports that *load* a module)."""
        ns = dict(vars(builtins))
        if self.enabled and self._import is not None:
            ns["__import__"] = self._import
        return ns
