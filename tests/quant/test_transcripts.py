"""load_transcripts: the index it builds against a plain-Python reading of the FASTA."""

import gzip
import pickle

import numpy as np
import pytest

from emseq.errors import InputError
from emseq.quant import TranscriptIndex, load_transcripts

from ..io.test_fasta_scan import python_reading, random_fasta, write

DEMO = "data/quant/demo_transcripts.fa.gz"


def truth_of(path) -> list[tuple[str, str, str]]:
    with open(path, "rb") as handle:
        data = handle.read()
    return python_reading(gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data)


@pytest.mark.parametrize("how", ["plain", "gzip", "bgzip"])
def test_index_matches_python_reading(tmp_path, how):
    data = random_fasta(np.random.default_rng(21), 400, crlf=how == "gzip")
    truth = python_reading(data)
    index = load_transcripts(write(tmp_path, data, how))
    assert index.names == [t[0] for t in truth]
    assert index.lengths.dtype == np.int64
    assert index.lengths.tolist() == [len(t[2]) for t in truth]
    buffer = index.sequence_buffer
    assert buffer.dtype == np.uint8 and buffer.flags.c_contiguous and buffer.ndim == 1
    assert buffer.tobytes().decode() == "".join(t[2] for t in truth).upper()
    assert index.offsets.tolist() == [0, *np.cumsum([len(t[2]) for t in truth]).tolist()]
    for i in (0, 7, len(truth) - 1):
        assert index.sequence(i) == truth[i][2].upper()
        assert index.position(truth[i][0]) == i
    assert index.position("not-a-transcript") == -1


def test_demo_reference_and_lengths_only():
    truth = truth_of(DEMO)
    full = load_transcripts(DEMO)
    assert full.names == [t[0] for t in truth]
    assert full.sequence_buffer.tobytes() == "".join(t[2] for t in truth).upper().encode()
    lean = load_transcripts(DEMO, sequences=False)
    assert lean.sequence_buffer is None and not lean.has_sequences
    assert lean.names == full.names
    assert np.array_equal(lean.lengths, full.lengths)
    assert lean.source == full.source == DEMO
    # without sequences: 8 bytes of lengths a transcript, the name map made on first use only
    assert lean.lengths.nbytes == 8 * len(lean) and lean._position == {}
    with pytest.raises(ValueError, match="not loaded"):
        lean.sequence(0)


def test_index_pickles_with_its_buffer():
    index = load_transcripts(DEMO)
    index.position(index.names[3])
    back = pickle.loads(pickle.dumps(index))
    assert isinstance(back, TranscriptIndex)
    assert back.names == index.names
    assert np.array_equal(back.lengths, index.lengths)
    assert np.array_equal(back.sequence_buffer, index.sequence_buffer)
    assert back.sequence(5) == index.sequence(5)
    assert back.position(index.names[9]) == 9


@pytest.mark.parametrize("data, message", [
    (b">a\nACGT\n>b x\nGG\n>a other\nTT\n", "transcript 'a' appears more than once"),
    (b">a\nACGT\n>b\n\n>c\nTT\n", "transcript 'b' has an empty sequence"),
    (b">a\nACGT\n>b", "transcript 'b' has an empty sequence"),
    (b">a\nAC-T\n", ":2:3: unexpected letter '-' in sequence 'a'"),
])
@pytest.mark.parametrize("sequences", [True, False])
def test_bad_references_are_one_line_input_errors(tmp_path, data, message, sequences):
    path = write(tmp_path, data, "gzip")
    with pytest.raises(InputError, match=message) as caught:
        load_transcripts(path, sequences=sequences)
    assert str(path) in str(caught.value) and "\n" not in str(caught.value)


@pytest.mark.parametrize("how", ["plain", "gzip", "bgzip"])
def test_digests_while_loading_equal_those_of_the_buffer(tmp_path, how):
    import hashlib

    from emseq.quant.salmon_format import index_hashes

    rng = np.random.default_rng(4)
    data = random_fasta(rng, 3000) + b">big\n" + b"acgtn" * (2 << 20)  # more than one block
    path = write(tmp_path, data, how)
    upper = "".join(t[2] for t in python_reading(data)).upper().encode()
    for sequences in (True, False):
        index = load_transcripts(path, sequences=sequences)
        assert index.sequence_digests == {"sha256": hashlib.sha256(upper).hexdigest(),
                                          "sha512": hashlib.sha512(upper).hexdigest()}
        hashes = index_hashes(index)
        assert hashes["index_seq_hash"] == hashlib.sha256(upper).hexdigest()
        assert hashes["index_seq_hash512"] == hashlib.sha512(upper).hexdigest()
    plain = load_transcripts(path, digests=False)
    assert plain.sequence_digests == {} and index_hashes(plain) == hashes
    assert index_hashes(load_transcripts(path, sequences=False, digests=False))[
        "index_seq_hash"] == ""
