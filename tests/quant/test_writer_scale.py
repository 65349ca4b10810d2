"""quant.sf and quant.genes.sf of the demo: the C writer's bytes are pandas' bytes."""

import io

import pytest

from emseq.quant import quantify

DEMO = "data/quant/"


def pandas_text(frame):
    buffer = io.StringIO()
    frame.to_csv(buffer, sep="\t", index=False, float_format="%.9g", lineterminator="\n")
    return buffer.getvalue().encode()


@pytest.fixture(scope="module")
def demo_result():
    return quantify(DEMO + "demo.bam", DEMO + "demo_transcripts.fa.gz",
                    tx2gene=DEMO + "demo_tx2gene.tsv", n_threads=1, show_progress=False)


def test_demo_quant_files_are_pandas_bytes(demo_result, tmp_path):
    out = demo_result.write(tmp_path / "q", report=False)
    assert (out / "quant.sf").read_bytes() == pandas_text(demo_result.abundances)
    assert (out / "quant.genes.sf").read_bytes() == pandas_text(demo_result.gene_abundances)
    header, first = (out / "quant.sf").read_text().splitlines()[:2]
    assert header == "Name\tLength\tEffectiveLength\tTPM\tNumReads"
    assert first.split("\t")[0] == demo_result.names[0]
