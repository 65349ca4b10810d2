"""Merge the finished samples of a batch into matrices: identifier column, one column per sample."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

import pandas as pd

__all__ = ["merge_outputs"]


def merge_outputs(output: Path, report: pd.DataFrame, engine: str,
                  options: Mapping[str, Any]) -> dict[str, pd.DataFrame]:
    """Merge the completed samples' outputs into tables (name -> DataFrame)."""
    done = report.loc[report["status"] == "ok", "sample"].tolist()
    tables: dict[str, pd.DataFrame] = {}
    traces = []
    for sample in done:
        trace_path = output / sample / "convergence.tsv"
        if trace_path.is_file():
            trace = pd.read_csv(trace_path, sep="\t")
            trace.insert(0, "sample", sample)
            traces.append(trace)
    if traces:
        tables["convergence.tsv"] = pd.concat(traces, ignore_index=True)
    if engine == "quant" and done:
        levels = [("transcript", "quant.sf")]
        if options.get("tx2gene") or options.get("gtf"):
            levels.append(("gene", "quant.genes.sf"))
        from ..quant.merge import merge_quants  # one implementation with emseq quantmerge

        for level, filename in levels:
            for column, suffix in (("NumReads", "counts"), ("TPM", "tpm")):
                tables[f"{level}_{suffix}.tsv"] = merge_quants(
                    [output / s for s in done], done, column, genes=level == "gene",
                    id_column=level)
    if engine == "motif" and done:
        motifs = []
        for sample in done:
            table = pd.read_csv(output / sample / "motifs.tsv", sep="\t")
            table.insert(0, "sample", sample)
            motifs.append(table)
        tables["motifs.tsv"] = pd.concat(motifs, ignore_index=True)
    return tables
