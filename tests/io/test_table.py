"""The C table formatter against pandas' to_csv, byte for byte."""

import io

import numpy as np
import pandas as pd
import pytest

from emseq.io import write_tsv
from emseq.io.table import format_tsv


def pandas_text(frame, float_format):
    buffer = io.StringIO()
    frame.to_csv(buffer, sep="\t", index=False, float_format=float_format, lineterminator="\n")
    return buffer.getvalue().encode()


def quant_like(rng, n, string_dtype=False):
    lengths = rng.integers(1, 100_000, n)
    efflen = np.maximum(lengths - rng.random(n) * 300, 1.0)
    reads = np.where(rng.random(n) < 0.3, 0.0, rng.lognormal(1, 3, n))
    rate = reads / efflen
    names = [f"ENST{i:011d}.{i % 7}" for i in range(n)]
    return pd.DataFrame({"Name": pd.array(names, dtype="string") if string_dtype else
                         pd.Series(names, dtype=object),
                         "Length": lengths, "EffectiveLength": efflen,
                         "TPM": 1e6 * rate / rate.sum(), "NumReads": reads})


@pytest.mark.parametrize("float_format", ["%.9g", "%.6g", "%.10g", "%.12g", "%.15g", "%.3f",
                                          "%.4e", None])
@pytest.mark.parametrize("string_dtype", [False, True], ids=["object", "string"])
def test_quant_tables_equal_pandas(float_format, string_dtype):
    frame = quant_like(np.random.default_rng(2), 5000, string_dtype)
    assert format_tsv(frame, float_format) == pandas_text(frame, float_format)


def test_awkward_numbers_equal_pandas():
    values = np.array([0.0, -0.0, np.nan, np.inf, -np.inf, 5e-324, 1e-320, 1.7976931348623157e308,
                       9.9999999995, 999999999.5, 99999.99995, 0.5, 1.5, 2.5, 1e16, 1e-5, 1e-4,
                       123456789012.0, -1.25e-7, 0.1 + 0.2])
    ints = np.array([0, -1, np.iinfo(np.int64).min, np.iinfo(np.int64).max, 7, -42,
                     10**18, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15])
    frame = pd.DataFrame({"value": values, "count": ints,
                          "small": ints.astype(np.int32) % 1000,
                          "single": np.where(np.abs(values) < 1e38, values, 1.0).astype(np.float32)})
    for float_format in ("%.9g", "%.6g", "%.12g", "%g"):
        assert format_tsv(frame, float_format) == pandas_text(frame, float_format)
    # 1.8e308 in %.2f is longer than a cell's room: pandas writes that table
    assert format_tsv(frame, "%.2f") is None
    assert format_tsv(frame.iloc[8:], "%.2f") == pandas_text(frame.iloc[8:], "%.2f")
    frame = frame.drop(columns="single")  # float32 without a format: pandas' own repr
    assert format_tsv(frame, None) == pandas_text(frame, None)


@pytest.mark.parametrize("frame", [
    pd.DataFrame({"Name": ['say "hi"', "b"], "x": [1.0, 2.0]}),  # pandas quotes it
    pd.DataFrame({"Name": ["a\tb", "c"], "x": [1.0, 2.0]}),
    pd.DataFrame({"Name": ["a", None], "x": [1.0, 2.0]}),
    pd.DataFrame({"flag": [True, False], "x": [1.0, 2.0]}),
    pd.DataFrame({"Name": pd.Categorical(["a", "b"]), "x": [1.0, 2.0]}),
    pd.DataFrame({"x": pd.array([1, None], dtype="Int64")}),
    pd.DataFrame({"x": [1.0, 2.0]}).iloc[:0],
])
def test_tables_it_does_not_cover_fall_back_to_pandas(tmp_path, frame):
    assert format_tsv(frame, "%.9g") is None
    write_tsv(frame, tmp_path / "t.tsv", float_format="%.9g")
    assert (tmp_path / "t.tsv").read_bytes() == pandas_text(frame, "%.9g")


def test_write_tsv_fast_path_writes_what_pandas_writes(tmp_path):
    frame = quant_like(np.random.default_rng(9), 2000)
    write_tsv(frame, tmp_path / "quant.sf", float_format="%.9g")
    assert (tmp_path / "quant.sf").read_bytes() == pandas_text(frame, "%.9g")
    write_tsv(frame, tmp_path / "indexed.tsv", index=True, float_format="%.9g")
    buffer = io.StringIO()
    frame.to_csv(buffer, sep="\t", index=True, float_format="%.9g", lineterminator="\n")
    assert (tmp_path / "indexed.tsv").read_text() == buffer.getvalue()
    assert not list(tmp_path.glob("*.tmp"))


def test_ragged_rows_equal_python_formatting():
    """eq_classes.txt's lines: length, values, last field; empty rows, extreme integers."""
    from emseq.io._table import format_ragged_rows

    rng = np.random.default_rng(3)
    lengths = rng.integers(0, 12, size=2000)
    lengths[:3] = 0
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    values = rng.integers(-10**12, 10**12, size=offsets[-1]).astype(np.int64)
    values[:2] = [np.iinfo(np.int64).min, np.iinfo(np.int64).max]
    last = rng.integers(0, 10**9, size=len(lengths)).astype(np.int64)
    expected = "".join(
        f"{hi - lo} " + "".join(f"{v} " for v in values[lo:hi]) + f"{last[r]}\n"
        for r, (lo, hi) in enumerate(zip(offsets[:-1], offsets[1:])))
    assert format_ragged_rows(offsets, values, last).decode() == expected
    assert format_ragged_rows(np.zeros(1, np.int64), values[:0], last[:0]) == b""
    with pytest.raises(ValueError, match="past the values"):
        format_ragged_rows(offsets, values[:-1], last)
    with pytest.raises(ValueError, match="decrease at row 1"):
        format_ragged_rows(np.array([0, 2, 1], np.int64), values, last[:2])
