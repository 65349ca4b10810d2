"""The per-worker transcript index of a batch keeps the sequences only for sequence/GC bias."""

import os

from emseq.batch import _needs_sequences, _transcript_index
from emseq.quant.bias import BiasOptions

DEMO = "data/quant/demo_transcripts.fa.gz"


def test_sequences_only_for_models_that_read_them():
    assert not _needs_sequences({"vb": True, "num_bootstraps": 10, "pos_bias": True})
    assert _needs_sequences({"seq_bias": True}) and _needs_sequences({"gc_bias": True})
    assert _needs_sequences({"bias_options": BiasOptions(gc=True)})
    mtime = os.stat(DEMO).st_mtime_ns
    lean, full = _transcript_index(DEMO, mtime, False), _transcript_index(DEMO, mtime, True)
    assert lean.sequence_buffer is None and full.sequence_buffer is not None
    assert lean.names == full.names and (lean.lengths == full.lengths).all()
    assert _transcript_index(DEMO, mtime, False) is lean  # loaded once per worker
    assert lean.sequence_digests == full.sequence_digests  # meta_info's index_seq_hash kept
