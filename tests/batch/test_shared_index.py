"""The per-worker transcript index of a batch drops the sequences only when sequence and GC
bias correction (on by default) are both turned off."""

import os

from emseq.batch.task import _needs_sequences, _transcript_index
from emseq.quant.bias import BiasOptions

DEMO = "data/quant/demo_transcripts.fa.gz"


def test_sequences_only_for_models_that_read_them():
    # the default (seq_bias/gc_bias None) corrects both: the sequences are needed
    assert _needs_sequences({"vb": True, "num_bootstraps": 10, "pos_bias": True})
    assert _needs_sequences({"seq_bias": None, "gc_bias": None})
    # --no-bias-correction: both False
    assert not _needs_sequences({"seq_bias": False, "gc_bias": False, "pos_bias": True})
    assert _needs_sequences({"seq_bias": True, "gc_bias": False})
    assert _needs_sequences({"seq_bias": False, "gc_bias": None})
    # an explicit False wins over the bias options (as resolve_bias); None defers to them
    assert not _needs_sequences({"seq_bias": False, "gc_bias": False,
                                 "bias_options": BiasOptions(gc=True)})
    assert _needs_sequences({"seq_bias": False, "bias_options": BiasOptions(seq=False)})
    mtime = os.stat(DEMO).st_mtime_ns
    lean, full = _transcript_index(DEMO, mtime, False), _transcript_index(DEMO, mtime, True)
    assert lean.sequence_buffer is None and full.sequence_buffer is not None
    assert lean.names == full.names and (lean.lengths == full.lengths).all()
    assert _transcript_index(DEMO, mtime, False) is lean  # loaded once per worker
    assert lean.sequence_digests == full.sequence_digests  # meta_info's index_seq_hash kept
