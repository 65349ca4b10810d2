"""Salmon's keys of lib_format_counts.json and meta_info.json, with Salmon's meanings."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from emseq.quant.salmon_format import SALMON_FORMATS, index_hashes, lib_format_counts
from emseq.quant.transcripts import TranscriptIndex


def _library(expected, counts, paired=True):
    return {"expected_format": expected, "paired": paired, "counts": counts,
            "compatible_fragment_ratio": 1.0}


def test_stranded_paired_library():
    out = lib_format_counts(_library("ISR", {"ISF": 10, "ISR": 990, "SF": 0, "SR": 0,
                                             "other": 5}))
    assert out["num_frags_with_concordant_consistent_mappings"] == 990
    assert out["num_frags_with_inconsistent_or_orphan_mappings"] == 15
    assert out["strand_mapping_bias"] == pytest.approx(10 / 1000)
    assert out["ISR"] == 990 and out["ISF"] == 10 and out["IU"] == 0
    assert set(SALMON_FORMATS) <= set(out)


def test_unstranded_paired_and_single_end_libraries():
    out = lib_format_counts(_library("IU", {"ISF": 480, "ISR": 520, "SF": 3, "SR": 0}))
    assert out["num_frags_with_concordant_consistent_mappings"] == 1000
    assert out["num_frags_with_inconsistent_or_orphan_mappings"] == 3
    assert out["strand_mapping_bias"] == pytest.approx(0.48)
    single = lib_format_counts(_library("SF", {"ISF": 0, "ISR": 0, "SF": 90, "SR": 10},
                                        paired=False))
    assert single["strand_mapping_bias"] == pytest.approx(0.9)
    assert single["num_frags_with_concordant_consistent_mappings"] == 90


def test_no_fragments_gives_zero_bias_not_nan():
    out = lib_format_counts(_library("IU", {"ISF": 0, "ISR": 0}))
    assert out["strand_mapping_bias"] == 0.0


def test_index_hashes_are_salmons_digests():
    seqs = ["ACGTAC", "GGGTTT"]
    buf = np.frombuffer("".join(seqs).encode(), dtype=np.uint8)
    index = TranscriptIndex(["a.1", "b.2"], [6, 6], buf, source="x")
    got = index_hashes(index)
    assert got["index_seq_hash"] == hashlib.sha256(b"ACGTACGGGTTT").hexdigest()
    assert got["index_name_hash"] == hashlib.sha256(b"a.1b.2").hexdigest()
    assert got["index_decoy_seq_hash"] == hashlib.sha256(b"").hexdigest()
    empty = index_hashes(TranscriptIndex(["a.1"], [6], None, source="BAM header"))
    assert empty["index_seq_hash"] == ""
