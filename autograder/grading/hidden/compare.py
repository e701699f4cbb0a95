"""Comparing the student's results with the reference, in words that never reveal a hidden value."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from autograder.grading import protocol


def _index(idx: tuple[int, ...]) -> str:
    return "[" + ", ".join(str(int(i)) for i in idx) + "]" if idx else "[]"



class _CheckFailed(Exception):
    """A value that cannot be compared; the message says why."""



def _nbytes(value: Any) -> int:
    """Bytes of the arrays in a nested argument (what a call costs on the pipe)."""
    if type(value) is np.ndarray:
        return value.nbytes
    if type(value) in (list, tuple):
        return sum(_nbytes(v) for v in value)
    if type(value) is dict:
        return sum(_nbytes(v) for v in value.values())
    return 16


def _wrt_label(wrt: int | tuple[int, str]) -> str:
    return f"{wrt[1]}" if isinstance(wrt, tuple) else f"argument {wrt}"


def _differentiated(args: Sequence[Any], wrt: int | tuple[int, str]) -> Any:
    """The argument a gradient is taken with respect to: `args[i]`, or `args[i][key]` for a
    parameter of a dict argument (wrt = (i, key))."""
    return args[wrt[0]][wrt[1]] if isinstance(wrt, tuple) else args[wrt]


def _replaced(args: Sequence[Any], wrt: int | tuple[int, str], value: np.ndarray) -> tuple:
    new = list(args)
    if isinstance(wrt, tuple):
        i, key = wrt
        new[i] = {**new[i], key: value}
    else:
        new[wrt] = value
    return tuple(new)


def _scalar(value: Any) -> float:
    if type(value) in (float, int) or (type(value) is np.ndarray and value.size == 1):
        return float(np.asarray(value).reshape(-1)[0])
    raise _CheckFailed(f"the loss is a {protocol.describe(value)}, not a number")


def _numeric(actual: Any, expected: np.ndarray, what: str) -> np.ndarray:
    """actual as a float64 array, or _CheckFailed naming what is wrong with it."""
    cls = type(actual)
    if cls is bool or cls is np.ndarray and actual.dtype.kind == "b":
        raise _CheckFailed(f"{what}: got booleans, expected numbers")
    if cls in (int, float):
        arr = np.asarray(actual, dtype=np.float64)
    elif cls is np.ndarray:
        if actual.dtype.kind not in "iuf":
            raise _CheckFailed(f"{what}: got an array of dtype {actual.dtype}, expected numbers")
        if actual.dtype.kind in "iu" and expected.dtype.kind == "f":
            raise _CheckFailed(f"{what}: got an integer array ({actual.dtype}), expected floats")
        arr = actual.astype(np.float64)
    elif cls in (list, tuple):
        try:
            arr = np.asarray(actual)
        except ValueError:
            raise _CheckFailed(f"{what}: got a ragged {cls.__name__}, expected numbers") from None
        if arr.dtype.kind not in "iuf":
            raise _CheckFailed(f"{what}: got a {cls.__name__} that is not all numbers")
        arr = arr.astype(np.float64)
    else:
        raise _CheckFailed(f"{what}: got {protocol.describe(actual)}, expected numbers")
    if arr.shape != expected.shape:
        raise _CheckFailed(shape_problem(arr.shape, expected.shape, what))
    return arr


def kind_of(value: Any) -> str:
    """What a student's function returned, for a hidden test's message, without its sizes: a
    size chosen by the student's code could carry a hidden input out (its number of axes is
    shown, not its shape)."""
    if type(value) is not np.ndarray:
        return type(value).__name__
    return f"an array with {value.ndim} " + ("axis" if value.ndim == 1 else "axes")


def shape_problem(got: tuple[int, ...], expected: tuple[int, ...], what: str) -> str:
    """Which axis of the result has the wrong size, without the sizes: the result's shape is the
    student's to choose (it could carry a hidden input, `np.zeros(int(X[0, 0] * 1e6))`) and the
    expected one follows from the hidden inputs' sizes."""
    if len(got) != len(expected):
        return (f"{what}: the result has a different number of dimensions than expected "
                f"({len(expected)}); run the notebook's check cell to compare shapes")
    axis = next(i for i, (g, e) in enumerate(zip(got, expected, strict=True)) if g != e)
    return (f"{what}: the result's size along axis {axis} differs from the expected one; run the "
            "notebook's check cell to compare shapes")


def _compare(a: np.ndarray, e: np.ndarray, rtol: float, atol: float, what: str) -> tuple[bool, str]:
    """(passed, message) for |a - e| <= atol + rtol |e| elementwise, NaN never close.

    The message never lets the expected values be worked out (see `_difference`): it says how
    many entries differ and how far off the worst one is in a coarse band.
    """
    with np.errstate(invalid="ignore", over="ignore"):
        diff = np.abs(a - e)
        ok = diff <= atol + rtol * np.abs(e)
        same_special = (np.isnan(a) & np.isnan(e)) | (np.isinf(e) & (a == e))
        ok |= same_special
    if ok.all():
        return True, ""
    bad = ~ok
    nonfinite = ~np.isfinite(a) & np.isfinite(e)
    if a.ndim == 0:
        head = f"{what} differs from the expected value"
    else:
        head = f"{what}: {int(bad.sum())} of {a.size} entries differ from the expected values"
    return False, _difference(head, a[bad], e[bad], nonfinite[bad], rtol)


def relative_difference(a: np.ndarray, e: np.ndarray) -> np.ndarray:
    """|a - e| / max(|a|, |e|) elementwise: 0 when equal, at most 2, never inf or absurd.

    Symmetric in a and e, so an entry whose expected value is 0 gives 1 (100%) for any nonzero
    answer, instead of a division by ~0. NaN where either side is not finite.
    """
    a, e = np.asarray(a, dtype=np.float64), np.asarray(e, dtype=np.float64)
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        scale = np.maximum(np.abs(a), np.abs(e))
        rel = np.where(scale > 0, np.abs(a - e) / np.where(scale > 0, scale, 1.0), 0.0)
    return np.where(np.isfinite(a) & np.isfinite(e), rel, np.nan)


# Bands of the largest relative difference shown to students: (upper bound, wording). Coarse on
# purpose: an answer more than 10% off gets the same words whatever the expected value, and a
# closer one learns only its band, so no series of answers (0, 1, 2x, ...) gives the expected
# value away. rtol is named so a student whose error is only rounding can tell.
BANDS = ((1e-3, "by less than 0.1%"), (1e-1, "by 0.1% to 10%"), (np.inf, "by more than 10%"))


def band(rel: float) -> str:
    """The coarse band of a relative difference, as words: 'by more than 10%'."""
    return next(words for bound, words in BANDS if rel < bound)


def _difference(head: str, a: np.ndarray, e: np.ndarray, nonfinite: np.ndarray, rtol: float) -> str:
    """head + what is wrong with the differing entries `a` (expected `e`), in a form that never
    reveals `e`: NaN/inf counts and the band of the largest relative difference."""
    parts = [head]
    if nonfinite.any():
        parts.append(f"{int(nonfinite.sum())} of them NaN or inf")
    rel = relative_difference(a[~nonfinite], e[~nonfinite])
    rel = rel[np.isfinite(rel)]
    if rel.size:
        largest = float(rel.max())
        words = "off" if a.size == 1 and not nonfinite.any() else "the worst entry is off"
        parts.append(f"{words} {band(largest)} (relative; the tolerance is {rtol:g})")
    return "; ".join(parts)


# A gradient along one random direction V, against the centred difference of the loss along V:
# the reference's gradients are within 2e-7 of it (40 draws, A3 and A4 at their large sizes); a
# stand-in (zeros, or anything but the gradient) is off by about 100%.
DIRECTION_RTOL = 1e-4


def directional_mismatch(grad: Any, V: Any, plus: Any, minus: Any, h: float, expected: float,
                         what: str) -> str:
    """'' when <grad, V> is the centred difference (plus[0] - minus[0]) / 2h of the student's own
    loss (plus, minus: what the student's function returned at x + hV and x - hV), or the
    reference's derivative along V, `expected`, to DIRECTION_RTOL; else why not, in words that
    show no value. grad and V: arrays, or dicts of arrays with V's keys. For a precondition at a
    size where only backprop or matrix products can give the gradient: a stand-in (zeros at
    that size, a numerical gradient elsewhere) fails it, whatever it returns for the loss."""
    try:
        if type(grad) is dict:
            dot = sum(float(np.sum(np.asarray(grad[k], dtype=np.float64) * V[k])) for k in V)
        else:
            dot = float(np.sum(np.asarray(grad, dtype=np.float64) * V))
        numeric = (float(plus[0]) - float(minus[0])) / (2 * h)
    except (TypeError, ValueError, IndexError, KeyError):
        return f"{what} or the loss is not made of numbers."

    def agrees(derivative: float) -> bool:  # a loss that does not move (0 = 0) agrees with nothing
        return bool(abs(derivative) > 1e-9
                    and abs(dot - derivative) <= DIRECTION_RTOL * (abs(dot) + abs(derivative)))

    if np.isfinite(dot) and np.isfinite(numeric) and (agrees(numeric) or agrees(expected)):
        return ""
    return (f"{what} is not the gradient of your loss: along a random direction, the change it "
            "predicts differs from the change of the loss itself (check the matrix products "
            "and the shapes of each step).")
