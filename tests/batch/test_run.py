"""Batch runs on a real LocalCluster of worker processes: failures, killed workers, resume."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from emseq.batch import MANIFEST_NAME, run
from emseq.cli import main as emseq_main
from emseq.quant import quantify

DATA = Path(__file__).resolve().parents[2] / "data" / "quant"
DEMO_BAM = DATA / "demo.bam"
DEMO_TRANSCRIPTS = DATA / "demo_transcripts.fa.gz"


def write_sheet(path: Path, rows: list[tuple[str, Path]]) -> Path:
    path.write_text("sample,bam\n" + "".join(f"{name},{bam}\n" for name, bam in rows))
    return path


def expected_counts(bams: dict[str, Path], folder: Path) -> pd.DataFrame:
    """What quantifying sample by sample, in this process, writes in each ``quant.sf``."""
    columns = {}
    for name, bam in bams.items():
        quantify(str(bam), str(DEMO_TRANSCRIPTS), n_threads=1).write(folder / name)
        quant = pd.read_csv(folder / name / "quant.sf", sep="\t", index_col="Name")
        columns[name] = quant["NumReads"]
    return pd.DataFrame(columns)


def merged(output: Path, name: str = "transcript_counts.tsv") -> pd.DataFrame:
    return pd.read_csv(output / name, sep="\t", index_col=0)


def assert_no_staging_left(output: Path) -> None:
    leftovers = sorted(p.name for p in output.iterdir() if p.name.startswith("."))
    assert leftovers == []


def test_merged_matrices_equal_sample_by_sample_runs(client, sample_bams, tmp_path):
    bams = {"S1": sample_bams[0], "S2": sample_bams[1]}
    sheet = write_sheet(tmp_path / "sheet.csv", list(bams.items()))
    output = tmp_path / "out"
    options = {"transcripts": str(DEMO_TRANSCRIPTS), "tx2gene": str(DATA / "demo_tx2gene.tsv")}
    result = run(sheet, output, options=options, client=client)
    assert result.failed == []
    counts = merged(output)
    genes = merged(output, "gene_counts.tsv")
    assert list(genes.columns) == ["S1", "S2"] and len(genes) < len(counts)
    np.testing.assert_allclose(genes.sum().to_numpy(), counts.sum().to_numpy(), rtol=1e-6)
    assert list(counts.columns) == ["S1", "S2"]
    expected = expected_counts(bams, tmp_path / "one_by_one")
    pd.testing.assert_index_equal(counts.index, expected.index, check_names=False)
    np.testing.assert_allclose(counts.to_numpy(), expected.to_numpy(), rtol=0, atol=0)
    tpm = merged(output, "transcript_tpm.tsv")
    np.testing.assert_allclose(tpm.sum().to_numpy(), 1e6, rtol=1e-6)
    report = pd.read_csv(output / "batch_report.tsv", sep="\t")
    assert report["status"].tolist() == ["ok", "ok"]
    assert (report["fragments"] > 0).all() and (report["mapping_rate"] > 0).all()
    trace = pd.read_csv(output / "convergence.tsv", sep="\t")
    assert set(trace["sample"]) == {"S1", "S2"}
    for sample in ("S1", "S2"):
        assert (output / sample / "quant.sf").is_file()
        assert (output / sample / MANIFEST_NAME).is_file()
    assert_no_staging_left(output)


def test_one_corrupt_sample_does_not_stop_the_others(sample_bams, tmp_path, capsys):
    corrupt = tmp_path / "corrupt.bam"
    data = sample_bams[2].read_bytes()
    corrupt.write_bytes(data[: len(data) // 2])  # cut mid-file: no BGZF EOF block
    sheet = write_sheet(tmp_path / "sheet.csv", [("good", sample_bams[0]), ("bad", corrupt)])
    output = tmp_path / "out"
    code = emseq_main(["batch", str(sheet), "-t", str(DEMO_TRANSCRIPTS), "-o", str(output),
                       "--workers", "2", "-p", "1", "-q"])
    assert code == 1
    err = capsys.readouterr().err
    assert "1 of 2 samples failed: bad" in err
    report = pd.read_csv(output / "batch_report.tsv", sep="\t", keep_default_na=False)
    status = dict(zip(report["sample"], report["status"]))
    assert status == {"good": "ok", "bad": "failed"}
    error = report.set_index("sample").loc["bad", "error"]
    assert "corrupt.bam" in error and "\n" not in error
    assert (output / "good" / "quant.sf").is_file()
    assert not (output / "bad").exists()
    assert list(merged(output).columns) == ["good"]
    assert_no_staging_left(output)
    # counts stay integers next to a failed sample's empty cells (were 12549.0)
    text = pd.read_csv(output / "batch_report.tsv", sep="\t", dtype=str, keep_default_na=False)
    good = text.set_index("sample").loc["good"]
    assert good["fragments"].isdigit() and good["iterations"].isdigit()
    assert text.set_index("sample").loc["bad", "fragments"] == ""
    # the live log: each sample's start, end (seconds, peak memory) or failure, in batch.log
    log = (output / "batch.log").read_text()
    assert re.search(r"\] INFO good: started, worker \S+", log), log
    assert re.search(r"\] INFO good: done in [\d.]+ s, peak memory \d+ MB \([12] of 2\)", log)
    failed = re.search(r"\] WARNING bad: FAILED after [\d.]+ s: (.*) \([12] of 2\)\n", log)
    assert failed and failed.group(1) == error, log
    assert "batch: 1 of 2 sample(s) ok, failed: bad" in log


def test_killed_worker_sample_is_retried_and_written_once(client, sample_bams, tmp_path):
    bams = {"big": DEMO_BAM, "S1": sample_bams[0], "S2": sample_bams[1]}
    sheet = write_sheet(tmp_path / "sheet.csv", list(bams.items()))
    output = tmp_path / "out"
    pids = client.run(os.getpid)
    killed: list[str] = []

    def kill_the_worker_running_big() -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if output.is_dir() and any(output.glob(".big.tmp-*")):
                for address, keys in client.processing().items():
                    if any(str(k).startswith("emseq-big-") for k in keys) and address in pids:
                        os.kill(pids[address], signal.SIGKILL)
                        killed.append(address)
                        return
            time.sleep(0.002)

    killer = threading.Thread(target=kill_the_worker_running_big)
    killer.start()
    result = run(sheet, output, options={"transcripts": str(DEMO_TRANSCRIPTS)}, client=client,
                 retries=2)
    killer.join()
    assert killed, "the sample finished before its worker could be killed"
    assert result.failed == []
    assert_no_staging_left(output)
    expected = expected_counts(bams, tmp_path / "one_by_one")
    np.testing.assert_allclose(merged(output)[list(bams)].to_numpy(), expected.to_numpy(),
                               rtol=0, atol=0)
    for sample in bams:
        assert (output / sample / MANIFEST_NAME).is_file()


def test_two_copies_of_one_task_at_once_give_one_result(client, sample_bams, tmp_path):
    """Dask may run a task twice at once (a worker it took for lost is still running): the
    second copy waits for the first and takes its result instead of failing on the lock."""
    from emseq.batch.task import run_sample

    output = tmp_path / "out"
    output.mkdir()
    row = {"sample": "S1", "bam": str(sample_bams[0])}
    options = {"transcripts": str(DEMO_TRANSCRIPTS)}
    workers = sorted(client.scheduler_info()["workers"])
    copies = [client.submit(run_sample, "quant", row, options, str(output), key=f"copy-{i}",
                            workers=[address], pure=False)
              for i, address in enumerate(workers)]
    records = client.gather(copies)
    assert [r["status"] for r in records] == ["ok", "ok"], records
    assert sorted(bool(r.get("duplicate")) for r in records) == [False, True], records
    assert_no_staging_left(output)
    expected = expected_counts({"S1": sample_bams[0]}, tmp_path / "one_by_one")
    np.testing.assert_array_equal(merged_one(output / "S1"), expected["S1"].to_numpy())
    assert json.loads((output / "S1" / MANIFEST_NAME).read_text())["stats"]["status"] == "ok"


def merged_one(directory: Path) -> np.ndarray:
    return pd.read_csv(directory / "quant.sf", sep="\t")["NumReads"].to_numpy()


def test_resume_skips_complete_samples_and_redoes_changed_ones(client, sample_bams, tmp_path):
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    for i in (0, 1):
        shutil.copy(sample_bams[i], inputs / f"S{i + 1}.bam")
    sheet = write_sheet(tmp_path / "sheet.csv",
                        [("S1", inputs / "S1.bam"), ("S2", inputs / "S2.bam")])
    output = tmp_path / "out"
    options = {"transcripts": str(DEMO_TRANSCRIPTS)}
    run(sheet, output, options=options, client=client)
    stamps = {s: (output / s / "quant.sf").stat().st_mtime_ns for s in ("S1", "S2")}

    again = run(sheet, output, options=options, client=client)
    assert again.failed == []
    assert {s: (output / s / "quant.sf").stat().st_mtime_ns for s in stamps} == stamps

    # S1 left incomplete (no manifest), S2's input replaced by another sample's reads
    (output / "S1" / MANIFEST_NAME).unlink()
    shutil.copy(sample_bams[3], inputs / "S2.bam")
    third = run(sheet, output, options=options, client=client)
    assert third.failed == []
    for sample in ("S1", "S2"):
        assert (output / sample / "quant.sf").stat().st_mtime_ns != stamps[sample]
    expected = expected_counts({"S1": inputs / "S1.bam", "S2": sample_bams[3]},
                               tmp_path / "one_by_one")
    np.testing.assert_allclose(merged(output).to_numpy(), expected.to_numpy(), rtol=0, atol=0)

    # changed options redo every sample
    stamps = {s: (output / s / "quant.sf").stat().st_mtime_ns for s in ("S1", "S2")}
    fourth = run(sheet, output, options={**options, "vb": False}, client=client)
    assert fourth.failed == []
    for sample in ("S1", "S2"):
        assert (output / sample / "quant.sf").stat().st_mtime_ns != stamps[sample]
        manifest = json.loads((output / sample / MANIFEST_NAME).read_text())
        assert manifest["options"]["vb"] is False


def test_sheet_errors_stop_before_anything_runs(tmp_path, capsys):
    sheet = tmp_path / "sheet.csv"
    sheet.write_text(f"sample,bam\nS1,{DEMO_BAM}\nS1,{DEMO_BAM}\n")
    output = tmp_path / "out"
    code = emseq_main(["batch", str(sheet), "-t", str(DEMO_TRANSCRIPTS), "-o", str(output)])
    assert code == 1
    assert "duplicate sample name(s) ['S1']" in capsys.readouterr().err
    assert not output.exists()


@pytest.mark.parametrize("option", ["-t", "--tx2gene"])
def test_missing_shared_file_is_one_line_error_before_anything_runs(tmp_path, capsys, option):
    """A missing -t/--tx2gene escaped as a raw FileNotFoundError and left an empty output dir."""
    sheet = write_sheet(tmp_path / "sheet.csv", [("S1", DEMO_BAM)])
    output = tmp_path / "out"
    args = ["-t", str(DEMO_TRANSCRIPTS)] if option == "--tx2gene" else []
    code = emseq_main(["batch", str(sheet), *args, option, str(tmp_path / "nope.txt"),
                       "-o", str(output), "-q"])
    err = capsys.readouterr().err
    assert code == 1
    assert err.strip().splitlines() == [
        f"emseq batch: error: {tmp_path / 'nope.txt'}: no such file (given as "
        f"{'transcripts' if option == '-t' else 'tx2gene'})"]
    assert not output.exists()


def test_output_that_is_a_file(tmp_path, capsys):
    """Was 'FileExistsError: [Errno 17] File exists'."""
    sheet = write_sheet(tmp_path / "sheet.csv", [("S1", DEMO_BAM)])
    output = tmp_path / "out"
    output.write_text("keep me\n")
    code = emseq_main(["batch", str(sheet), "-t", str(DEMO_TRANSCRIPTS), "-o", str(output), "-q"])
    assert code == 1
    assert capsys.readouterr().err.strip().splitlines() == [
        f"emseq batch: error: -o {output} exists and is a file; pass --force to replace it "
        "(atomically, once the new result is complete)"]
    assert output.read_text() == "keep me\n"


@pytest.mark.parametrize("option, value", [("--workers", "-1"), ("--retries", "-1"),
                                           ("--jobs", "0"), ("--cores", "0")])
def test_out_of_range_cluster_options_are_usage_errors(tmp_path, capsys, option, value):
    """--workers -1 started a LocalCluster with no worker and waited forever."""
    sheet = write_sheet(tmp_path / "sheet.csv", [("S1", DEMO_BAM)])
    output = tmp_path / "out"
    extra = ["--cluster", "slurm"] if option in ("--jobs", "--cores") else []
    code = emseq_main(["batch", str(sheet), "-t", str(DEMO_TRANSCRIPTS), "-o", str(output),
                       "-q", option, value, *extra])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and option.lstrip("-") in err, err
    assert not output.exists()


def test_motif_jobs_run_per_sample_and_merge_their_motif_tables(client, tmp_path):
    motifs = DATA.parent / "motif"
    sheet = tmp_path / "peaks.csv"
    sheet.write_text(f"sample,fasta\ncrp,{motifs / 'crp0.fna'}\nlex,{motifs / 'lex0.fna'}\n")
    output = tmp_path / "out"
    jaspar = motifs / "JASPAR_CORE_vertebrates_nonredundant.meme"
    result = run(sheet, output, engine="motif",
                 options={"mod": "zoops", "nmotifs": 1, "db": str(jaspar)}, client=client)
    assert result.failed == []
    table = pd.read_csv(output / "motifs.tsv", sep="\t")
    # --db: each motif's best database match, as emseq motif --db writes it
    assert {"db_match", "db_match_name", "db_match_q"} <= set(table.columns)
    consensus = dict(zip(table["sample"], table["consensus"]))
    assert consensus["crp"].startswith("TGTGA") and "TCACA" in consensus["crp"]
    lex = consensus["lex"]  # LexA, CTGTATATATATACAG, on either strand
    assert any("CTGTATATA" in c and c.rfind("CAG") > c.find("CTGT") + 8
               for c in (lex, lex.translate(str.maketrans("ACGT", "TGCA"))[::-1])), lex
    for sample in ("crp", "lex"):
        assert (output / sample / "motifs.meme").is_file()
        assert (output / sample / MANIFEST_NAME).is_file()
    trace = pd.read_csv(output / "convergence.tsv", sep="\t")
    assert set(trace["sample"]) == {"crp", "lex"}
    assert_no_staging_left(output)
    # the merged table holds each sample's rows as the sample wrote them (E-values exact)
    merged_lines = (output / "motifs.tsv").read_text().splitlines()
    header = (output / "crp" / "motifs.tsv").read_text().splitlines()[0]
    assert merged_lines[0] == f"sample\t{header}"
    expected = [f"{s}\t{line}" for s in ("crp", "lex")
                for line in (output / s / "motifs.tsv").read_text().splitlines()[1:]]
    assert merged_lines[1:] == expected
    report = pd.read_csv(output / "batch_report.tsv", sep="\t")
    assert list(report.columns) == ["sample", "status", "motifs", "iterations", "seconds",
                                    "peak_memory_mb", "error"]  # no quant-only columns
    assert report["motifs"].tolist() == [1, 1]



def test_sample_whose_worker_dies_by_a_signal_names_it(client, sample_bams, tmp_path):
    """KilledWorker '... on 4 different workers' gave no cause: the report now says the
    signal the worker died by and the sample's last log line (OUT/logs/<sample>.log)."""
    bams = {"big": DEMO_BAM, "S1": sample_bams[0]}
    sheet = write_sheet(tmp_path / "sheet.csv", list(bams.items()))
    output = tmp_path / "out"
    killed: list[str] = []

    def segfault_the_worker_running_big() -> None:
        """Kill every attempt (Dask reruns a task whose worker died, up to its
        'allowed-failures', then raises KilledWorker) once it has read its records."""
        deadline = time.monotonic() + 300
        log = output / "logs" / "big.log"
        while time.monotonic() < deadline and len(killed) < 8:
            text = log.read_text() if log.is_file() else ""
            if text.count("records,") > len(killed):
                for address, keys in client.processing().items():
                    if any(str(k).startswith("emseq-big-") for k in keys):
                        pid = client.run(os.getpid, workers=[address])[address]
                        os.kill(pid, signal.SIGSEGV)
                        killed.append(address)
                        break
            if result_ready.is_set():
                return
            time.sleep(0.005)

    result_ready = threading.Event()

    killer = threading.Thread(target=segfault_the_worker_running_big)
    killer.start()
    result = run(sheet, output, options={"transcripts": str(DEMO_TRANSCRIPTS)}, client=client,
                 retries=0)
    result_ready.set()
    killer.join()
    assert killed, "the sample finished before its worker could be killed"
    assert result.failed == ["big"]
    error = result.report.set_index("sample").loc["big", "error"]
    assert error.startswith("its worker died by SIGSEGV (Segmentation fault); last log line: ")
    assert "last log line: INFO " in error and "KilledWorker" in error
    assert "Fatal Python error: Segmentation fault" in (output / "logs" / "big.log").read_text()
    assert (output / "S1" / MANIFEST_NAME).is_file()
    assert_no_staging_left(output)


def test_merged_motif_tables_keep_evalues_beyond_floats(tmp_path):
    """'2.2e-13425' in a sample's motifs.tsv became 0.0 in the merged table."""
    from emseq.batch import merge_outputs

    for sample, evalue in (("a", "2.2e-13425"), ("b", "1.0e+02")):
        (tmp_path / sample).mkdir()
        (tmp_path / sample / "motifs.tsv").write_text(
            f"motif\twidth\tsites\tevalue\n1\t12\t{17 if sample == 'a' else 3}\t{evalue}\n")
    report = pd.DataFrame({"sample": ["a", "b"], "status": ["ok", "ok"]})
    table = merge_outputs(tmp_path, report, "motif", {})["motifs.tsv"]
    assert table["evalue"].tolist() == ["2.2e-13425", "1.0e+02"]
    assert table["sites"].tolist() == ["17", "3"]


def test_mixture_fits_per_sample_equal_emseq_mixture_and_merge_their_parameters(client,
                                                                                tmp_path):
    rng = np.random.default_rng(7)
    tables = {}
    for name, shift in (("near", 3.0), ("far", 8.0)):
        X = np.vstack([rng.normal(0, 1, (150, 2)), rng.normal(shift, 1, (150, 2))])
        tables[name] = tmp_path / f"{name}.tsv"
        np.savetxt(tables[name], X, delimiter="\t", header="x\ty", comments="")
    sheet = tmp_path / "tables.csv"
    sheet.write_text("sample,table\n" + "".join(f"{n},{p}\n" for n, p in tables.items()))
    output = tmp_path / "out"
    assert emseq_main(["batch", str(sheet), "--engine", "mixture", "-k", "1-3", "--squarem",
                       "--no-plot", "-o", str(output), "-q", "--workers", "2"]) == 0
    stacked = []
    for name, path in tables.items():
        alone = tmp_path / f"alone_{name}"
        assert emseq_main(["mixture", str(path), "-k", "1-3", "--squarem", "--no-plot",
                           "-o", str(alone), "-q", "-p", "1"]) == 0
        for filename in ("parameters.tsv", "assignments.tsv", "convergence.tsv"):
            batch_table = pd.read_csv(output / name / filename, sep="\t", dtype=str)
            alone_table = pd.read_csv(alone / filename, sep="\t", dtype=str)
            pd.testing.assert_frame_equal(batch_table.drop(columns="seconds", errors="ignore"),
                                          alone_table.drop(columns="seconds", errors="ignore"))
        lines = (alone / "parameters.tsv").read_text().splitlines()
        stacked += [f"{name}\t{line}" for line in lines[1:]]
        header = lines[0]
    merged_lines = (output / "parameters.tsv").read_text().splitlines()
    assert merged_lines == [f"sample\t{header}", *stacked]
    report = pd.read_csv(output / "batch_report.tsv", sep="\t")
    assert list(report.columns) == ["sample", "status", "components", "iterations", "seconds",
                                    "peak_memory_mb", "error"]
    assert report["components"].tolist() == [2, 2]  # BIC picks the two clusters


def test_a_zarr_table_is_fitted_on_the_batch_cluster_and_resumed_by_its_contents(tmp_path):
    """A zarr sample started a LocalCluster inside a Dask worker (whose processes cannot have
    children), and the sheet and the manifest took only files: the folder was "missing"."""
    zarr = pytest.importorskip("zarr", reason="zarr is needed for zarr tables (test extra)")
    rng = np.random.default_rng(11)
    X = np.vstack([rng.normal(0, 1, (200, 2)), rng.normal(6, 1, (200, 2))])
    array = zarr.open_array(str(tmp_path / "cells.zarr"), mode="w", shape=X.shape,
                            chunks=(100, 2), dtype="f8")
    array[:] = X
    sheet = tmp_path / "tables.csv"
    sheet.write_text("sample,table\ncells,cells.zarr\n")
    output = tmp_path / "out"
    assert emseq_main(["batch", str(sheet), "--engine", "mixture", "-k", "2", "--no-plot",
                       "-o", str(output), "-q", "--workers", "1"]) == 0
    alone = tmp_path / "alone"
    assert emseq_main(["mixture", str(tmp_path / "cells.zarr"), "-k", "2", "--no-plot",
                       "-o", str(alone), "-q", "--workers", "1"]) == 0
    batch_table = pd.read_csv(output / "cells" / "parameters.tsv", sep="\t")
    alone_table = pd.read_csv(alone / "parameters.tsv", sep="\t")
    pd.testing.assert_frame_equal(batch_table, alone_table, rtol=1e-9)
    recorded = json.loads((output / "cells" / MANIFEST_NAME).read_text())
    before = recorded["inputs"][0]["sha256"]
    array[0, 0] = 100.0  # new contents: the sample is not complete any more
    assert emseq_main(["batch", str(sheet), "--engine", "mixture", "-k", "2", "--no-plot",
                       "-o", str(output), "-q", "--workers", "1"]) == 0
    after = json.loads((output / "cells" / MANIFEST_NAME).read_text())["inputs"][0]["sha256"]
    assert after != before
