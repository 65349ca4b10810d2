"""Readers and writers shared by the engines: atomic files and tables, FASTA, BAM."""

from .atomic import atomic_output_dir, atomic_write, write_tsv
from .fasta import FastaRecord, iter_fasta, read_fasta

__all__ = ["atomic_output_dir", "atomic_write", "write_tsv", "FastaRecord", "iter_fasta", "read_fasta"]
