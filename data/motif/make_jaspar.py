"""Export JASPAR CORE vertebrates, non-redundant (the latest version of each matrix), to MEME
format: ``python data/motif/make_jaspar.py [--release JASPAR2026] [-o FILE]``.

The matrices come from the JASPAR SQLite database that the ``pyjaspar`` package carries
(``pip install pyjaspar``; no network needed). JASPAR data are CC BY 4.0
(https://jaspar.elixir.no, Rauluseviciute et al. 2024). Each motif's letter probabilities are
its counts divided by the column totals; ``nsites`` is the first column's total; the
background is uniform, as in JASPAR's own MEME downloads.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
DEFAULT_OUTPUT = HERE / "JASPAR_CORE_vertebrates_nonredundant.meme"


def meme_text(motifs, release: str) -> str:
    """MEME minimal format of JASPAR motifs (Bio.motifs objects from pyjaspar)."""
    lines = ["MEME version 4", "", "ALPHABET= ACGT", "", "strands: + -", "",
             "Background letter frequencies", "A 0.25 C 0.25 G 0.25 T 0.25", ""]
    for motif in sorted(motifs, key=lambda m: m.matrix_id):
        counts = np.array([motif.counts[letter] for letter in "ACGT"], dtype=np.float64).T
        totals = counts.sum(axis=1, keepdims=True)
        probs = counts / totals
        name = motif.name.replace(" ", "_")
        lines.append(f"MOTIF {motif.matrix_id} {name}")
        lines.append(f"letter-probability matrix: alength= 4 w= {len(probs)} "
                     f"nsites= {int(round(totals[0, 0]))} E= 0")
        lines.extend(" " + " ".join(f"{v:.6f}" for v in row) for row in probs)
        lines.append(f"URL http://jaspar.genereg.net/matrix/{motif.matrix_id}")
        lines.append("")
    return "\n".join(lines)


def main() -> None:
    from pyjaspar import jaspardb

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--release", default="JASPAR2026")
    parser.add_argument("-o", "--output", type=Path, default=DEFAULT_OUTPUT)
    args = parser.parse_args()
    db = jaspardb(release=args.release)
    motifs = db.fetch_motifs(collection="CORE", tax_group=["vertebrates"], all_versions=False)
    tmp = args.output.with_suffix(".tmp")
    tmp.write_text(meme_text(motifs, args.release))
    tmp.replace(args.output)
    print(f"{len(motifs)} motifs of {args.release} CORE vertebrates -> {args.output}")


if __name__ == "__main__":
    main()
