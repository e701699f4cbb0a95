"""The worker pipe: length-prefixed frames, `.npy` arrays, tagged JSON (docs/sandbox.md).

A *message* is one JSON frame followed by the `.npy` frames of the arrays it refers to:

    [u32 length][JSON: {"v": <tagged value>, "n": <number of arrays>}]
    [u32 length][.npy bytes of array 0] ... [u32 length][.npy bytes of array n-1]

Tagged JSON: None, bool, int, float (NaN/inf allowed), str and lists are plain JSON; every JSON
object is a tag:

    {"t": "nd", "i": k}              the k-th array frame of the message
    {"t": "tuple", "v": [...]}
    {"t": "dict", "v": [[key, value], ...]}   keys are str
    {"t": "func", "kind": "student"|"stub", "name": "..."}

Nothing else crosses. Encoding checks *exact* types (`type(x) is ...`, never isinstance), so an
ndarray subclass, a float subclass with a lying `__eq__` or any other object is a ProtocolError
and no method of it is ever called. Decoding is data only: arrays are read with
`np.load(..., allow_pickle=False)` after their header has been checked against the frame size,
JSON objects must be known tags. Nothing is ever unpickled or evaluated.
"""

from __future__ import annotations

import io
import json
import os
import select
import struct
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

LENGTH = struct.Struct("<I")
MAX_FRAME = 256 * 2**20  # bytes in one frame
MAX_MESSAGE = 512 * 2**20  # bytes in all the frames of one message
MAX_ARRAYS = 100_000  # arrays in one message (a batch of gradient-check calls has many)
MAX_DEPTH = 64  # nesting of lists/tuples/dicts
ARRAY_KINDS = "biuf"  # bool, signed/unsigned int, float; no object, complex, void, str

# Every numpy scalar type (exact classes); a student subclass of np.float64 is not in this set.
_NUMPY_SCALARS = frozenset(
    t for t in set(np.sctypeDict.values()) if np.dtype(t).kind in ARRAY_KINDS
)
_PLAIN_SCALARS = (type(None), bool, int, float, str)


class ProtocolError(Exception):
    """A value that cannot cross the pipe, or bytes that are not a valid message."""


class PipeClosed(ProtocolError):
    """The other end closed the pipe (the worker died or exited)."""


class PipeTimeout(ProtocolError):
    """No complete message before the deadline."""


@dataclass(frozen=True)
class FuncRef:
    """A function passed by name: one of the student's own (`student`) or a grader stub (`stub`)."""

    kind: str  # "student" | "stub"
    name: str

    def __post_init__(self) -> None:
        if self.kind not in ("student", "stub") or type(self.name) is not str:
            raise ProtocolError(f"bad function reference {self.kind!r}:{self.name!r}")


# --------------------------------------------------------------------------- values <-> JSON


def describe(value: Any) -> str:
    """The type of a value for a message, without calling any of its methods."""
    cls = type(value)
    mod = getattr(cls, "__module__", "?")
    return cls.__qualname__ if mod == "builtins" else f"{mod}.{cls.__qualname__}"


def to_tagged(value: Any, arrays: list[np.ndarray], depth: int = 0) -> Any:
    """Tagged JSON for value; arrays found are appended to `arrays`. ProtocolError if not plain."""
    if depth > MAX_DEPTH:
        raise ProtocolError(f"nested deeper than {MAX_DEPTH} levels")
    cls = type(value)
    if cls in _PLAIN_SCALARS:
        return value
    if cls in _NUMPY_SCALARS:
        return value.item()  # np.float64 -> float, np.int64 -> int, np.bool_ -> bool
    if cls is np.ndarray:
        if value.dtype.kind not in ARRAY_KINDS or value.dtype.fields is not None:
            raise ProtocolError(f"an array of dtype {value.dtype} (only numbers can be graded)")
        arrays.append(value)
        return {"t": "nd", "i": len(arrays) - 1}
    if cls is list:
        return [to_tagged(v, arrays, depth + 1) for v in value]
    if cls is tuple:
        return {"t": "tuple", "v": [to_tagged(v, arrays, depth + 1) for v in value]}
    if cls is dict:
        items = []
        for k, v in value.items():
            if type(k) is not str:
                raise ProtocolError(f"a dict key of type {describe(k)} (only str keys)")
            items.append([k, to_tagged(v, arrays, depth + 1)])
        return {"t": "dict", "v": items}
    if cls is FuncRef:
        return {"t": "func", "kind": value.kind, "name": value.name}
    if isinstance(value, np.ndarray):
        raise ProtocolError(f"an ndarray subclass ({describe(value)}); return a plain np.ndarray")
    raise ProtocolError(
        f"an object of type {describe(value)} (only numbers, strings, numpy arrays, "
        "lists, tuples and dicts can be graded)"
    )


def from_tagged(node: Any, arrays: list[np.ndarray], depth: int = 0) -> Any:
    """The value a tagged-JSON node stands for; ProtocolError for anything unknown."""
    if depth > MAX_DEPTH:
        raise ProtocolError(f"nested deeper than {MAX_DEPTH} levels")
    cls = type(node)
    if cls in _PLAIN_SCALARS:
        return node
    if cls is list:
        return [from_tagged(v, arrays, depth + 1) for v in node]
    if cls is not dict:
        raise ProtocolError(f"unexpected JSON node {describe(node)}")
    tag = node.get("t")
    if tag == "nd":
        i = node.get("i")
        if type(i) is not int or not 0 <= i < len(arrays):
            raise ProtocolError("array reference out of range")
        return arrays[i]
    if tag == "tuple" and type(node.get("v")) is list:
        return tuple(from_tagged(v, arrays, depth + 1) for v in node["v"])
    if tag == "dict" and type(node.get("v")) is list:
        out: dict[str, Any] = {}
        for item in node["v"]:
            if type(item) is not list or len(item) != 2 or type(item[0]) is not str:
                raise ProtocolError("malformed dict item")
            out[item[0]] = from_tagged(item[1], arrays, depth + 1)
        return out
    if tag == "func":
        return FuncRef(node.get("kind"), node.get("name"))
    raise ProtocolError(f"unknown tag {str(tag)[:40]!r}")


# --------------------------------------------------------------------------- arrays <-> .npy


def array_to_npy(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, arr, allow_pickle=False)
    return buf.getvalue()


def npy_to_array(data: bytes) -> np.ndarray:
    """Read one `.npy` frame without pickle, checking the header against the frame first.

    np.load would allocate `prod(shape)` elements before reading the data; a lying header
    (shape 10**12 in a 100-byte frame) must not make the trusted process allocate it.
    """
    buf = io.BytesIO(data)
    try:
        version = np.lib.format.read_magic(buf)
        if version == (1, 0):
            shape, _, dtype = np.lib.format.read_array_header_1_0(buf)
        elif version == (2, 0):
            shape, _, dtype = np.lib.format.read_array_header_2_0(buf)
        else:
            raise ValueError(f"version {version}")
    except Exception as exc:  # noqa: BLE001 - any malformed header is the same error
        raise ProtocolError(f"malformed .npy frame ({exc})") from None
    if dtype.kind not in ARRAY_KINDS or dtype.fields is not None or dtype.hasobject:
        raise ProtocolError(f"array of dtype {dtype} refused")
    count = 1
    for n in shape:
        count *= int(n)
    if count * dtype.itemsize != len(data) - buf.tell():
        raise ProtocolError("array frame size does not match its header")
    buf.seek(0)
    try:
        arr = np.load(buf, allow_pickle=False)
    except Exception as exc:  # noqa: BLE001
        raise ProtocolError(f"unreadable .npy frame ({exc})") from None
    if type(arr) is not np.ndarray:
        raise ProtocolError("array frame did not decode to an ndarray")
    return arr


# --------------------------------------------------------------------------- messages


def encode(value: Any) -> list[bytes]:
    """The frames of one message carrying value (ProtocolError if value is not plain)."""
    arrays: list[np.ndarray] = []
    tagged = to_tagged(value, arrays)
    if len(arrays) > MAX_ARRAYS:
        raise ProtocolError(f"more than {MAX_ARRAYS} arrays in one message")
    head = json.dumps({"v": tagged, "n": len(arrays)}, separators=(",", ":")).encode()
    frames = [head] + [array_to_npy(a) for a in arrays]
    total = 0
    for f in frames:
        if len(f) > MAX_FRAME:
            raise ProtocolError(f"a frame of {len(f)} bytes (limit {MAX_FRAME})")
        total += len(f)
    if total > MAX_MESSAGE:
        raise ProtocolError(f"a message of {total} bytes (limit {MAX_MESSAGE})")
    return frames


def decode(frames: list[bytes]) -> Any:
    """The value of a message given its frames (JSON head first)."""
    try:
        head = json.loads(frames[0].decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise ProtocolError(f"malformed JSON frame ({str(exc)[:80]})") from None
    if type(head) is not dict or type(head.get("n")) is not int or "v" not in head:
        raise ProtocolError("malformed message head")
    if head["n"] != len(frames) - 1:
        raise ProtocolError("array count does not match the frames")
    arrays = [npy_to_array(f) for f in frames[1:]]
    try:
        return from_tagged(head["v"], arrays)
    except RecursionError:
        raise ProtocolError("nested too deeply") from None


def roundtrip(value: Any) -> Any:
    """value as it would arrive on the other side of the pipe: a deep, plain copy."""
    return decode(encode(value))


def write_message(fd: int, value: Any, deadline: float | None = None) -> None:
    """Send one message on a file descriptor.

    With a deadline the fd should be non-blocking: a reader that stops reading (a hung worker)
    then raises PipeTimeout instead of blocking the grader forever.
    """
    write_frames(fd, encode(value), deadline)


def write_frames(fd: int, frames: list[bytes], deadline: float | None = None) -> None:
    """Send the frames of an already encoded message (see write_message)."""
    for f in frames:
        _write_all(fd, LENGTH.pack(len(f)) + f, deadline)


def _write_all(fd: int, data: bytes, deadline: float | None) -> None:
    view = memoryview(data)
    while view:
        try:
            n = os.write(fd, view)
        except BrokenPipeError:
            raise PipeClosed("the other end closed the pipe") from None
        except BlockingIOError:
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                raise PipeTimeout("the other end stopped reading") from None
            select.select([], [fd], [], left)
            continue
        view = view[n:]


class CappedText(io.TextIOBase):
    """A text sink (the student's sys.stdout/sys.stderr) keeping the first `cap` characters.

    What the student prints crosses the pipe with each result; a flood is cut here, in the
    worker, and counted, so neither the pipe nor the grader ever holds more than `cap`.
    """

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self.parts: list[str] = []
        self.kept = 0
        self.dropped = 0

    def writable(self) -> bool:
        return True

    def isatty(self) -> bool:
        return False

    def write(self, s: Any) -> int:
        s = s if type(s) is str else str(s)
        room = self.cap - self.kept
        if room > 0:
            self.parts.append(s[:room])
            self.kept += min(room, len(s))
        self.dropped += max(0, len(s) - max(room, 0))
        return len(s)

    def getvalue(self) -> str:
        text = "".join(self.parts)
        return text + (f"\n[... {self.dropped} more characters of output not shown]" if self.dropped else "")


class FrameReader:
    """Reads messages from a file descriptor with an optional deadline (trusted side).

    Frames are capped in size and in number, so a hostile writer can make the reader wait
    (until the deadline) but not allocate without bound.
    """

    def __init__(self, fd: int) -> None:
        self.fd = fd

    def read_message(self, deadline: float | None = None) -> Any:
        head = self._frame(deadline)
        n_arrays = 0
        try:
            peek = json.loads(head.decode("utf-8"))
            n_arrays = peek.get("n", 0) if type(peek) is dict else 0
        except (UnicodeDecodeError, ValueError, RecursionError):
            pass  # decode() reports it
        frames = [head]
        if type(n_arrays) is int and n_arrays > 0:
            if n_arrays > MAX_ARRAYS:
                raise ProtocolError(f"more than {MAX_ARRAYS} arrays in one message")
            total = len(head)
            for _ in range(n_arrays):
                frames.append(self._frame(deadline))
                total += len(frames[-1])
                if total > MAX_MESSAGE:
                    raise ProtocolError(f"a message over {MAX_MESSAGE} bytes")
        return decode(frames)

    def _frame(self, deadline: float | None) -> bytes:
        size = LENGTH.unpack(self._exact(LENGTH.size, deadline))[0]
        if size > MAX_FRAME:
            raise ProtocolError(f"a frame of {size} bytes (limit {MAX_FRAME})")
        return self._exact(size, deadline)

    def _exact(self, size: int, deadline: float | None) -> bytes:
        chunks: list[bytes] = []
        remaining = size
        while remaining:
            if deadline is not None:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise PipeTimeout("no answer before the deadline")
                ready, _, _ = select.select([self.fd], [], [], left)
                if not ready:
                    raise PipeTimeout("no answer before the deadline")
            chunk = os.read(self.fd, min(remaining, 1 << 20))
            if not chunk:
                raise PipeClosed("the other end closed the pipe")
            chunks.append(chunk)
            remaining -= len(chunk)
        return b"".join(chunks)
