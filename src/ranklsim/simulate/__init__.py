"""Simulation: the reused-RoadRunner simulator, protocol events and results."""

from ranklsim.simulate.simulator import (
    Event,
    Model,
    SimulationError,
    SimulationResult,
    load_model,
)

__all__ = ["Event", "Model", "SimulationError", "SimulationResult", "load_model"]
