"""Property-based tests (hypothesis) of data verification: whatever happens to a file's bytes, reading it
either gives back exactly the original content or raises DataError, never another exception."""

from __future__ import annotations

import gzip
import hashlib
import struct
import tempfile
from pathlib import Path

import numpy
from hypothesis import given, settings
from hypothesis import strategies as st

from regbook import data

ARRAY = numpy.random.default_rng(0).integers(0, 256, (3, 4, 4)).astype(numpy.uint8)
CONTENT = struct.pack(">HBB", 0, 0x08, 3) + struct.pack(">III", *ARRAY.shape) + ARRAY.tobytes()
SPEC = data.IdxFile("tiny-idx3-ubyte", hashlib.sha256(CONTENT).hexdigest(), ARRAY.shape)
GZIPPED = gzip.compress(CONTENT, mtime=0)

edits = st.lists(st.tuples(st.integers(0, len(GZIPPED) - 1), st.integers(0, 255)), min_size=1, max_size=4)


def read(raw: bytes):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / SPEC.filename
        path.write_bytes(raw)
        return data.read_verified(path, SPEC)


def outcome(raw: bytes) -> str:
    try:
        content = read(raw)
    except data.DataError:
        return "refused"
    assert content == CONTENT, "a changed file was accepted with other content"
    return "same"


@settings(max_examples=200, deadline=None)
@given(edits=edits)
def test_changed_bytes_are_refused_or_harmless(edits):
    raw = bytearray(GZIPPED)
    for position, value in edits:
        raw[position] = value
    outcome(bytes(raw))


@settings(max_examples=100, deadline=None)
@given(cut=st.integers(0, len(GZIPPED) - 1))
def test_a_truncated_file_is_refused(cut):
    assert outcome(GZIPPED[:cut]) == "refused"


@settings(max_examples=100, deadline=None)
@given(tail=st.binary(min_size=1, max_size=64))
def test_bytes_appended_are_refused_or_harmless(tail):
    outcome(GZIPPED + tail)


@settings(max_examples=300, deadline=None)
@given(raw=st.one_of(st.binary(max_size=200),
                     st.tuples(st.integers(0, 255), st.binary(max_size=40)).map(
                         lambda t: b"\x00\x00\x08" + bytes([t[0]]) + t[1])))
def test_any_bytes_parse_as_idx_or_are_refused(raw):
    """Random bytes, and bytes that start like an idx file with any number of dimensions."""
    try:
        array = data.parse_idx(raw)
    except data.DataError:
        return
    assert array.dtype == numpy.uint8


def test_the_original_file_reads_back():
    assert read(GZIPPED) == CONTENT
