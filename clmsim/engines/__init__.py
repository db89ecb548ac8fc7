"""Engines: each module exposes ``simulate(models, *, runs, seed, **options) -> Results``.

* ``analytic`` (:mod:`clmsim.engines.analytic`): exact expectations;
* ``fast``: numba Monte Carlo (individual and counts modes);
* ``des``: discrete-event simulation on simpy.

Engines are imported lazily by :func:`clmsim.api.simulate`; importing this
package imports none of them.
"""
