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
    {"t": "nd", "i": k, "keep": s}   the k-th array frame, which the worker also keeps in slot s
    {"t": "kept", "k": s}            a fresh copy of the array the worker keeps in slot s

The last two go from the grader to the worker only (see KeptArrays): a large argument that
several calls share (a CIFAR-sized X) crosses the pipe once per worker instead of once per call.
The grader's own reader refuses them.

Nothing else crosses. Encoding checks *exact* types (`type(x) is ...`, never isinstance), so an
ndarray subclass, a float subclass with a lying `__eq__` or any other object is a ProtocolError
and no method of it is ever called. Decoding is data only: arrays are read with
`np.load(..., allow_pickle=False)` after their header has been checked against the frame size,
JSON objects must be known tags. Nothing is ever unpickled or evaluated.
"""

from __future__ import annotations

import functools
import io
import json
import os
import select
import struct
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import numpy as np

LENGTH = struct.Struct("<I")
MAX_FRAME = 256 * 2**20  # bytes in one frame
MAX_MESSAGE = 512 * 2**20  # bytes in all the frames of one message
MAX_ARRAYS = 100_000  # arrays in one message (a batch of gradient-check calls has many)
MAX_DEPTH = 64  # nesting of lists/tuples/dicts
ARRAY_KINDS = "biuf"  # bool, signed/unsigned int, float; no object, complex, void, str
MAX_ITEMSIZE = 8  # float64/int64 at most: nothing graded needs float128
# The trusted side's hard bounds on what the worker sends (see Bounds): a JSON head is parsed
# once, after a cheap count of its containers, so its memory is a small multiple of its size.
MAX_HEAD = 2**20  # bytes of a JSON head read by the grader
MAX_HEAD_CONTAINERS = 65_536  # '[' and '{' bytes in such a head (an upper bound of lists/dicts)
MAX_NPY_HEADER = 65_536 + 12  # an .npy header (numpy writes about 128 bytes)
MAX_NDIM = 32  # dimensions of an array read from the pipe
# Arguments of at least KEEP_MIN_BYTES cross once per worker (KeptArrays); the worker keeps at
# most KEEP_SLOTS of them, each of at most KEEP_MAX_BYTES (so 64 MiB at most, of its 2 GiB).
KEEP_MIN_BYTES = 2**20
KEEP_MAX_BYTES = 16 * 2**20
KEEP_SLOTS = 4
CACHED_NPY_HEADER = 1024  # headers up to this long are parsed once per process (_parsed_header)

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
class Bounds:
    """What one message may hold, checked while it is read (before anything is allocated).

    The worker reads the grader's requests with the generous defaults; the grader reads the
    worker's replies with bounds derived from its request (`for_reply`), so a forged frame costs
    it at most about `head_bytes` × a small factor plus `array_bytes`.
    """

    head_bytes: int = MAX_FRAME
    containers: int | None = None  # None: not counted
    arrays: int = MAX_ARRAYS
    array_bytes: int = MAX_MESSAGE  # data bytes of all the message's arrays together
    itemsize: int = 16

    @classmethod
    def for_reply(cls, calls: int = 0, argument_bytes: int = 0) -> Bounds:
        """Bounds of the reply to a request of `calls` calls whose arguments hold
        `argument_bytes` bytes of arrays (0 calls: a reply without arrays, e.g. to load).

        What a graded function can legitimately return is of the size of its inputs (a gradient
        is as big as its weights) or small (scores, hidden activations and histories of the
        tiny problems hidden tests use): twice the arguments plus 16 MiB covers both.
        """
        if calls <= 0:
            return cls(MAX_HEAD, MAX_HEAD_CONTAINERS, 0, 0, MAX_ITEMSIZE)
        return cls(MAX_HEAD, MAX_HEAD_CONTAINERS, min(MAX_ARRAYS, 16 * calls + 16),
                   min(MAX_MESSAGE, 2 * argument_bytes + 16 * 2**20), MAX_ITEMSIZE)


def array_bytes(value: Any, depth: int = 0) -> int:
    """Bytes of the plain arrays inside a value (arguments of a request), for Bounds.for_reply."""
    cls = type(value)
    if cls is np.ndarray:
        return int(value.nbytes)
    if depth > MAX_DEPTH:
        return 0
    if cls in (list, tuple):
        return sum(array_bytes(v, depth + 1) for v in value)
    if cls is dict:
        return sum(array_bytes(v, depth + 1) for v in value.values())
    return 0


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


def to_tagged(value: Any, arrays: list[np.ndarray], depth: int = 0,
              kept: KeptArrays | None = None) -> Any:
    """Tagged JSON for value; arrays found are appended to `arrays`. ProtocolError if not plain.
    With `kept` (the grader's requests only), a large array the worker already holds is sent as
    a reference to it."""
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
        if (kept is not None and value.flags.c_contiguous
                and KEEP_MIN_BYTES <= value.nbytes <= KEEP_MAX_BYTES):
            return kept.node(value, arrays)
        arrays.append(value)
        return {"t": "nd", "i": len(arrays) - 1}
    if cls is list:
        return [to_tagged(v, arrays, depth + 1, kept) for v in value]
    if cls is tuple:
        return {"t": "tuple", "v": [to_tagged(v, arrays, depth + 1, kept) for v in value]}
    if cls is dict:
        items = []
        for k, v in value.items():
            if type(k) is not str:
                raise ProtocolError(f"a dict key of type {describe(k)} (only str keys)")
            items.append([k, to_tagged(v, arrays, depth + 1, kept)])
        return {"t": "dict", "v": items}
    if cls is FuncRef:
        return {"t": "func", "kind": value.kind, "name": value.name}
    if isinstance(value, np.ndarray):
        raise ProtocolError(f"an ndarray subclass ({describe(value)}); return a plain np.ndarray")
    raise ProtocolError(
        f"an object of type {describe(value)} (only numbers, strings, numpy arrays, "
        "lists, tuples and dicts can be graded)"
    )


def from_tagged(node: Any, arrays: list[np.ndarray], depth: int = 0,
                store: dict[int, np.ndarray] | None = None) -> Any:
    """The value a tagged-JSON node stands for; ProtocolError for anything unknown. `store`: the
    worker's kept arrays (None on the grader's side, where `keep` and `kept` are refused)."""
    if depth > MAX_DEPTH:
        raise ProtocolError(f"nested deeper than {MAX_DEPTH} levels")
    cls = type(node)
    if cls in _PLAIN_SCALARS:
        return node
    if cls is list:
        return [from_tagged(v, arrays, depth + 1, store) for v in node]
    if cls is not dict:
        raise ProtocolError(f"unexpected JSON node {describe(node)}")
    tag = node.get("t")
    if tag == "nd":
        i = node.get("i")
        if type(i) is not int or not 0 <= i < len(arrays):
            raise ProtocolError("array reference out of range")
        if "keep" in node:  # a copy stays with the worker; the call may change its own in place
            _store(store)[_slot(node.get("keep"))] = arrays[i].copy()
        return arrays[i]
    if tag == "kept":
        held = _store(store).get(_slot(node.get("k")))
        if held is None:
            raise ProtocolError("a reference to an array this worker does not keep")
        return held.copy()
    if tag == "tuple" and type(node.get("v")) is list:
        return tuple(from_tagged(v, arrays, depth + 1, store) for v in node["v"])
    if tag == "dict" and type(node.get("v")) is list:
        out: dict[str, Any] = {}
        for item in node["v"]:
            if type(item) is not list or len(item) != 2 or type(item[0]) is not str:
                raise ProtocolError("malformed dict item")
            out[item[0]] = from_tagged(item[1], arrays, depth + 1, store)
        return out
    if tag == "func":
        return FuncRef(node.get("kind"), node.get("name"))
    raise ProtocolError(f"unknown tag {str(tag)[:40]!r}")


def _store(store: dict[int, np.ndarray] | None) -> dict[int, np.ndarray]:
    if store is None:
        raise ProtocolError("kept arrays are for the worker only")
    return store


def _slot(k: Any) -> int:
    if type(k) is not int or not 0 <= k < KEEP_SLOTS:
        raise ProtocolError("kept array slot out of range")
    return k


class KeptArrays:
    """The grader's record of the large arguments one worker keeps (at most KEEP_SLOTS).

    The first time a C-ordered array of KEEP_MIN_BYTES to KEEP_MAX_BYTES is sent, its node asks
    the worker to keep a copy in a slot; when the same array object is sent again with the same
    bytes (compared with a copy taken when it was sent: an array the hidden test changed in
    place is sent again), the node refers to the slot, and the worker passes a fresh copy of
    what it keeps. Each call still gets its own array, as if sent whole. A new worker gets a new
    record: nothing kept crosses from one worker to another.

    What the worker keeps is the student's to change, like any argument: a change can only alter
    the inputs of that student's own later calls, which the student's code controls anyway
    (module state lasts between calls); every comparison uses the grader's own copies.
    """

    def __init__(self) -> None:
        # id(array) -> (the array, its bytes when sent, slot), least recently used first; the
        # array is held, so its id is not reused while it is here
        self._held: OrderedDict[int, tuple[np.ndarray, np.ndarray, int]] = OrderedDict()

    def node(self, arr: np.ndarray, arrays: list[np.ndarray]) -> dict[str, Any]:
        """The tagged node for `arr`: a reference to its slot, or the array (appended to
        `arrays`) with the slot to keep it in (the least recently used one when all are taken)."""
        held = self._held.pop(id(arr), None)
        if held is not None and held[0] is arr and _same_bytes(arr, held[1]):
            self._held[id(arr)] = held
            return {"t": "kept", "k": held[2]}
        used = {slot for _, _, slot in self._held.values()}
        free = [k for k in range(KEEP_SLOTS) if k not in used]
        slot = free[0] if free else self._held.popitem(last=False)[1][2]
        self._held[id(arr)] = (arr, arr.copy(), slot)
        arrays.append(arr)
        return {"t": "nd", "i": len(arrays) - 1, "keep": slot}


def _same_bytes(a: np.ndarray, b: np.ndarray) -> bool:
    """Whether two C-ordered arrays hold the same bytes (NaN and -0.0 included)."""
    if a.dtype != b.dtype or a.shape != b.shape:
        return False
    raw = f"u{a.itemsize}" if a.itemsize in (1, 2, 4, 8) else "u1"
    return bool(np.array_equal(a.reshape(-1).view(raw), b.reshape(-1).view(raw)))


# --------------------------------------------------------------------------- arrays <-> .npy


def array_to_npy(arr: np.ndarray) -> bytes:
    """The `.npy` (version 1.0) bytes of an array, as np.save writes them for a C-ordered array."""
    return b"".join(array_frame(arr))


def array_frame(arr: np.ndarray) -> tuple[bytes, memoryview]:
    """The `.npy` frame of an array as (header, data), the data a view of the array's own memory
    when it is C-ordered: a CIFAR-sized argument is written to the pipe without a copy.

    The header comes from numpy's own writer, built once per (dtype, shape): a gradient check
    sends hundreds of arrays of a few shapes, and np.save formats and pads a header for each.
    """
    data = arr if arr.flags.c_contiguous else np.ascontiguousarray(arr)
    return _npy_header(arr.dtype.str, arr.shape), memoryview(data.reshape(-1).view(np.uint8))


@functools.lru_cache(maxsize=512)
def _npy_header(descr: str, shape: tuple[int, ...]) -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        buf, {"descr": descr, "fortran_order": False, "shape": shape})
    return buf.getvalue()  # magic, version, length and the padded header dict


_MAGIC_1_0 = np.lib.format.magic(1, 0)
_HEADER_LEN_1_0 = struct.Struct("<H")


def npy_to_array(data: bytes | bytearray, max_itemsize: int = 16) -> np.ndarray:
    """Read one `.npy` frame without pickle, checking the header against the frame first.

    np.load would allocate `prod(shape)` elements before reading the data; a lying header
    (shape 10**12 in a 100-byte frame) must not make the trusted process allocate it. A
    `bytearray` frame becomes the array's own (writable) memory, without a copy; `bytes` are
    copied once (the array must be writable: student code may change its arguments in place).
    """
    view = memoryview(data)
    offset = 10 + _HEADER_LEN_1_0.unpack(view[8:10])[0] if len(view) >= 10 else 0
    if bytes(view[:8]) == _MAGIC_1_0 and offset <= CACHED_NPY_HEADER:
        # The usual case: numpy's reader parses each distinct short version 1.0 header once
        # (a worker sending many long ones only gets them parsed each time, never kept)
        if offset > len(view):
            raise ProtocolError("malformed .npy frame (header longer than the frame)")
        shape, fortran, dtype = _parsed_header(bytes(view[:offset]))
    else:
        buf = io.BytesIO(bytes(view[:MAX_NPY_HEADER]))
        shape, fortran, dtype = _read_header(buf)
        offset = buf.tell()
    if dtype.kind not in ARRAY_KINDS or dtype.fields is not None or dtype.hasobject:
        raise ProtocolError(f"array of dtype {dtype} refused")
    if dtype.itemsize > max_itemsize:
        raise ProtocolError(f"array of dtype {dtype} refused (at most {max_itemsize} bytes "
                            "per number)")
    if len(shape) > MAX_NDIM:  # numpy itself stops at 64, with a ValueError
        raise ProtocolError(f"an array of {len(shape)} dimensions (at most {MAX_NDIM})")
    if any(n < 0 for n in shape):  # the size check below would pass (-1, -4); reshape would not
        raise ProtocolError("an array with a negative dimension")
    count = 1
    for n in shape:
        count *= int(n)
    if count * dtype.itemsize != len(data) - offset:
        raise ProtocolError("array frame size does not match its header")
    arr = np.frombuffer(data, dtype=dtype, count=count, offset=offset)
    if type(data) is not bytearray:
        arr = arr.copy()
    try:  # an empty array may still claim dimensions numpy cannot hold, e.g. (2**70, 0)
        arr = arr.reshape(shape[::-1]).transpose() if fortran else arr.reshape(shape)
    except ValueError as exc:
        raise ProtocolError(f"an array of shape {str(shape)[:80]} ({exc})") from None
    if type(arr) is not np.ndarray:
        raise ProtocolError("array frame did not decode to an ndarray")
    return arr


@functools.lru_cache(maxsize=512)
def _parsed_header(header: bytes) -> tuple[tuple[int, ...], bool, np.dtype]:
    """(shape, fortran order, dtype) of a whole version 1.0 `.npy` header (magic included)."""
    return _read_header(io.BytesIO(header))


def _read_header(buf: io.BytesIO) -> tuple[tuple[int, ...], bool, np.dtype]:
    """numpy's reading of the header at the start of buf (ProtocolError if malformed)."""
    try:
        version = np.lib.format.read_magic(buf)
        if version == (1, 0):
            return np.lib.format.read_array_header_1_0(buf)
        if version == (2, 0):
            return np.lib.format.read_array_header_2_0(buf)
        raise ValueError(f"version {version}")
    except Exception as exc:  # noqa: BLE001 - any malformed header is the same error
        raise ProtocolError(f"malformed .npy frame ({exc})") from None


# --------------------------------------------------------------------------- messages


# One frame: bytes, or the parts it is written from (an array's header and its memory).
Frame = bytes | tuple[bytes, memoryview]


def frame_size(frame: Frame) -> int:
    return len(frame) if type(frame) is bytes else sum(len(part) for part in frame)


def encode(value: Any, kept: KeptArrays | None = None) -> list[Frame]:
    """The frames of one message carrying value (ProtocolError if value is not plain). `kept`:
    the worker's kept arrays, for a request (see KeptArrays)."""
    arrays: list[np.ndarray] = []
    tagged = to_tagged(value, arrays, kept=kept)
    if len(arrays) > MAX_ARRAYS:
        raise ProtocolError(f"more than {MAX_ARRAYS} arrays in one message")
    head = json.dumps({"v": tagged, "n": len(arrays)}, separators=(",", ":")).encode()
    frames: list[Frame] = [head] + [array_frame(a) for a in arrays]
    total = 0
    for f in frames:
        size = frame_size(f)
        if size > MAX_FRAME:
            raise ProtocolError(f"a frame of {size} bytes (limit {MAX_FRAME})")
        total += size
    if total > MAX_MESSAGE:
        raise ProtocolError(f"a message of {total} bytes (limit {MAX_MESSAGE})")
    return frames


def decode(frames: list[Frame], store: dict[int, np.ndarray] | None = None) -> Any:
    """The value of a message given its frames (JSON head first); `store`: as in from_tagged."""
    frames = [f if type(f) is bytes else b"".join(f) for f in frames]
    head = parse_head(frames[0])
    if head["n"] != len(frames) - 1:
        raise ProtocolError("array count does not match the frames")
    return value_of(head, [npy_to_array(f) for f in frames[1:]], store)


def parse_head(data: bytes | bytearray, containers: int | None = None) -> dict[str, Any]:
    """The JSON head of a message, parsed once; `containers` bounds its lists and dicts (counted
    on the bytes before parsing: a `[[],[],...]` flood is refused without building it)."""
    if containers is not None and data.count(b"[") + data.count(b"{") > containers:
        raise ProtocolError(f"a message head with more than {containers} lists or dicts")
    try:
        head = json.loads(data.decode("utf-8") if type(data) is bytearray else data)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise ProtocolError(f"malformed JSON frame ({str(exc)[:80]})") from None
    if type(head) is not dict or type(head.get("n")) is not int or "v" not in head:
        raise ProtocolError("malformed message head")
    if head["n"] < 0:
        raise ProtocolError("malformed message head")
    return head


def value_of(head: dict[str, Any], arrays: list[np.ndarray],
             store: dict[int, np.ndarray] | None = None) -> Any:
    """The value a parsed head stands for, given its arrays (and the worker's kept ones)."""
    try:
        return from_tagged(head["v"], arrays, store=store)
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


def write_frames(fd: int, frames: list[Frame], deadline: float | None = None) -> None:
    """Send the frames of an already encoded message (see write_message), each with its
    length, gathered into as few writes as the pipe takes (nothing is joined into one copy)."""
    parts: list[Any] = []
    for f in frames:
        parts.append(LENGTH.pack(frame_size(f)))
        parts += [f] if type(f) is bytes else list(f)
    _write_all(fd, [memoryview(p) for p in parts if len(p)], deadline)


def _write_all(fd: int, views: list[memoryview], deadline: float | None) -> None:
    i = 0
    while i < len(views):
        try:
            n = os.writev(fd, views[i:i + _IOV_MAX])
        except BrokenPipeError:
            raise PipeClosed("the other end closed the pipe") from None
        except BlockingIOError:
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                raise PipeTimeout("the other end stopped reading") from None
            select.select([], [fd], [], left)
            continue
        while n and i < len(views):  # drop what was written; the rest of a part stays
            if n >= len(views[i]):
                n -= len(views[i])
                i += 1
            else:
                views[i] = views[i][n:]
                n = 0


_IOV_MAX = 1024  # buffers per writev (Linux's limit)


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
    """Reads messages from a file descriptor with an optional deadline.

    Every frame is bounded before it is read (its length prefix against the Bounds), read
    straight into one buffer (no chunks joined), and an array frame becomes its array without
    a copy: a hostile writer can make the reader wait (until the deadline), not allocate more
    than the bounds.
    """

    def __init__(self, fd: int, bounds: Bounds | None = None, keeps: bool = False) -> None:
        self.fd = fd
        self.bounds = bounds or Bounds()
        # The arrays the grader asked this reader's process to keep (the worker only: keeps);
        # None refuses every `keep` and `kept` tag (the grader reading the worker's replies).
        self.store: dict[int, np.ndarray] | None = {} if keeps else None

    def read_message(self, deadline: float | None = None, bounds: Bounds | None = None) -> Any:
        b = bounds or self.bounds
        head = parse_head(self._frame(deadline, b.head_bytes, "message head"), b.containers)
        n_arrays = head["n"]
        if n_arrays > b.arrays:
            raise ProtocolError(f"{n_arrays} arrays in one message (at most {b.arrays} here)")
        arrays = []
        left = b.array_bytes
        for _ in range(n_arrays):
            frame = self._frame(deadline, min(MAX_FRAME, left + MAX_NPY_HEADER), "array")
            arr = npy_to_array(frame, b.itemsize)
            left -= arr.nbytes
            if left < 0:
                raise ProtocolError(f"arrays over {b.array_bytes} bytes in one message")
            arrays.append(arr)
        return value_of(head, arrays, self.store)

    def _frame(self, deadline: float | None, limit: int = MAX_FRAME,
               what: str = "frame") -> bytearray:
        size = LENGTH.unpack(self._exact(LENGTH.size, deadline))[0]
        if size > limit:
            raise ProtocolError(f"a frame of {size} bytes (limit {limit} for {what})")
        return self._exact(size, deadline)

    def _exact(self, size: int, deadline: float | None) -> bytearray:
        buf = bytearray(size)
        view = memoryview(buf)
        got = 0
        while got < size:
            if deadline is not None:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise PipeTimeout("no answer before the deadline")
                ready, _, _ = select.select([self.fd], [], [], left)
                if not ready:
                    raise PipeTimeout("no answer before the deadline")
            n = os.readv(self.fd, [view[got:got + (1 << 20)]])
            if not n:
                raise PipeClosed("the other end closed the pipe")
            got += n
        view.release()
        return buf
