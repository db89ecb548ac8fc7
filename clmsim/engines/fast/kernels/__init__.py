"""The fast engine's numba kernels (the only modules of clmsim that import numba).

* :mod:`.samplers` -- xoshiro256** streams and the samplers (normal, gamma, beta,
  binomial, Poisson, multinomial), program effects and row tables;
* :mod:`.hypergeometric` -- the exact O(1) hypergeometric sampler of counts mode;
* :mod:`.counter_rng` -- counter-based SplitMix64 draws of individual mode;
* :mod:`.individual` -- the individual-mode kernel, with its bare path
  (:mod:`.individual_bare`) and heterogeneous path (:mod:`.individual_het`);
* :mod:`.counts` -- the counts-mode kernel;
* :mod:`.runtime` -- threads, compile notices; :mod:`.jit` -- the decorators (kernels,
  helpers for jitted callers only, inlined functions); :mod:`.cache` -- where compiled kernels
  are cached and when they are stale (registered here, before any kernel is defined).
"""

from . import cache

cache.register()
