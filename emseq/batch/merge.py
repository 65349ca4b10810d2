"""Merge the finished samples of a batch into tables: identifier column, one column per sample.

Per-sample tables that are not matrices (``convergence.tsv``, ``motifs.tsv``) are stacked with
a leading ``sample`` column and their cells kept as the sample wrote them (text): an E-value
such as ``2.2e-13425``, below the smallest float, stays exact, and integers stay integers.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

import pandas as pd

__all__ = ["merge_outputs", "stack_tables"]


def stack_tables(output: Path, samples: list[str], filename: str) -> pd.DataFrame | None:
    """``<output>/<sample>/<filename>`` of every sample, stacked, cells as written (text)."""
    frames = []
    for sample in samples:
        path = output / sample / filename
        if path.is_file():
            frame = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)
            frame.insert(0, "sample", sample)
            frames.append(frame)
    return pd.concat(frames, ignore_index=True) if frames else None


def merge_outputs(output: Path, report: pd.DataFrame, engine: str,
                  options: Mapping[str, Any]) -> dict[str, pd.DataFrame]:
    """Merge the completed samples' outputs into tables (file name -> DataFrame)."""
    done = report.loc[report["status"] == "ok", "sample"].tolist()
    tables: dict[str, pd.DataFrame] = {}
    traces = stack_tables(output, done, "convergence.tsv")
    if traces is not None:
        tables["convergence.tsv"] = traces
    if engine == "quant" and done:
        levels = [("transcript", "quant.sf")]
        if options.get("tx2gene") or options.get("gtf") or options.get("gene_map"):
            levels.append(("gene", "quant.genes.sf"))
        from ..quant.merge import merge_quants  # one implementation with emseq quantmerge

        for level, _ in levels:
            for column, suffix in (("NumReads", "counts"), ("TPM", "tpm")):
                tables[f"{level}_{suffix}.tsv"] = merge_quants(
                    [output / s for s in done], done, column, genes=level == "gene",
                    id_column=level)
    stacked = {"motif": "motifs.tsv", "mixture": "parameters.tsv"}.get(engine)
    if stacked and done:
        table = stack_tables(output, done, stacked)
        if table is not None:
            tables[stacked] = table
    return tables
