# The sweep of the Gibbs sampler over equivalence classes (see emseq.quant.model.gibbs).
#
# One sweep: each multi-transcript class's fragments are assigned to its transcripts by a
# multinomial draw (conditional binomials, in the class's entry order) with probabilities
# proportional to mu[t] * weight, then each active transcript's rate is drawn from its Gamma
# posterior. Random numbers come from a numpy BitGenerator through numpy's C distributions,
# so a seeded Generator gives the same chain on every run; the loop holds the generator's
# lock and runs without the GIL.

from cpython.pycapsule cimport PyCapsule_GetPointer
from libc.stdint cimport int32_t, int64_t
from libc.string cimport memset
from numpy.random cimport bitgen_t
from numpy.random.c_distributions cimport binomial_t, random_binomial, random_standard_gamma


def sweeps(const int64_t[::1] offsets,        # IN (n_classes + 1,)
           const int32_t[::1] tids,           # IN (nnz,)
           const double[::1] weights,         # IN (nnz,)
           const int64_t[::1] counts,         # IN (n_classes,) fragments per class
           const int64_t[::1] fixed,          # IN (n_tx,) fragments of single-transcript classes
           const unsigned char[::1] active,   # IN (n_tx,) transcripts named by some class
           const double[::1] scale,           # IN (n_tx,) Gamma scale 1 / (beta + efflen)
           double prior,                      # IN Gamma shape added to each count
           double[::1] mu,                    # IN/OUT (n_tx,) per-nucleotide rates
           int64_t[::1] tx_counts,            # WORK (n_tx,)
           object bit_generator,              # a numpy.random.BitGenerator
           int n_sweeps):
    """Run ``n_sweeps`` sweeps, updating ``mu`` in place."""
    cdef bitgen_t *rng = <bitgen_t *> PyCapsule_GetPointer(bit_generator.capsule,
                                                           "BitGenerator")
    cdef binomial_t binomial
    cdef Py_ssize_t n_classes = counts.shape[0], n_tx = mu.shape[0]
    cdef Py_ssize_t s, c, i, t
    cdef int64_t lo, hi, left, draw
    cdef double total, p, q
    memset(&binomial, 0, sizeof(binomial))
    with bit_generator.lock, nogil:
        for s in range(n_sweeps):
            for t in range(n_tx):
                tx_counts[t] = fixed[t]
            for c in range(n_classes):
                lo = offsets[c]
                hi = offsets[c + 1]
                if hi - lo < 2:
                    continue
                total = 0.0
                for i in range(lo, hi):
                    total += mu[tids[i]] * weights[i]
                left = counts[c]
                for i in range(lo, hi):
                    if left == 0:
                        break
                    p = mu[tids[i]] * weights[i]
                    if i == hi - 1:
                        draw = left
                    else:
                        q = p / total if total > 0.0 else 1.0
                        if q >= 1.0:
                            draw = left
                        elif q <= 0.0:
                            draw = 0
                        else:
                            draw = random_binomial(rng, q, left, &binomial)
                    tx_counts[tids[i]] += draw
                    left -= draw
                    total -= p
            for t in range(n_tx):
                if active[t]:
                    mu[t] = random_standard_gamma(rng, prior + tx_counts[t]) * scale[t]
                else:
                    mu[t] = 0.0
