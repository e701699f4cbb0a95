"""The adversarial corpus: hostile or broken A4 submissions, one small builder each.

Every case starts from the real A4 release with the instructor's solution grafted into its TODO
blocks and run once (`demo.classroom.executed_solution`, cached for the session), then
changes one thing: a TODO body (`body`), cells (the makers of tests/fixtures/make_violations.py),
the zip (`rewrite_zip`) or the raw archive bytes. Nothing large is committed: a 50 MB notebook
or a zip bomb is made in the test's tmp_path.

Each case names its `Expected` outcome: the rule ids that must be flagged, the status, the
hidden tests that must not pass, and the highest score it may get (`cap`; the automatic points
of A4 are 80, the manual 20 are empty until a TA grades them). Cases marked `guard=False` are
graded in a second run with the worker's audit hook switched off (`autograder grade --no-worker-guard`):
they prove containment, which must hold without the hook.

tests/adversarial/test_corpus.py builds and grades the whole table; docs/adversarial.md lists it.
"""

from __future__ import annotations

import base64
import codecs
import hashlib
import io
import json
import stat
import struct
import textwrap
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from fixtures import make_violations as mv

from autograder.core.config import REPO_ROOT
from demo import classroom as demo

ASSIGNMENT, NOTEBOOK, MODEL = demo.ASSIGNMENT, demo.NOTEBOOK, demo.MODEL
FULL = 80.0  # A4's automatic points: every [tests] group, the best model included
POLICY: mv.Policy = {"loop_free": ("nn_forward_pass", "nn_forward_backward", "nn_predict"),
                     "forbidden": "np.vectorize"}

# Strings that must never appear in anything the grader writes: they live only on the host, in
# files and in the grader's environment, never in a submission's code (which reports may quote).
SECRET_HIDDEN = "HIDDEN-TESTS-SECRET-7f3a91"   # first line of the course's hidden_tests.py
SECRET_FILE = "HOST-FILE-SECRET-c02d55"        # a world-readable file outside the sandbox
SECRET_ENV = "GRADER-ENV-SECRET-4be810"        # an environment variable of the grader
SECRET_SOLUTION = "SOLUTION-NOTEBOOK-SECRET-91e0aa"  # in the course's solution notebook
SECRET_ENV_NAME = "AG_ADVERSARIAL_SECRET"
# An attack that read anything raises it prefixed with this, built at run time ("STO" + "LEN: "),
# so the literal is never in a submission's code: seen in a report, something was read.
LEAK = "STOLEN: "
SECRETS = (SECRET_HIDDEN, SECRET_FILE, SECRET_ENV, SECRET_SOLUTION, LEAK)

Edit = Callable[[Any], None]


# ---------------------------------------------------------------------------------------------
# The records


@dataclass(frozen=True)
class Expected:
    """What the grader must do with one case.

    status: report.json's status (`graded`, or `failed` for an unusable submission).
    rules: rule ids that must be flagged (others may be too, unless `exact`).
    tests: hidden test name -> its status, or "!passed" (any status but passed).
    cap: the highest score the case may get; floor: the lowest (honest work must keep its points).
    """

    status: str = "graded"
    rules: frozenset[str] = frozenset()
    tests: Mapping[str, str] = field(default_factory=dict)
    cap: float = FULL
    floor: float = 0.0
    exact: bool = False


@dataclass(frozen=True)
class Host:
    """Places on the grading host that no submission may read or write."""

    root: Path  # world-writable (1777): only the sandbox's mounts keep a worker out
    secret: Path  # world-readable file holding SECRET_FILE
    tmp_name: str  # a file name nothing may create in the host's /tmp

    def marker(self, sid: str) -> Path:
        return self.root / f"{sid}.marker"

    def traces(self, sid: str = "") -> list[Path]:
        """What submissions left on the host (should be nothing): files in the host folder but
        the secret, and files in the host's /tmp named like the disk-filling case's. With `sid`,
        only that case's."""
        found = [p for p in self.root.iterdir() if p != self.secret and p.name.startswith(sid)]
        return found + sorted(Path("/tmp").glob(f"{self.tmp_name}-{sid}*"))


@dataclass
class Kit:
    """What the builders need: the solved notebook, its model, the course and the host."""

    solved: Any
    model: bytes
    course: Path
    subs: Path
    work: Path
    host: Host

    def zip_path(self, sid: str) -> Path:
        return self.subs / f"{ASSIGNMENT}_{sid}.zip"

    def solution(self, model: bytes | None = None) -> demo.Solution:
        """The solved run as demo.build_student takes it (with another model if given)."""
        return demo.Solution(ASSIGNMENT, NOTEBOOK, self.solved, {MODEL: model or self.model})


Builder = Callable[[Kit, str], None]


@dataclass(frozen=True)
class Case:
    """One submission of the corpus: its id (= the student id), what it does, how it is built."""

    sid: str
    kind: str  # control | mistake | zip | model | format | archive | tamper | resource | sandbox
    what: str
    build: Builder
    expected: Expected
    guard: bool = True  # False: graded with the audit hook off (the containment run)


# ---------------------------------------------------------------------------------------------
# Building blocks


def submitted(*edits: Edit, packaging: str = "submit", model: bytes | None = None) -> Builder:
    """A student who edits the solved notebook and zips it with `autograder submit`."""
    def build(kit: Kit, sid: str) -> None:
        student = demo.Student(sid, "", tuple(edits), packaging)
        demo.build_student(student, kit.solution(model), kit.work, kit.subs, kit.course)
    return build


def maker(fn: mv.Maker) -> Edit:
    """A make_violations maker (copy in, copy out) as an in-place edit."""
    def apply(nb: Any) -> None:
        changed = fn(nb, POLICY)
        nb.cells, nb.metadata = changed.cells, changed.metadata
    return apply


def body(function: str, code: str, replace: bool = False) -> Edit:
    """Put `code` at the top of `function`'s TODO body (the honest body still follows), or
    replace the body. The grader grafts TODO bodies, so this is where a student's code lives."""
    code = textwrap.dedent(code).strip("\n")

    def apply(nb: Any) -> None:
        index, block = mv.find_function(nb, function)
        changed = (mv.put_body(nb, index, block, code) if replace
                   else mv.add_to_body(nb, index, code, block))
        nb.cells = changed.cells
    return apply


def demo_edits(sid: str) -> tuple[Edit, ...]:
    """The edits of one of the demo's students (demo/classroom.py)."""
    return next(s.edits for s in demo.STUDENTS if s.sid == sid)


def read_zip(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as zf:
        return {i.filename: zf.read(i) for i in zf.infolist()}


def write_zip(path: Path, members: Mapping[str, bytes]) -> None:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)


def fix_manifest(members: dict[str, bytes]) -> None:
    """Recompute MANIFEST.json's hashes, as a student forging the zip by hand would."""
    manifest = json.loads(members["MANIFEST.json"])
    for name in manifest["files"]:
        if name in members:
            manifest["files"][name] = hashlib.sha256(members[name]).hexdigest()
    members["MANIFEST.json"] = json.dumps(manifest, indent=1).encode()


def rewrite_zip(change: Callable[[dict[str, bytes], Kit], None], forge: bool = True) -> Builder:
    """Submit honestly, then change the zip's members; `forge` keeps the manifest consistent
    so that only the change under test is seen."""
    def build(kit: Kit, sid: str) -> None:
        submitted()(kit, sid)
        members = read_zip(kit.zip_path(sid))
        change(members, kit)
        if forge:
            fix_manifest(members)
        write_zip(kit.zip_path(sid), members)
    return build


def notebook_bytes(mutate: Callable[[bytes], bytes]) -> Builder:
    """The submitted notebook's bytes replaced by `mutate(bytes)` (manifest forged to match)."""
    def change(members: dict[str, bytes], kit: Kit) -> None:
        members[NOTEBOOK] = mutate(members[NOTEBOOK])
    return rewrite_zip(change)


def notebook_json(mutate: Callable[[dict[str, Any]], None]) -> Builder:
    """The submitted notebook's JSON changed in place by `mutate`."""
    def apply(data: bytes) -> bytes:
        nb = json.loads(data)
        mutate(nb)
        return json.dumps(nb, indent=1).encode()
    return notebook_bytes(apply)


def honest_members(kit: Kit, sid: str) -> dict[str, bytes]:
    """The members of an honest zip (built once per sid in the work folder)."""
    tmp = kit.work / "honest" / sid
    tmp.mkdir(parents=True, exist_ok=True)
    student = demo.Student(sid, "")
    zip_path = demo.build_student(student, kit.solution(), tmp / "w", tmp, kit.course)
    members = read_zip(zip_path)
    zip_path.unlink()
    return members


def raw_archive(make: Callable[[Kit, str, dict[str, bytes]], bytes]) -> Builder:
    """An archive written byte by byte (what zipfile's API would not produce)."""
    def build(kit: Kit, sid: str) -> None:
        kit.zip_path(sid).write_bytes(make(kit, sid, honest_members(kit, sid)))
    return build


def _zip_bytes(entries: list[tuple[zipfile.ZipInfo | str, bytes]]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for info, data in entries:
            zf.writestr(info, data)
    return buf.getvalue()


# ---------------------------------------------------------------------------------------------
# Archive abuse


def zip_slip(kit: Kit, sid: str, members: dict[str, bytes]) -> bytes:
    """The honest files plus a member whose `..` path leads to the host folder."""
    target = "../" * 16 + str(kit.host.marker(sid)).lstrip("/")
    return _zip_bytes([*members.items(), (target, b"written by a zip slip")])


def zip_bomb(kit: Kit, sid: str, members: dict[str, bytes]) -> bytes:
    """The model replaced by 64 MiB of zeros (about 1000x compressed; the limit is 200x)."""
    members[MODEL] = bytes(64 << 20)
    info = zipfile.ZipInfo(MODEL)
    info.compress_type = zipfile.ZIP_DEFLATED
    entries: list[tuple[zipfile.ZipInfo | str, bytes]] = [
        (info, v) if k == MODEL else (k, v) for k, v in members.items()]
    return _zip_bytes(entries)


def zip_symlink(kit: Kit, sid: str, members: dict[str, bytes]) -> bytes:
    """The notebook member is a symbolic link to the host's secret file."""
    link = zipfile.ZipInfo(NOTEBOOK)
    link.external_attr = (stat.S_IFLNK | 0o777) << 16
    link.create_system = 3  # unix
    return _zip_bytes([(link, str(kit.host.secret).encode()),
                       *[(k, v) for k, v in members.items() if k != NOTEBOOK]])


def zip_encrypted(kit: Kit, sid: str, members: dict[str, bytes]) -> bytes:
    """Every member flagged as encrypted (zipfile cannot write real encryption; the flag is
    what a grader must look at before reading anything)."""
    data = bytearray(_zip_bytes(list(members.items())))
    for sig, flag_at in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        start = data.find(sig)
        while start != -1:
            (flags,) = struct.unpack_from("<H", data, start + flag_at)
            struct.pack_into("<H", data, start + flag_at, flags | 0x1)
            start = data.find(sig, start + 4)
    return bytes(data)


def zip_in_zip(kit: Kit, sid: str, members: dict[str, bytes]) -> bytes:
    """The student zipped their zip."""
    return _zip_bytes([(f"{ASSIGNMENT}_{sid}.zip", _zip_bytes(list(members.items())))])


def zip_empty(kit: Kit, sid: str, members: dict[str, bytes]) -> bytes:
    return _zip_bytes([])


# ---------------------------------------------------------------------------------------------
# Format abuse


def truncated_json(data: bytes) -> bytes:
    return data[: len(data) // 2]


def nbformat3(data: bytes) -> bytes:
    """The same cells in the nbformat 3 layout (worksheets), as a 2014 Jupyter would save."""
    nb = json.loads(data)
    cells = [{"cell_type": c["cell_type"], "input": c["source"], "metadata": c["metadata"]}
             for c in nb["cells"]]
    return json.dumps({"nbformat": 3, "nbformat_minor": 0, "metadata": nb["metadata"],
                       "worksheets": [{"cells": cells, "metadata": {}}]}).encode()


def latin1_bytes(data: bytes) -> bytes:
    """A markdown cell saved by an editor in Latin-1: one byte that is not UTF-8."""
    return data.replace(b"# Assignment 4", b"# Assignment 4 (r\xe9sum\xe9)", 1)


def with_bom(data: bytes) -> bytes:
    return codecs.BOM_UTF8 + data


def crlf(data: bytes) -> bytes:
    """Windows line endings in the file and inside every cell's source."""
    nb = json.loads(data)
    for cell in nb["cells"]:
        src = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
        cell["source"] = src.replace("\n", "\r\n")
    return json.dumps(nb, indent=1).replace("\n", "\r\n").encode()


def huge_output(nb: dict[str, Any]) -> None:
    """50 MB of (incompressible) output in one cell: a student printing a whole dataset."""
    rng = np.random.default_rng(9)
    text = rng.bytes(25 << 20).hex()
    cell = next(c for c in nb["cells"] if c["cell_type"] == "code" and c.get("outputs"))
    cell["outputs"].append({"output_type": "stream", "name": "stdout", "text": text})


def ten_thousand_cells(nb: dict[str, Any]) -> None:
    """10,000 scratch cells (run) after the data cell: one rule, capped, in reasonable time."""
    at = next(i for i, c in enumerate(nb["cells"])
              if c.get("metadata", {}).get("nbgrader", {}).get("grade_id") == "a4-load-data")
    new = [{"cell_type": "code", "execution_count": None, "metadata": {}, "id": f"scratch-{k}",
            "outputs": [], "source": f"scratch_{k} = {k}"} for k in range(10_000)]
    nb["cells"][at + 1: at + 1] = new
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    for count, cell in enumerate(code, start=1):  # run top to bottom, as Run All would
        cell["execution_count"] = count


def no_release_metadata(nb: dict[str, Any]) -> None:
    nb["metadata"].pop("autograder", None)


# ---------------------------------------------------------------------------------------------
# Zip and model abuse


def renamed_notebook(members: dict[str, bytes], kit: Kit) -> None:
    members[f"Copy of {NOTEBOOK}"] = members.pop(NOTEBOOK)


def edited_after_zipping(members: dict[str, bytes], kit: Kit) -> None:
    members[NOTEBOOK] = members[NOTEBOOK].replace(b"# Assignment 4", b"# Assignment 4 (edited)", 1)


def someone_elses_zip(kit: Kit, sid: str) -> None:
    """A zip made by student s99, handed in under another name."""
    submitted()(kit, "s99")
    kit.zip_path("s99").rename(kit.zip_path(sid))


def forged_student_id(members: dict[str, bytes], kit: Kit) -> None:
    """A manifest whose student id is a path: it must stay a string in a message."""
    manifest = json.loads(members["MANIFEST.json"])
    manifest["student_id"] = "../../../pwned"
    members["MANIFEST.json"] = json.dumps(manifest).encode()


def _npz(**arrays: Any) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def _params(kit: Kit) -> dict[str, np.ndarray]:
    with np.load(io.BytesIO(kit.model), allow_pickle=False) as f:
        return {k: f[k] for k in f.files}


def model_wrong_shape(members: dict[str, bytes], kit: Kit) -> None:
    params = _params(kit)
    params["W2"] = params["W2"].T.copy()
    members[MODEL] = _npz(**params)


class _OpenOnUnpickle:
    """Unpickling this runs builtins.open(marker, "w"): a model must never be unpickled."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self) -> tuple[Any, tuple[str, str]]:
        return (open, (self.path, "w"))


def model_pickle_payload(sid: str) -> Callable[[dict[str, bytes], Kit], None]:
    def change(members: dict[str, bytes], kit: Kit) -> None:
        params = _params(kit)
        params["W1"] = np.array([_OpenOnUnpickle(str(kit.host.marker(sid)))], dtype=object)
        members[MODEL] = _npz(**params)  # np.savez pickles object arrays
    return change


def model_not_a_zip(members: dict[str, bytes], kit: Kit) -> None:
    members[MODEL] = b"W1,b1,W2,b2\n0.1,0.2,0.3,0.4\n"


# ---------------------------------------------------------------------------------------------
# Hostile code (the attacks go into nn_get_search_params unless they need another function:
# only one hidden test calls it, so a failed attack costs one unit, and the honest body after
# it still returns the right value when the attack gains nothing)

SEARCH = "nn_get_search_params"
SEARCH_TEST = "search_params_are_sensible"


def steal(paths: list[str], how: str = "open(p).read()") -> str:
    """Code that reads `paths` and, if anything was read, raises it into the test's message."""
    return f"""
    stolen = []
    for p in {paths!r}:
        try:
            stolen.append(str({how})[:300])
        except BaseException:
            pass
    if stolen:
        raise RuntimeError("STO" + "LEN: " + " | ".join(stolen))
    """


def secret_paths(kit: Kit) -> list[str]:
    """The course's hidden tests and solution, the repository's, by absolute and relative path,
    and the host's secret file."""
    sol = kit.course / "solutions" / ASSIGNMENT
    real = REPO_ROOT / "solutions" / ASSIGNMENT
    return [str(sol / "hidden_tests.py"), str(sol / NOTEBOOK), str(real / "hidden_tests.py"),
            str(real / NOTEBOOK), "../solutions/A4/hidden_tests.py",
            "solutions/A4/hidden_tests.py", str(kit.host.secret)]


def attack(code: Callable[[Kit, str], str], function: str = SEARCH) -> Builder:
    """A submission whose `function` starts with the attack `code(kit, sid)`."""
    def build(kit: Kit, sid: str) -> None:
        submitted(body(function, code(kit, sid)))(kit, sid)
    return build


def read_by_path(kit: Kit, sid: str) -> str:
    return steal(secret_paths(kit)) + f"""
    try:
        open({str(kit.host.marker(sid))!r}, "w").write("written")
    except BaseException:
        pass
    """


def numpy_file_io(kit: Kit, sid: str) -> str:
    """No `open`, no import: numpy's own file functions read and write by path."""
    return steal(secret_paths(kit), "np.fromfile(p, dtype=np.uint8).tobytes()") + f"""
    try:
        np.save({str(kit.host.marker(sid))!r}, np.zeros(3))
    except BaseException:
        pass
    try:
        np.zeros(4).tofile({str(kit.host.marker(sid)) + '.bin'!r})
    except BaseException:
        pass
    """


def ctypes_through_numpy(kit: Kit, sid: str) -> str:
    """libc through np.ctypeslib: a shell command and a raw open(2) of the secret."""
    marker = kit.host.marker(sid)
    return f"""
    found = []
    try:
        libc = np.ctypeslib.load_library("libc.so.6", "/lib/x86_64-linux-gnu")
        libc.system(b"touch {marker}; cat {kit.host.secret} > {marker}")
        fd = libc.open({str(kit.host.secret).encode()!r}, 0)
        if fd >= 0:
            buf = np.ctypeslib.ctypes.create_string_buffer(200)
            libc.read(fd, buf, 200)
            found.append(buf.value.decode())
    except BaseException:
        pass
    if found:
        raise RuntimeError("STO" + "LEN: " + " ".join(found))
    """


def shell_by_dunder_import(kit: Kit, sid: str) -> str:
    marker = kit.host.marker(sid)
    return f"""
    try:
        __import__("os").system("touch {marker}; cat {kit.host.secret} >> {marker}")
    except BaseException:
        pass
    """


def shell_by_importlib(kit: Kit, sid: str) -> str:
    marker = kit.host.marker(sid)
    return f"""
    import importlib
    try:
        importlib.import_module("subprocess").run(["/bin/sh", "-c", "touch {marker}"])
    except BaseException:
        pass
    """


def _payload(kit: Kit, sid: str) -> str:
    """What the obfuscated strings run: write the marker, leak the secret file."""
    return (f"open({str(kit.host.marker(sid))!r}, 'w').write('x')\n"
            f"raise RuntimeError('STO' + 'LEN: ' + open({str(kit.host.secret)!r}).read())\n")


def exec_base64(kit: Kit, sid: str) -> str:
    encoded = base64.b64encode(_payload(kit, sid).encode()).decode()
    return f"""
    import base64
    try:
        exec(base64.b64decode({encoded!r}).decode())
    except RuntimeError:
        raise
    except BaseException:
        pass
    """


def exec_rot13(kit: Kit, sid: str) -> str:
    """rot13 without an import, run through builtins reached by a dunder."""
    hidden = codecs.encode(_payload(kit, sid), "rot13")
    return f"""
    table = str.maketrans(
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
        "NOPQRSTUVWXYZABCDEFGHIJKLMnopqrstuvwxyzabcdefghijklm")
    run = __builtins__["ex" + "ec"] if isinstance(__builtins__, dict) else getattr(__builtins__, "ex" + "ec")
    try:
        run({hidden!r}.translate(table))
    except RuntimeError:
        raise
    except BaseException:
        pass
    """


def environment(kit: Kit, sid: str) -> str:
    """Set the grader's variables from student code, then look for the grader's own."""
    return f"""
    import os
    for name, value in (("AUTOGRADER_WORKER_GUARD", "0"), ("PATH", "/tmp:/bin"),
                        ("OPENBLAS_NUM_THREADS", "64"), ("AUTOGRADER_WORKER_PYTHON", "/bin/sh"),
                        ("PYTHONPATH", "/tmp")):
        os.environ[name] = value
        os.putenv(name, value)
    seen = os.environ.get({SECRET_ENV_NAME!r}, "")
    for pid in ("self", "1", str(os.getppid())):
        try:
            seen += open("/proc/" + pid + "/environ").read()
        except BaseException:
            pass
    if {SECRET_ENV_NAME!r} in seen:
        raise RuntimeError("STO" + "LEN: " + seen[:400])
    """


MONKEYPATCH = """
import builtins
np.allclose = lambda *a, **k: True
np.isclose = lambda a, *r, **k: np.ones(np.shape(a), dtype=bool)
np.array_equal = lambda *a, **k: True
np.testing.assert_allclose = lambda *a, **k: None
builtins.abs = lambda x: 0
builtins.isinstance = lambda *a: True
return np.zeros(X.shape[0], dtype=int)
"""

SYS_MODULES = """
import sys
sys.modules["numpy"].argmax = lambda *a, **k: 0
sys.modules["numpy.testing"] = None
sys.modules["builtins"].type = lambda *a: np.ndarray
return np.zeros(X.shape[0], dtype=int)
"""

BUILTINS_DUNDER = """
b = __builtins__ if isinstance(__builtins__, dict) else __builtins__.__dict__
b["max"] = lambda *a, **k: 0
b["len"] = lambda *a: 0
b["float"] = lambda *a: 0.0
return np.zeros(X.shape[0], dtype=int)
"""

NDARRAY_SUBCLASS = """
class Liar(np.ndarray):
    def __eq__(self, other):
        return np.ones(self.shape, dtype=bool)
    def __sub__(self, other):
        return np.zeros(self.shape)
    __rsub__ = __sub__
    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        return np.zeros(self.shape)
N, H, C = X.shape[0], params["W1"].shape[1], params["W2"].shape[1]
return np.zeros((N, C)).view(Liar), np.zeros((N, H)).view(Liar)
"""

OPERATOR_OVERLOADS = """
class Anything(float):
    def __eq__(self, other): return True
    def __sub__(self, other): return 0.0
    __rsub__ = __sub__
    def __abs__(self): return 0.0
    def __lt__(self, other): return True
    def __le__(self, other): return True
return Anything(0.0)
"""


def infinite_loop(kit: Kit, sid: str) -> str:
    return "while True:\n    pass"


def huge_allocation(kit: Kit, sid: str) -> str:
    return "big = np.ones((1 << 33,))  # 64 GiB\nbig[:] = 2.0"


def fork_bomb(kit: Kit, sid: str) -> str:
    return """
    import os
    while True:
        try:
            os.fork()
        except BaseException:
            pass
    """


def output_flood(kit: Kit, sid: str) -> str:
    """50 MB on stdout and 20 MB on stderr, then the honest result."""
    return """
    import sys
    line = "flood " * 1000
    for _ in range(8000):
        print(line)
    for _ in range(3000):
        sys.stderr.write(line + "\\n")
    """


def disk_filler(kit: Kit, sid: str) -> str:
    """Fill /tmp with a huge file (the sandbox's tmpfs, not the host's), then go on honestly."""
    return f"""
    chunk = np.ones(1 << 20)  # 8 MiB
    for k in range(32):
        try:
            chunk.tofile("/tmp/{kit.host.tmp_name}-{sid}." + str(k))
        except BaseException:
            break
    """


def fake_model_file(kit: Kit, sid: str) -> str:
    """Write the best model from graded code, hoping the grader reads it instead."""
    return f"""
    try:
        np.savez({str(kit.host.marker(sid))!r}, W1=np.zeros((64, 10)))
    except BaseException:
        pass
    """


# ---------------------------------------------------------------------------------------------
# The table

E = Expected
NOT = "!passed"


def _rules(*ids: str) -> frozenset[str]:
    return frozenset(ids)


CASES: tuple[Case, ...] = (
    # ---------------------------------------------------------------- the honest controls
    Case("ok-honest", "control", "the solution, zipped with autograder submit",
         submitted(), E(exact=True, floor=FULL)),
    Case("ok-honest-off", "control", "the same, graded in the run with the audit hook off",
         submitted(), E(exact=True, floor=FULL), guard=False),
    # ---------------------------------------------------------------- real student mistakes
    Case("mis-added-cell", "mistake", "a scratch cell added after the data cell",
         submitted(*demo_edits("s07")), E(rules=_rules("cell-added"), cap=79.5, floor=79.5)),
    Case("mis-added-helper", "mistake", "a helper defined in an added cell, used in a TODO",
         submitted(maker(mv.helper_in_added_cell)),
         E(rules=_rules("cell-added", "undefined-name"), cap=79.5)),
    Case("mis-deleted-locked", "mistake", "a locked code cell deleted",
         submitted(maker(mv.deleted_locked_code)), E(rules=_rules("cell-deleted"), cap=79, floor=79)),
    Case("mis-deleted-markdown", "mistake", "a markdown cell deleted",
         submitted(maker(mv.deleted_markdown)), E(rules=_rules("cell-deleted"), cap=79, floor=79)),
    Case("mis-swapped", "mistake", "a TODO cell swapped with the next one",
         submitted(maker(mv.swapped_cells)), E(rules=_rules("cell-reordered"), cap=79.5, floor=79.5)),
    Case("mis-moved", "mistake", "a markdown cell moved to the end",
         submitted(maker(mv.moved_to_end)), E(rules=_rules("cell-reordered"), cap=79.5, floor=79.5)),
    Case("mis-dup-solution", "mistake", "a TODO cell copied and pasted (same grade_id)",
         submitted(maker(mv.duplicated_solution_cell)), E(rules=_rules("cell-duplicated"), cap=79.5)),
    Case("mis-dup-text", "mistake", "a locked cell's code typed again in a new cell",
         submitted(maker(mv.duplicated_locked_text)), E(rules=_rules("cell-duplicated"), cap=79.5)),
    Case("mis-code-to-md", "mistake", "a locked code cell turned into markdown",
         submitted(maker(mv.code_to_markdown)), E(rules=_rules("cell-type-changed"), cap=79.5)),
    Case("mis-md-to-code", "mistake", "a markdown cell turned into code",
         submitted(maker(mv.markdown_to_code)), E(rules=_rules("cell-type-changed"), cap=79.5)),
    Case("mis-locked-code", "mistake", "a line added to a locked code cell",
         submitted(maker(mv.locked_code_edited)), E(rules=_rules("locked-cell-modified"), cap=78, floor=78)),
    Case("mis-locked-md", "mistake", "text written into a locked markdown cell",
         submitted(maker(mv.locked_markdown_edited)), E(rules=_rules("locked-cell-modified"), cap=78, floor=78)),
    Case("mis-outside-print", "mistake", "a debug print added outside the TODO block",
         submitted(*demo_edits("s06")), E(rules=_rules("outside-todo-modified"), cap=79, floor=79)),
    Case("mis-outside-signature", "mistake", "a function's signature changed",
         submitted(maker(mv.outside_signature_changed)), E(rules=_rules("outside-todo-modified"), cap=79)),
    Case("mis-marker-deleted", "mistake", "an END marker line deleted",
         submitted(maker(mv.marker_deleted)), E(rules=_rules("todo-marker-damaged"))),
    Case("mis-marker-edited", "mistake", "a START marker line edited",
         submitted(maker(mv.marker_edited)), E(rules=_rules("todo-marker-damaged"))),
    Case("mis-import-os", "mistake", "`import os` in a TODO body",
         submitted(maker(mv.import_os_in_body)), E(rules=_rules("forbidden-import"), cap=75)),
    Case("mis-import-free-cell", "mistake", "`import os` in the free settings cell",
         submitted(*demo_edits("s08")), E(rules=_rules("forbidden-import"), cap=75)),
    Case("mis-vectorize", "mistake", "np.vectorize in a TODO body",
         submitted(maker(mv.forbidden_direct)), E(rules=_rules("forbidden-call"), cap=75)),
    Case("mis-vectorize-alias", "mistake", "np.vectorize through `import numpy as xp`",
         submitted(maker(mv.forbidden_aliased)), E(rules=_rules("forbidden-call"), cap=75)),
    Case("mis-loop-for", "mistake", "a for loop in a loop-free function",
         submitted(maker(mv.loop_for)), E(rules=_rules("loop-in-vectorized"), cap=75, floor=75)),
    Case("mis-loop-comprehension", "mistake", "a list comprehension in a loop-free function",
         submitted(maker(mv.loop_comprehension)), E(rules=_rules("loop-in-vectorized"), cap=75, floor=75)),
    Case("mis-undefined-global", "mistake", "a TODO body using a global of a driver cell",
         submitted(maker(mv.undefined_global)), E(rules=_rules("undefined-name"))),
    Case("mis-syntax-error", "mistake", "a TODO body that does not parse: nothing can be imported",
         submitted(maker(mv.syntax_error_in_body)),
         E(rules=_rules("undefined-name"), tests={"forward_pass_matches_reference": NOT}, cap=20)),
    Case("mis-never-ran", "mistake", "cells saved without running them",
         submitted(maker(mv.never_ran)), E(rules=_rules("not-executed"), cap=79, floor=79)),
    Case("mis-cleared-all", "mistake", "Clear All Outputs before saving",
         submitted(*demo_edits("s09")), E(rules=_rules("not-executed"), cap=79, floor=79)),
    Case("mis-outputs-cleared", "mistake", "two cells' outputs cleared",
         submitted(maker(mv.cleared_outputs)), E(rules=_rules("outputs-cleared"), cap=79, floor=79)),
    Case("mis-one-output-cleared", "mistake", "one cell's output cleared",
         submitted(maker(mv.cleared_one_output)), E(rules=_rules("outputs-cleared"), cap=79, floor=79)),
    Case("mis-bug-relu", "mistake", "wrong ReLU backward (no gate): points lost, no rule",
         submitted(*demo_edits("s05")),
         E(exact=True, tests={"gradients_match_reference": NOT}, cap=FULL - 1)),
    # ---------------------------------------------------------------- the zip
    Case("zip-nested", "zip", "the files zipped inside a folder",
         submitted(packaging="nested"), E(rules=_rules("zip-structure"), floor=FULL)),
    Case("zip-renamed", "zip", "the notebook renamed `Copy of two_layer_net.ipynb`",
         rewrite_zip(renamed_notebook, forge=False), E(rules=_rules("zip-structure"), floor=FULL)),
    Case("zip-no-model", "zip", "the best model not in the zip",
         submitted(packaging="no-model"), E(rules=_rules("zip-structure"), cap=60, floor=60)),
    Case("zip-no-manifest", "zip", "zipped by hand: no MANIFEST.json",
         submitted(packaging="no-manifest"), E(rules=_rules("zip-manifest"), cap=78, floor=78)),
    Case("zip-edited-after", "zip", "the notebook edited after the zip was made",
         rewrite_zip(edited_after_zipping, forge=False), E(rules=_rules("zip-manifest"), cap=78)),
    Case("id-someone-else", "zip", "student s99's zip handed in under another id",
         someone_elses_zip, E(rules=_rules("student-id-mismatch"), floor=FULL)),
    Case("id-forged-path", "zip", "a manifest whose student id is `../../../pwned`",
         rewrite_zip(forged_student_id, forge=False),
         E(rules=_rules("student-id-mismatch"), floor=FULL)),
    # ---------------------------------------------------------------- the best model
    Case("model-wrong-shape", "model", "W2 saved transposed",
         rewrite_zip(model_wrong_shape), E(rules=_rules("model-invalid"), cap=60)),
    Case("model-pickle", "model", "an object array whose unpickling would write a host file",
         lambda kit, sid: rewrite_zip(model_pickle_payload(sid))(kit, sid),
         E(rules=_rules("model-invalid"), cap=60)),
    Case("model-not-npz", "model", "a CSV file named nn_best_model.npz",
         rewrite_zip(model_not_a_zip), E(rules=_rules("model-invalid"), cap=60)),
    # ---------------------------------------------------------------- format abuse
    Case("fmt-invalid-json", "format", "the notebook cut in half (broken JSON)",
         notebook_bytes(truncated_json), E("failed", _rules("notebook-invalid"), cap=0)),
    Case("fmt-nbformat3", "format", "an nbformat 3 notebook (worksheets)",
         notebook_bytes(nbformat3), E("failed", _rules("notebook-invalid"), cap=0)),
    Case("fmt-non-utf8", "format", "a Latin-1 byte in a markdown cell",
         notebook_bytes(latin1_bytes), E("failed", _rules("notebook-invalid"), cap=0)),
    Case("fmt-no-metadata", "format", "a front end dropped metadata.autograder",
         notebook_json(no_release_metadata), E("failed", _rules("notebook-invalid"), cap=0)),
    Case("fmt-bom", "format", "a UTF-8 byte-order mark before the JSON (an editor's encoding)",
         notebook_bytes(with_bom), E(exact=True, floor=FULL)),
    Case("fmt-crlf", "format", "CRLF line endings in the file and in every cell",
         notebook_bytes(crlf), E(exact=True, floor=FULL)),
    Case("fmt-50mb-output", "format", "50 MB of printed output in one cell",
         notebook_json(huge_output), E(exact=True, floor=FULL)),
    Case("fmt-10000-cells", "format", "10,000 added scratch cells",
         notebook_json(ten_thousand_cells), E(rules=_rules("cell-added"), cap=78, floor=78)),
    # ---------------------------------------------------------------- archive abuse
    Case("arc-slip", "archive", "a member named ../../…/host/arc-slip.marker (zip slip)",
         raw_archive(zip_slip), E("failed", cap=0)),
    Case("arc-bomb", "archive", "a 64 MiB member compressed 1000x (zip bomb)",
         raw_archive(zip_bomb), E("failed", cap=0)),
    Case("arc-symlink", "archive", "the notebook is a symlink to a host file",
         raw_archive(zip_symlink), E("failed", cap=0)),
    Case("arc-encrypted", "archive", "every member flagged as encrypted",
         raw_archive(zip_encrypted), E("failed", cap=0)),
    Case("arc-zip-in-zip", "archive", "the student's zip inside another zip",
         raw_archive(zip_in_zip), E("failed", cap=0)),
    Case("arc-empty", "archive", "an empty zip",
         raw_archive(zip_empty), E("failed", cap=0)),
    # ---------------------------------------------------------------- the audit hook (on)
    Case("sbx-open-secrets", "sandbox", "open() of the hidden tests, the solution and a host file",
         attack(read_by_path), E(rules=_rules("forbidden-import", "sandbox-violation"), cap=65,
                                 tests={SEARCH_TEST: "passed"})),
    Case("sbx-numpy-io", "sandbox", "np.fromfile / np.save / tofile by path, no import",
         attack(numpy_file_io), E(rules=_rules("forbidden-import", "sandbox-violation"), cap=65)),
    Case("sbx-ctypeslib", "sandbox", "libc through np.ctypeslib: system() and open(2)",
         attack(ctypes_through_numpy), E(rules=_rules("forbidden-import", "sandbox-violation"), cap=65)),
    # ---------------------------------------------------------------- tampering (hook off)
    Case("tam-monkeypatch", "tamper", "np.allclose, np.testing, builtins patched; predicts zeros",
         submitted(body("nn_predict", MONKEYPATCH, replace=True)),
         E(rules=_rules("forbidden-import"), tests={"predict_is_the_argmax_with_an_integer_dtype": NOT},
           cap=FULL - 4 - 5), guard=False),
    Case("tam-eq-object", "tamper", "returns an object whose __eq__ is always True",
         submitted(*demo_edits("s14")),
         E(tests={"predict_is_the_argmax_with_an_integer_dtype": NOT}, cap=FULL - 4), guard=False),
    Case("tam-operators", "tamper", "a float subclass: == always True, - always 0, < always True",
         submitted(body("nn_forward_backward", OPERATOR_OVERLOADS, replace=True)),
         E(tests={"loss_matches_reference": NOT, "gradients_match_reference": NOT},
           cap=FULL - 30), guard=False),
    Case("tam-ndarray-subclass", "tamper", "an ndarray subclass lying in __eq__/__sub__/ufuncs",
         submitted(body("nn_forward_pass", NDARRAY_SUBCLASS, replace=True)),
         E(tests={"forward_pass_matches_reference": NOT}, cap=FULL - 8), guard=False),
    Case("tam-sys-modules", "tamper", "sys.modules['numpy'] and builtins patched",
         submitted(body("nn_predict", SYS_MODULES, replace=True)),
         E(rules=_rules("forbidden-import"), tests={"predict_is_the_argmax_with_an_integer_dtype": NOT},
           cap=FULL - 4 - 5), guard=False),
    Case("tam-builtins", "tamper", "__builtins__['max'/'len'/'float'] replaced",
         submitted(body("nn_predict", BUILTINS_DUNDER, replace=True)),
         E(rules=_rules("forbidden-import"), tests={"predict_is_the_argmax_with_an_integer_dtype": NOT},
           cap=FULL - 4 - 5), guard=False),
    Case("tam-dunder-import", "tamper", "__import__('os').system(touch marker; cat secret)",
         attack(shell_by_dunder_import), E(rules=_rules("forbidden-import"), cap=75), guard=False),
    Case("tam-importlib", "tamper", "importlib.import_module('subprocess').run(sh -c touch)",
         attack(shell_by_importlib), E(rules=_rules("forbidden-import"), cap=75), guard=False),
    Case("tam-exec-base64", "tamper", "exec of a base64 payload that writes and leaks",
         attack(exec_base64), E(rules=_rules("forbidden-import"), cap=75), guard=False),
    Case("tam-exec-rot13", "tamper", "a rot13 payload run through __builtins__['ex'+'ec']",
         attack(exec_rot13), E(rules=_rules("forbidden-import"), cap=75), guard=False),
    Case("tam-ctypeslib", "tamper", "libc through np.ctypeslib (no import statement)",
         attack(ctypes_through_numpy), E(rules=_rules("forbidden-import"), cap=75,
                                          tests={SEARCH_TEST: "passed"}), guard=False),
    Case("tam-environment", "tamper", "sets AUTOGRADER_*/PATH/OPENBLAS vars, reads the grader's",
         attack(environment), E(rules=_rules("forbidden-import"), cap=75,
                                tests={SEARCH_TEST: "passed"}), guard=False),
    Case("tam-read-solutions", "tamper", "open() of hidden tests/solutions by path, writes a marker",
         attack(read_by_path), E(rules=_rules("forbidden-import"), cap=75,
                                 tests={SEARCH_TEST: "passed"}), guard=False),
    Case("tam-numpy-io", "tamper", "np.fromfile of the solutions, np.save to the host",
         attack(numpy_file_io), E(rules=_rules("forbidden-import"), cap=75,
                                  tests={SEARCH_TEST: "passed"}), guard=False),
    Case("tam-fake-model", "tamper", "np.savez of a model from graded code",
         attack(fake_model_file), E(rules=_rules("forbidden-import"), cap=75), guard=False),
    # ---------------------------------------------------------------- resource abuse (hook off)
    Case("res-infinite-loop", "resource", "while True: pass",
         attack(infinite_loop), E(tests={SEARCH_TEST: "timeout"}, cap=78, floor=78), guard=False),
    Case("res-memory", "resource", "a 64 GiB np.ones",
         attack(huge_allocation), E(tests={SEARCH_TEST: "error"}, cap=78, floor=78), guard=False),
    Case("res-fork-bomb", "resource", "os.fork() in an endless loop",
         attack(fork_bomb), E(rules=_rules("forbidden-import"), tests={SEARCH_TEST: NOT}, cap=73),
         guard=False),
    Case("res-output-flood", "resource", "66 MB printed to stdout and stderr",
         attack(output_flood), E(rules=_rules("forbidden-import"), tests={SEARCH_TEST: "passed"},
                                 cap=75, floor=75), guard=False),
    Case("res-disk", "resource", "256 MiB written to /tmp in 8 MiB files",
         attack(disk_filler), E(rules=_rules("forbidden-import"), tests={SEARCH_TEST: "passed"},
                                cap=75, floor=75), guard=False),
)


# The user property under which test_corpus.py records each case's outcome, (sid, {"caught",
# "contained", "control", "seconds"}), for conftest.py's terminal summary.
CORPUS_RESULT = "adversarial-corpus"
