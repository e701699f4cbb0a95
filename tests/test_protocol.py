"""The worker pipe: only plain values cross, nothing is ever unpickled or evaluated."""

from __future__ import annotations

import io
import os
import struct
import threading
import time

import numpy as np
import pytest

from autograder.grading import protocol
from autograder.grading.protocol import FrameReader, FuncRef, ProtocolError


def test_plain_values_round_trip_with_their_types():
    value = {
        "loss": 1.5,
        "n": 3,
        "ok": True,
        "none": None,
        "name": "svm",
        "pair": (np.arange(6.0).reshape(2, 3), [1, 2.5]),
        "grads": {"W1": np.ones((2, 2)), "b1": np.zeros(2, dtype=np.float32)},
        "labels": np.array([0, 2, 1], dtype=np.int64),
        "nan": float("nan"),
        "fn": FuncRef("stub", "nn_zero_predict"),
    }
    back = protocol.roundtrip(value)
    assert type(back["pair"]) is tuple and type(back["pair"][1]) is list
    np.testing.assert_array_equal(back["pair"][0], value["pair"][0])
    assert back["grads"]["b1"].dtype == np.float32
    assert back["labels"].dtype == np.int64
    assert np.isnan(back["nan"])
    assert back["fn"] == FuncRef("stub", "nn_zero_predict")
    assert back["loss"] == 1.5 and back["n"] == 3 and back["ok"] is True and back["none"] is None


def test_numpy_scalars_become_python_scalars():
    back = protocol.roundtrip([np.float64(2.5), np.int32(7), np.bool_(True), np.float32(0.5)])
    assert [type(v) for v in back] == [float, int, bool, float]


def test_arrays_arrive_as_copies():
    a = np.ones(3)
    b = protocol.roundtrip(a)
    b[0] = 5
    assert a[0] == 1 and type(b) is np.ndarray


class Always:
    def __eq__(self, other):
        return True


class Sub(np.ndarray):
    pass


class LyingFloat(float):
    def __eq__(self, other):
        return True


@pytest.mark.parametrize(
    "value, words",
    [
        (Always(), "object of type"),
        (np.arange(3.0).view(Sub), "ndarray subclass"),
        (np.ma.masked_array([1.0, 2.0]), "ndarray subclass"),
        (LyingFloat(1.0), "object of type"),
        (np.array([Always()], dtype=object), "dtype object"),
        (np.array([1 + 2j]), "dtype complex128"),
        ({1: 2.0}, "dict key"),
        ({1, 2}, "object of type set"),
        (b"bytes", "object of type bytes"),
        (lambda: 0, "object of type function"),
        ((i for i in range(2)), "object of type generator"),
    ],
)
def test_anything_but_plain_values_is_a_protocol_error(value, words):
    with pytest.raises(ProtocolError, match=words):
        protocol.encode(value)


def test_a_numpy_scalar_subclass_is_refused():
    class F64(np.float64):
        def __eq__(self, other):
            return True

    with pytest.raises(ProtocolError):
        protocol.encode(F64(1.0))


def test_too_deep_nesting_is_a_protocol_error():
    value: list = []
    for _ in range(protocol.MAX_DEPTH + 5):
        value = [value]
    with pytest.raises(ProtocolError, match="nested"):
        protocol.encode(value)


def _object_npy() -> bytes:
    buf = io.BytesIO()
    np.save(buf, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    return buf.getvalue()


def test_a_pickled_npy_frame_is_refused_before_loading():
    head = b'{"v":{"t":"nd","i":0},"n":1}'
    with pytest.raises(ProtocolError, match="dtype object"):
        protocol.decode([head, _object_npy()])


def test_a_lying_npy_header_does_not_allocate():
    buf = io.BytesIO()
    header = {"descr": "<f8", "fortran_order": False, "shape": (10**12,)}
    np.lib.format.write_array_header_1_0(buf, header)
    buf.write(b"\0" * 16)  # 2 floats of data for a trillion announced
    with pytest.raises(ProtocolError, match="does not match"):
        protocol.npy_to_array(buf.getvalue())


def test_a_header_length_past_the_frame_is_refused():
    frame = np.lib.format.magic(1, 0) + struct.pack("<H", 60_000) + b"{'descr': '<f8'"
    with pytest.raises(ProtocolError, match="malformed"):
        protocol.npy_to_array(frame)


def test_long_npy_headers_are_parsed_but_never_kept():
    text = "{'descr': '<f8', 'fortran_order': False, 'shape': (1,), }"
    text += " " * (1600 - 10 - len(text) - 1) + "\n"  # padded as numpy pads, to 1600 bytes in all
    frame = np.lib.format.magic(1, 0) + struct.pack("<H", len(text)) + text.encode() + b"\0" * 8
    assert 10 + len(text) > protocol.CACHED_NPY_HEADER
    before = protocol._parsed_header.cache_info().currsize
    assert protocol.npy_to_array(frame).shape == (1,)
    assert protocol._parsed_header.cache_info().currsize == before


def test_an_array_of_too_many_dimensions_is_a_protocol_error():
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": "<f8", "fortran_order": False, "shape": (1,) * 300})
    with pytest.raises(ProtocolError, match="dimensions"):
        protocol.npy_to_array(buf.getvalue() + b"\0" * 8)


def test_a_lying_header_is_refused_again_when_its_parse_is_cached():
    good = protocol.array_to_npy(np.zeros(4))
    assert protocol.npy_to_array(good).shape == (4,)
    with pytest.raises(ProtocolError, match="does not match"):
        protocol.npy_to_array(good[:-8])  # same (cached) header, one float missing


@pytest.mark.parametrize("arr", [np.arange(6.0).reshape(2, 3), np.asfortranarray(np.ones((3, 4))),
                                 np.arange(10)[::3], np.zeros((0, 3), np.int32), np.array([True, False])],
                         ids=["C", "fortran", "strided", "empty", "bool"])
def test_frames_are_npy_files_that_numpy_reads(arr):
    frame = protocol.array_to_npy(arr)
    loaded = np.load(io.BytesIO(frame), allow_pickle=False)
    assert loaded.dtype == arr.dtype and np.array_equal(loaded, arr)


@pytest.mark.parametrize(
    "head",
    [
        b'{"v":{"t":"pickle","data":"x"},"n":0}',
        b'{"v":{"__reduce__":1},"n":0}',
        b'{"v":{"t":"nd","i":3},"n":0}',
        b"not json",
        b'{"v":1,"n":2}',
        b"[1,2]",
    ],
)
def test_malformed_or_unknown_messages_are_protocol_errors(head):
    with pytest.raises(ProtocolError):
        protocol.decode([head])


def test_messages_cross_a_pipe():
    r, w = os.pipe()
    try:
        value = {"a": np.arange(100_000.0), "b": (1, "x")}
        writer = threading.Thread(target=protocol.write_message, args=(w, value))
        writer.start()
        back = FrameReader(r).read_message(time.monotonic() + 10)
        writer.join()
        np.testing.assert_array_equal(back["a"], value["a"])
        assert back["b"] == (1, "x")
    finally:
        os.close(r)
        os.close(w)


def test_a_silent_writer_times_out():
    r, w = os.pipe()
    try:
        with pytest.raises(protocol.PipeTimeout):
            FrameReader(r).read_message(time.monotonic() + 0.2)
    finally:
        os.close(r)
        os.close(w)


def test_a_closed_pipe_is_reported():
    r, w = os.pipe()
    os.close(w)
    try:
        with pytest.raises(protocol.PipeClosed):
            FrameReader(r).read_message(time.monotonic() + 5)
    finally:
        os.close(r)


def test_an_oversized_frame_is_refused_without_reading_it():
    r, w = os.pipe()
    try:
        os.write(w, struct.pack("<I", protocol.MAX_FRAME + 1))
        with pytest.raises(ProtocolError, match="limit"):
            FrameReader(r).read_message(time.monotonic() + 5)
    finally:
        os.close(r)
        os.close(w)


def test_a_stuck_reader_makes_the_writer_time_out():
    r, w = os.pipe()
    os.set_blocking(w, False)
    try:
        with pytest.raises(protocol.PipeTimeout):
            protocol.write_message(w, np.zeros(1_000_000), time.monotonic() + 0.2)
    finally:
        os.close(r)
        os.close(w)
