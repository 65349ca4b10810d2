"""The C FASTA scanner against a plain-Python reading of the same bytes.

Every file is written in each compression htslib reads (plain, gzip, gzip of several members,
bgzip) and read back by :func:`emseq.io.fasta.scan_fasta` / :func:`iter_fasta`; the truth is
:func:`python_reading`, a few lines of Python that state the format's rules.
"""

import gzip
import re

import numpy as np
import pysam
import pytest

from emseq.errors import InputError
from emseq.io.fasta import IUPAC_DNA, iter_fasta, scan_fasta

BLOCK = 4 << 20  # bytes the scanner decompresses per call: records must cross it


def python_reading(data: bytes) -> list[tuple[str, str, str]]:
    """(name, description, letters) of each record: names end at the first whitespace, the
    description follows that one character, sequence lines lose every white space."""
    records = []
    for line in data.decode("ascii").split("\n"):
        if line.startswith(">"):
            match = re.match(r"(\S+)(?:\s(.*))?$", line[1:].strip())
            records.append([match.group(1), match.group(2) or "", []])
        elif line.strip():
            records[-1][2].append("".join(line.split()))
    return [(name, description, "".join(parts)) for name, description, parts in records]


def random_fasta(rng: np.random.Generator, n_records: int, crlf: bool = False) -> bytes:
    """Records with lower case, N runs, IUPAC codes, ragged lines, blank lines and headers
    with tabs, runs of spaces and leading blanks."""
    newline = "\r\n" if crlf else "\n"
    out = []
    for r in range(n_records):
        separators = [" ", "\t", "  ", " \t "]
        header = f">{'  ' if r % 5 == 0 else ''}tx{r}.{r % 3}"
        if r % 2:
            header += separators[r % 4] + f"gene=g{r // 3}{separators[(r + 1) % 4]}len={r}"
        if r % 7 == 3:
            header += " \t"  # trailing white space
        letters = rng.choice(list("ACGT"), size=int(rng.integers(1, 400)))
        if r % 3 == 0:
            letters[: letters.size // 2] = np.char.lower(letters[: letters.size // 2])
        if r % 4 == 1:
            letters[5:40] = "N"
        if r % 6 == 2:
            letters[::17] = rng.choice(list("RYKMSWBDHVUnrykmswbdhvu"), size=letters[::17].size)
        seq = "".join(letters)
        width = int(rng.integers(1, 120))
        lines = [seq[i:i + width] for i in range(0, len(seq), width)]
        if r % 8 == 5:
            lines.insert(1, "")  # a blank line inside a record
        if r % 9 == 4:
            lines[0] = "  " + lines[0] + " "  # blanks around a sequence line
        out.append(newline.join([header, *lines]))
    return (newline.join(out) + ("" if n_records % 2 else newline)).encode()


def write(tmp_path, data: bytes, how: str, name: str = "x"):
    path = tmp_path / f"{name}.{how}.fa"
    if how == "plain":
        path.write_bytes(data)
    elif how == "gzip":
        path.write_bytes(gzip.compress(data))
    elif how == "members":  # gzip of three members, as `cat a.gz b.gz c.gz`
        third = len(data) // 3
        path.write_bytes(b"".join(gzip.compress(data[i:j]) for i, j in
                                  ((0, third), (third, 2 * third), (2 * third, len(data)))))
    else:
        plain = tmp_path / f"{name}.raw"
        plain.write_bytes(data)
        pysam.tabix_compress(str(plain), str(path), force=True)
    return path


def check_against_python(path, data: bytes) -> None:
    truth = python_reading(data)
    scan = scan_fasta(path, descriptions=True, upper=False)
    assert scan.names == [t[0] for t in truth]
    assert scan.descriptions == [t[1] for t in truth]
    assert scan.lengths.dtype == np.int64
    assert scan.lengths.tolist() == [len(t[2]) for t in truth]
    assert scan.sequence.tobytes().decode() == "".join(t[2] for t in truth)
    upper = scan_fasta(path)
    assert upper.sequence.tobytes().decode() == "".join(t[2] for t in truth).upper()
    assert upper.descriptions is None
    lengths_only = scan_fasta(path, sequences=False)
    assert lengths_only.sequence is None
    assert lengths_only.names == scan.names
    assert np.array_equal(lengths_only.lengths, scan.lengths)
    assert [(r.name, r.description, r.sequence) for r in iter_fasta(path)] == truth


@pytest.mark.parametrize("how", ["plain", "gzip", "members", "bgzip"])
@pytest.mark.parametrize("crlf", [False, True], ids=["lf", "crlf"])
def test_random_files_read_as_python_reads_them(tmp_path, how, crlf):
    data = random_fasta(np.random.default_rng(11 + crlf), 300, crlf=crlf)
    check_against_python(write(tmp_path, data, how), data)


@pytest.mark.parametrize("how", ["plain", "bgzip"])
def test_headers_lines_and_crlf_across_block_boundaries(tmp_path, how):
    """Records placed so that a header, a CRLF and a sequence line straddle the scanner's
    4 MiB blocks (and, bgzipped, BGZF's 64 KiB blocks)."""
    rng = np.random.default_rng(3)
    parts, size = [], 0
    for k, cut in enumerate((BLOCK - 3, 2 * BLOCK - 1, 3 * BLOCK + 1)):
        # fill up to just before `cut`, then a header / CRLF / long line across it
        head = f">fill{k} a\n".encode()
        body = rng.choice(list(b"ACGTacgtN"), size=cut - size - len(head) - 1).astype(np.uint8)
        body = bytes(body)
        parts.append(head + body + b"\n")
        size += len(parts[-1])
        parts.append(b">across" + str(k).encode() + b" straddles\r\n" + b"ACGT" * 40 + b"\r\n")
        size += len(parts[-1])
    parts.append(b">last\n" + b"g" * (BLOCK + 10))  # one line longer than a block, no newline
    data = b"".join(parts)
    check_against_python(write(tmp_path, data, how), data)


def test_alphabet_none_accepts_any_printable_letter(tmp_path):
    data = b">p1 protein\nMKV*LL-X\n>p2\nacde\n"
    path = write(tmp_path, data, "plain")
    assert [r.sequence for r in iter_fasta(path, alphabet=None)] == ["MKV*LL-X", "acde"]
    with pytest.raises(InputError, match=r":2:4: unexpected letter '\*' in sequence 'p1'"):
        list(iter_fasta(path))


@pytest.mark.parametrize("data, message", [
    (b">t1\nACGT\n>t2\nAC\xc3\xa9T\n", ":4: non-ASCII byte"),
    (b">t1 caf\xc3\xa9\nACGT\n", ":1: non-ASCII byte"),
    (b"\n\n  \nNNNN\n>t\nAC\n", ":4: sequence before the first '>'"),
    (b">t1\r\nACGT\r\n>  \r\nAC\r\n", ":3: FASTA header without a name"),
    (b">t1\r\nACGT\r\n  AC7T\r\n", ":3:5: unexpected letter '7' in sequence 't1'"),
    (b"\n \n", "empty FASTA file"),
])
def test_bad_bytes_give_one_located_line(tmp_path, data, message):
    for how in ("plain", "gzip"):
        with pytest.raises(InputError, match=re.escape(message)) as caught:
            scan_fasta(write(tmp_path, data, how))
        assert "\n" not in str(caught.value)
        assert f"x.{how}.fa" in str(caught.value)


@pytest.mark.parametrize("how", ["gzip", "bgzip"])
def test_truncated_and_corrupt_compressed_files(tmp_path, how, capfd):
    data = random_fasta(np.random.default_rng(5), 2000)
    path = write(tmp_path, data, how)
    packed = path.read_bytes()
    path.write_bytes(packed[: len(packed) // 2])
    with pytest.raises(InputError, match="cannot read FASTA: the file is truncated"):
        scan_fasta(path)
    flipped = bytearray(packed)
    flipped[len(packed) // 2] ^= 0xFF
    path.write_bytes(bytes(flipped))
    with pytest.raises(InputError, match="cannot read FASTA: corrupt compressed data"):
        scan_fasta(path)
    assert capfd.readouterr().err == ""  # htslib's own messages are silenced: one line only


def test_bgzip_on_several_threads_reads_the_same(tmp_path):
    data = random_fasta(np.random.default_rng(8), 3000)
    path = write(tmp_path, data, "bgzip")
    one, two = scan_fasta(path), scan_fasta(path, n_threads=2)
    assert one.names == two.names
    assert np.array_equal(one.sequence, two.sequence)


def test_iupac_alphabet_is_what_the_scanner_accepts(tmp_path):
    letters = "".join(sorted(IUPAC_DNA))
    path = write(tmp_path, f">all\n{letters}\n".encode(), "plain")
    assert scan_fasta(path).sequence.tobytes().decode() == letters.upper()
