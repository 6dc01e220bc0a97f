"""ranklsim: a mechanistic RANKL -> hepatic NF-kB -> insulin resistance -> glucose simulator."""

from __future__ import annotations

__version__ = "0.1.0"


def load_model(species: str = "human", view: str = "acute"):
    """Build (cached per process) and return the composite :class:`~ranklsim.simulate.Model`."""
    from ranklsim.simulate.simulator import load_model as _load

    return _load(species, view)


__all__ = ["__version__", "load_model"]
