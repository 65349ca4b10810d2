"""MEME-style motif discovery: the driver that reads like the algorithm.

For each motif (``nmotifs`` rounds, with probabilistic erasing in between):

1. widths on MEME's geometric grid (:mod:`.widths`); for each, starting points
   (:mod:`.starts`) and a short EM run from each (:mod:`.fit`), trimmed (:mod:`.trim`), with
   the number of sites that minimises the E-value (:mod:`.sites`, :mod:`.stats`);
2. MEME's shortening of the best motif (:mod:`.shorten`);
3. a full EM on all the data from the best candidate and from its shortening: the lowest
   E-value after that EM is the motif;
4. its sites are erased (:mod:`.erase`) before the next round.

With control sequences (``objfun`` ``de``/``se``, :mod:`.discriminative`) every "E-value"
above is the p-value of the sites' enrichment over the control, and the motif's reported
E-value is that p-value times the number of starts compared (MEME's rule).

The input is read and checked once and its statistics (background log-probabilities, the
scan set of the starting-point search) are computed once (:class:`.inputs.SearchInput`); the
windows of each width are computed once per round (:class:`.windows.SequenceView`).
"""

from __future__ import annotations

import logging
import math
import os
from typing import Iterable, Sequence

import numpy as np
import pandas as pd

from .._progress import progress
from .._threads import resolve_threads
from ..errors import InputError
from ..io.fasta import FastaRecord
from .background import Background
from .discriminative import kmer_shuffle, report_log_evalue, shuffle_rng
from .erase import erase_sites
from .fit import fit_em
from .heldout import heldout_log_pvalue
from .inputs import SearchInput, load_sequences, longest_known_run
from .options import DEFAULT_STARTS, MODELS, SCAN_LETTERS, SHUFFLE, SearchOptions
from .result import Motif, MotifResult, MotifSet, consensus
from .shorten import shorten
from .sites import select_sites, sites_frame
from .stats import llr_bits
from .widths import refine_width, search_widths, width_grid
from .windows import SequenceView

__all__ = ["discover", "find_motif", "Motif", "MotifSet", "MotifResult", "width_grid",
           "MODELS", "DEFAULT_STARTS", "consensus"]

logger = logging.getLogger(__name__)

_LN10 = math.log(10.0)
#: candidates (best first, distinct) refined by a full EM before the final choice, besides the
#: shortened winner (measured: 2 drops 20x200 OOPS nPC 0.85 -> 0.82, 3 drops 20x200 ZOOPS
#: 0.65 -> 0.63, while lifting crp0 TCM 0.63 -> 0.85)
FINAL_CANDIDATES = 1
#: MEME-style shortening of the best motif (the most significant sub-range of its columns)
SHORTEN = True
#: widths off the grid around the grid's best (:func:`.widths.refine_width`)
REFINE = True
CONVERGENCE_COLUMNS = ["motif", "width", "start", "phase", "iteration", "log_likelihood",
                       "delta", "relative_delta", "seconds"]
SITE_COLUMNS = ["motif", "sequence", "start", "end", "strand", "score", "p_value", "site"]


def find_motif(inp: SearchInput, full: SequenceView, widths: Sequence[int], motif_index: int,
               bar) -> dict | None:
    """One motif: search every width, shorten the best, refine the finalists by a full EM.

    Each start gets a short EM run (on the scan subset when the data are larger than it);
    only the winner (and its shortening) is refined by EM to convergence on the whole data,
    and its sites are then chosen on all of it. ``full`` is all the sequences with this
    round's erasing weights.
    """
    view = (SequenceView(inp.scan, inp.scan_bglp, inp.scan_weights(full.erase))
            if inp.sampled else full)
    best, cands = search_widths(inp, view, widths, motif_index, bar)
    if best is None:
        return None
    if REFINE:
        refined = refine_width(inp, view, best, widths, motif_index)
        cands += refined
        best = min([best] + refined, key=lambda c: c["loge"])
    # full EM from the best candidate and from its MEME-style shortening; the lowest
    # E-value after the full EM wins (EM maximises the likelihood, not the E-value, so the
    # order of two candidates can change once both have converged)
    extra = []
    if SHORTEN:
        shorter = shorten(inp, best, view, motif_index)
        if shorter is not None:
            extra.append(shorter)
    finalists: list[dict] = []
    for c in sorted(cands, key=lambda c: c["loge"]):
        if len(finalists) >= FINAL_CANDIDATES:
            break
        if any(c["w"] == f["w"] and np.abs(c["theta"] - f["theta"]).max() < 0.05
               for f in finalists):
            continue
        finalists.append(c)
    finalists += extra
    chosen = None
    for cand in finalists:
        w = cand["w"]
        win = full.windows(w)
        label = {"motif": motif_index, "width": w, "start": cand["start"], "phase": "full"}
        theta, prior, _ = fit_em(inp, inp.data, win, cand["theta"], cand["prior"], label)
        sel = select_sites(inp, inp.data, win, theta)
        if sel is None:
            continue
        sel["prior"] = prior
        logger.debug("motif %d final EM width %d: log10 E %.2f (before %.2f)", motif_index,
                     w, sel["loge"] / _LN10, cand["loge"] / _LN10)
        if chosen is None or sel["loge"] < chosen["loge"]:
            chosen = sel
    if chosen is not None and inp.options.discriminative:
        # MEME's de/se E-value: the p-value on held-out sequences times the starts compared
        n_tests = len(cands) + len(extra)
        heldout = heldout_log_pvalue(inp, full, chosen, motif_index)
        logger.debug("motif %d: log10 p %.2f in sample, %s held out, %d starts", motif_index,
                     chosen["loge"] / _LN10,
                     "n/a" if heldout is None else f"{heldout / _LN10:.2f}", n_tests)
        chosen["loge"] = report_log_evalue(chosen["loge"] if heldout is None else heldout,
                                           n_tests)
    return chosen


def discover(sequences: str | os.PathLike[str] | Iterable[str] | Iterable[FastaRecord], *,
             n_threads: int | None = None, mod: str = "zoops", nmotifs: int = 1,
             minw: int = 6, maxw: int = 20, revcomp: bool = True, pal: bool = False,
             markov_order: int = 2, bfile: str | os.PathLike[str] | None = None,
             mask_lowercase: bool = False, prior_strength: float = 0.25, max_iter: int = 50,
             theta_tol: float = 1e-3, n_starts: int | None = None, n_kmers: int = 32,
             random_state: int | None = 0, progress_bar: bool | None = None,
             evt: float = float("inf"), nsites: int | None = None,
             minsites: int | None = None, maxsites: int | None = None,
             searchsize: int | None = None, neg=None, objfun: str | None = None,
             shuffle_k: int | None = None) -> MotifResult:
    """Discover motifs in DNA sequences with MEME's mixture models fitted by EM.

    Parameters
    ----------
    sequences : path-like, or iterable of str or FastaRecord
        A FASTA file (plain or gzipped) or the sequences themselves.
    n_threads : int, optional
        Threads for the kernels (None: all cores).
    mod : {"zoops", "oops", "tcm", "anr"}, default="zoops"
        Zero-or-one, one, or any number of occurrences per sequence (``anr`` = ``tcm``).
    nmotifs : int, default=1
        Motifs to find; each next one after probabilistically erasing the sites of the previous.
    minw, maxw : int, default=6, 20
        Motif widths searched (MEME's geometric grid between them).
    revcomp : bool, default=True
        Sites on both strands (``False``: the given strand only).
    pal : bool, default=False
        Constrain motifs to be palindromes (equal to their reverse complement).
    markov_order : int, default=2
        Order of the background Markov model estimated from the sequences (0-5).
    bfile : path-like, optional
        MEME background file to use instead of estimating the background.
    mask_lowercase : bool, default=False
        Treat lowercase (soft-masked) letters as unknown.
    prior_strength : float, default=0.25
        Total pseudocount per PWM column (Dirichlet prior proportional to the background).
    max_iter, theta_tol : int, float
        EM stops when the PWM moves less than ``theta_tol`` (Euclidean) or after ``max_iter``.
    n_starts : int, optional
        EM runs per width, from the best starting points (None: ``DEFAULT_STARTS`` of the
        model, 4 for OOPS and 2 for ZOOPS/TCM).
    n_kmers : int, default=32
        Over-represented k-mers used as seeds (besides sampled substrings).
    random_state : int, optional
        Seed of the substring sampling.
    progress_bar : bool, optional
        Show a progress bar over widths (None: only on a terminal).
    evt : float, default=inf
        MEME's ``-evt``: stop at the first motif whose E-value exceeds it (not reported).
    nsites, minsites, maxsites : int, optional
        MEME's site counts (ZOOPS/TCM): exactly ``nsites``, or between ``minsites`` (default
        2) and ``maxsites`` (default: every candidate).
    searchsize : int, optional
        Letters the starting points are searched on (MEME's ``-searchsize``; default
        ``SCAN_LETTERS``, 0 for all).
    neg : path-like, iterable of str or FastaRecord, or "shuffle", optional
        Control sequences (MEME's ``-neg``), read and checked like ``sequences``; ``"shuffle"``:
        the input shuffled keeping its k-mer counts (:func:`.discriminative.kmer_shuffle`).
    objfun : {"classic", "de", "se"}, optional
        MEME's objective function (default: ``de`` with ``neg``, else ``classic``); ``de``/
        ``se`` without ``neg`` use the shuffled input, as MEME. See :mod:`.discriminative`.
    shuffle_k : int, optional
        k of the shuffle of ``neg="shuffle"`` (MEME's ``-shuf``, 1-6; default 2).

    Returns
    -------
    MotifResult
    """
    mod, n_starts, min_sites, max_sites = SearchOptions.validate(
        mod, nmotifs, minw, maxw, markov_order, prior_strength, n_starts, nsites, minsites,
        maxsites, evt, searchsize)
    objective, neg, shuffle_k = SearchOptions.validate_objective(objfun, neg, shuffle_k)
    threads = resolve_threads(n_threads)
    data = load_sequences(sequences, mask_lowercase)
    # the longest run of known letters (within a sequence) decides whether any site is possible
    boundary_runs = longest_known_run(data)
    if boundary_runs < minw:
        raise InputError(f"no sequence has {minw} consecutive known letters (longest "
                         f"{boundary_runs}); lower --minw or check the input")
    control = None
    if objective != "classic":
        if isinstance(neg, str) and neg == SHUFFLE:
            control = kmer_shuffle(data, shuffle_k, shuffle_rng(random_state))
        else:
            control = load_sequences(neg, mask_lowercase, label="control")
            if longest_known_run(control) < minw:
                raise InputError(f"{neg if isinstance(neg, (str, os.PathLike)) else 'control'}"
                                 f": no control sequence has {minw} consecutive known letters;"
                                 " lower --minw or check the control")
    too_short = int((data.lengths < minw).sum())
    if too_short:
        logger.info("%d of %d sequences are shorter than --minw %d and are skipped", too_short,
                    data.n_sequences, minw)
    maxw_eff = min(int(maxw), boundary_runs)
    if maxw_eff < maxw:
        logger.info("--maxw lowered to %d, the longest run of known letters", maxw_eff)
    widths = width_grid(int(minw), maxw_eff)
    if bfile is not None:
        bg = Background.read(bfile)
    else:
        bg = Background.estimate(data, int(markov_order), revcomp=revcomp)
    logger.info("%d sequences, %d letters; background order %d; widths %s; model %s; "
                "objective %s", data.n_sequences, len(data.codes), bg.order, widths, mod,
                objective)
    if control is not None:
        logger.info("control: %d sequences, %d letters (%s)", control.n_sequences,
                    len(control.codes), f"{shuffle_k}-mer shuffle of the input"
                    if isinstance(neg, str) and neg == SHUFFLE else neg)
    options = SearchOptions(model="tcm" if mod == "anr" else mod, nmotifs=int(nmotifs),
                            minw=int(minw), maxw=maxw_eff, revcomp=bool(revcomp), pal=bool(pal),
                            prior_strength=prior_strength, max_iter=max_iter,
                            theta_tol=theta_tol, n_starts=n_starts, n_kmers=n_kmers,
                            n_threads=threads, min_sites=min_sites, max_sites=max_sites,
                            evt=float(evt),
                            search_letters=SCAN_LETTERS if searchsize is None else int(searchsize),
                            objective=objective, control=_control_label(neg),
                            shuffle_k=shuffle_k)
    inp = SearchInput.prepare(data, bg, options, np.random.default_rng(random_state), control)
    motifs = MotifSet()
    site_frames = []
    erase = None
    with progress(total=len(widths) * options.nmotifs, desc="motif widths", unit="width",
                  enabled=progress_bar) as bar:
        for m in range(1, options.nmotifs + 1):
            full = SequenceView(data, inp.bglp, erase)
            sel = find_motif(inp, full, widths, m, bar)
            if sel is None:
                logger.warning("motif %d: no further motif could be fitted; stopping", m)
                break
            if sel["loge"] / _LN10 > math.log10(options.evt):
                logger.info("motif %d: E-value 10^%.1f exceeds --evt %g; stopping", m,
                            sel["loge"] / _LN10, options.evt)
                break
            motif_id = str(m)
            sites = sites_frame(inp, motif_id, sel, sel["theta"])
            motif = Motif(motif_id, sel["theta"], sel["n"], llr_bits(sel["counts"], bg.freqs),
                          sel["loge"] / _LN10, sites, model=options.model, prior=sel["prior"])
            motifs.append(motif)
            site_frames.append(sites)
            logger.info("motif %d: %s width %d, %d sites, E-value %s", m, motif.consensus,
                        motif.width, motif.nsites, motif.e_value_text)
            if m < options.nmotifs:
                erase = erase_sites(inp, full, sel["theta"], sel["prior"])
    sites = (pd.concat(site_frames, ignore_index=True) if site_frames
             else pd.DataFrame(columns=SITE_COLUMNS))
    convergence = (pd.concat(inp.traces, ignore_index=True) if inp.traces
                   else pd.DataFrame(columns=CONVERGENCE_COLUMNS))
    params = dict(mod=mod, nmotifs=nmotifs, minw=minw, maxw=maxw, revcomp=revcomp, pal=pal,
                  markov_order=bg.order, bfile=str(bfile) if bfile else None,
                  mask_lowercase=mask_lowercase, n_threads=threads, evt=float(evt),
                  minsites=min_sites, maxsites=max_sites, objfun=objective,
                  neg=options.control)
    return MotifResult(motifs, sites, convergence, bg, params, data.n_sequences,
                       sequences=data)


def _control_label(neg) -> str | None:
    """How the control is named in the options and ``params``: its path, ``shuffle``,
    ``sequences`` (given in memory) or None."""
    if neg is None:
        return None
    return str(neg) if isinstance(neg, (str, os.PathLike)) else "sequences"
