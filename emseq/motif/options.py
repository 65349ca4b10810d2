"""The options of a motif search (one frozen dataclass: the model in one place)."""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import UsageError
from .background import MAX_ORDER

#: MEME's objective functions that emseq has
OBJECTIVES = ("classic", "de", "se")
#: the ``--neg`` value that asks for a shuffled copy of the input as the control
SHUFFLE = "shuffle"
#: k of the k-mer preserving shuffle (MEME's ``-shuf``: 1..6)
SHUFFLE_K_RANGE = (1, 6)

__all__ = ["MODELS", "DEFAULT_STARTS", "SCAN_LETTERS", "SearchOptions"]

#: the mixture models and their codes in the E-step kernel (``anr`` is MEME's name of ``tcm``)
MODELS = {"oops": 0, "zoops": 1, "tcm": 2, "anr": 2}
#: EM starts per width by model. OOPS scores each seed at one number of sites only, and on
#: crp0 its best start at width 16 ranks 5th by the seed E-value (4 starts: nPC 0.49 -> 0.63,
#: planted 20x200 OOPS unchanged); on TCM 4 starts find lower E-values that place fewer true
#: sites (20x200 nPC 0.73 -> 0.72), and ZOOPS does not change: both keep 2
DEFAULT_STARTS = {"oops": 4, "zoops": 2, "tcm": 2}
#: letters of the data the seeds are scored on (a random subset of sequences beyond this)
SCAN_LETTERS = 200_000


@dataclass(frozen=True)
class SearchOptions:
    """What a motif search looks for and how hard it looks.

    Attributes
    ----------
    model : {"oops", "zoops", "tcm"}
        Sites per sequence: exactly one, zero or one, any number (``anr`` is stored as ``tcm``).
    nmotifs : int
        Motifs to find, each after probabilistically erasing the sites of the previous ones.
    minw, maxw : int
        Smallest and largest width searched (``maxw`` already lowered to the longest run of
        known letters).
    revcomp : bool
        Sites on both strands.
    pal : bool
        Motifs constrained to be palindromes (equal to their reverse complement).
    prior_strength : float
        Total pseudocount per PWM column (Dirichlet prior proportional to the background).
    max_iter : int
        EM iterations at most per run.
    theta_tol : float
        EM stops when the PWM moves less than this (Euclidean norm), MEME's rule.
    n_starts : int
        EM runs per width, from the best starting points.
    n_kmers : int
        Over-represented k-mers used as seeds (besides sampled substrings).
    n_threads : int
        Threads the kernels may use (the search lowers it on small data).
    min_sites, max_sites : int or None
        Fewest and most sites of a motif (None: 2, and every candidate: the number of
        sequences for ZOOPS, max(5 x sequences, 100) for TCM, a sequence longer than 500
        counted as its 500-letter pieces); OOPS always has one per sequence.
    evt : float
        MEME's E-value threshold: the search stops at the first motif whose E-value exceeds
        it (that motif is not reported). Default: no limit, as MEME.
    search_letters : int
        Letters of the scan set of the starting-point search (MEME's ``-searchsize``): a
        random subset of sequences beyond this; 0 for all.
    objective : {"classic", "de", "se"}
        MEME's ``-objfun``: ``classic`` (the E-value of the sites' alignment, no control),
        ``de`` (differential enrichment of the sites in the primary sequences over the
        control) or ``se`` (selective: ``de`` on the most informative columns); see
        :mod:`emseq.motif.discriminative`.
    control : str or None
        Where the control sequences came from (a path, or ``"shuffle"``); None with
        ``classic``.
    shuffle_k : int
        k of the k-mer preserving shuffle of ``control="shuffle"`` (MEME's ``-shuf``).
    """

    model: str = "zoops"
    nmotifs: int = 1
    minw: int = 6
    maxw: int = 20
    revcomp: bool = True
    pal: bool = False
    prior_strength: float = 0.25
    max_iter: int = 50
    theta_tol: float = 1e-3
    n_starts: int = 2
    n_kmers: int = 32
    n_threads: int = 1
    min_sites: int | None = None
    max_sites: int | None = None
    evt: float = float("inf")
    search_letters: int = SCAN_LETTERS
    objective: str = "classic"
    control: str | None = None
    shuffle_k: int = 2

    @property
    def discriminative(self) -> bool:
        """Whether motifs are scored against control sequences (``de``/``se``)."""
        return self.objective != "classic"

    def site_range(self, n_candidates: int) -> tuple[int, int]:
        """The numbers of sites allowed among ``n_candidates`` (inclusive bounds)."""
        lo = 2 if self.min_sites is None else max(2, self.min_sites)
        hi = n_candidates if self.max_sites is None else min(n_candidates, self.max_sites)
        return lo, max(lo, hi)

    @property
    def model_code(self) -> int:
        """The model's code in the E-step kernel."""
        return MODELS[self.model]

    @property
    def n_strands(self) -> int:
        return 2 if self.revcomp else 1

    @staticmethod
    def validate(mod: str, nmotifs: int, minw: int, maxw: int, markov_order: int,
                 prior_strength: float, n_starts: int | None,
                 nsites: int | None = None, minsites: int | None = None,
                 maxsites: int | None = None, evt: float = float("inf"),
                 searchsize: int | None = None) -> tuple[str, int, int | None, int | None]:
        """Check the user's values (one clear line each); returns the model and its starts."""
        mod = str(mod).lower()
        if mod not in MODELS:
            raise UsageError(f"--mod must be one of oops, zoops, tcm, anr; got {mod!r}")
        if int(nmotifs) < 1:
            raise UsageError(f"--nmotifs must be at least 1, got {nmotifs}")
        if int(minw) < 2:
            raise UsageError(f"--minw must be at least 2, got {minw}")
        if int(maxw) > 300:
            raise UsageError(f"--maxw must be at most 300, got {maxw}")
        if int(minw) > int(maxw):
            raise UsageError(f"--minw {minw} is larger than --maxw {maxw}")
        if not 0 <= int(markov_order) <= MAX_ORDER:
            raise UsageError(f"--markov-order must be between 0 and {MAX_ORDER}, "
                             f"got {markov_order}")
        if prior_strength <= 0:
            raise UsageError(f"prior_strength must be positive, got {prior_strength}")
        if n_starts is None:
            n_starts = DEFAULT_STARTS["tcm" if mod == "anr" else mod]
        if int(n_starts) < 1:
            raise UsageError(f"--starts must be at least 1, got {n_starts}")
        if nsites is not None:
            if minsites is not None or maxsites is not None:
                raise UsageError("--nsites sets both --minsites and --maxsites: give one or "
                                 "the other")
            minsites = maxsites = nsites
        for name, value in (("--minsites", minsites), ("--maxsites", maxsites)):
            if value is not None and int(value) < 2:
                raise UsageError(f"{name} must be at least 2, got {value}")
        if minsites is not None and maxsites is not None and int(minsites) > int(maxsites):
            raise UsageError(f"--minsites {minsites} is larger than --maxsites {maxsites}")
        if not evt > 0:
            raise UsageError(f"--evt must be positive, got {evt}")
        if searchsize is not None and int(searchsize) < 0:
            raise UsageError(f"--searchsize must be 0 (all) or positive, got {searchsize}")
        return (mod, int(n_starts), None if minsites is None else int(minsites),
                None if maxsites is None else int(maxsites))

    @staticmethod
    def validate_objective(objfun: str | None, neg, shuffle_k: int | None
                           ) -> tuple[str, object, int]:
        """The objective, the control and the shuffle's k, checked as MEME does.

        ``objfun`` None means ``de`` with a control and ``classic`` without; ``de``/``se``
        without a control use the input shuffled (MEME's behaviour without ``-neg``); a
        control with ``classic`` is refused (MEME: "You may not use option '-neg' with option
        '-objfun classic'").
        """
        if isinstance(neg, str) and not neg.strip():
            raise UsageError("--neg needs a FASTA file of control sequences or 'shuffle', "
                             "got an empty value")
        objective = ("de" if neg is not None else "classic") if objfun is None else str(objfun)
        objective = objective.lower()
        if objective not in OBJECTIVES:
            raise UsageError(f"--objfun must be one of {', '.join(OBJECTIVES)}; got {objfun!r}")
        if objective == "classic" and neg is not None:
            raise UsageError("--neg needs --objfun de or se: the classic objective does not "
                             "use control sequences")
        if objective != "classic" and neg is None:
            neg = SHUFFLE
        lo, hi = SHUFFLE_K_RANGE
        if shuffle_k is not None:
            if not (isinstance(neg, str) and neg == SHUFFLE):
                raise UsageError("--shuf applies to --neg shuffle only (the control sequences "
                                 "are given)")
            if not lo <= int(shuffle_k) <= hi:
                raise UsageError(f"--shuf must be between {lo} and {hi}, got {shuffle_k}")
        return objective, neg, 2 if shuffle_k is None else int(shuffle_k)
