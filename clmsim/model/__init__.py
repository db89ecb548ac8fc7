"""The compiled model: plain arrays and small records that every engine consumes."""

from .build import compile_model, compile_spec, schedule_array
from .compiled import (ACTIVE, CHURNED, CONVENTION, LOST, PROSPECT, Channel, CompiledModel, Heterogeneity,
                       Intercept, Program, Referral, Winback, effective_matrix)

__all__ = [
    "ACTIVE", "CHURNED", "CONVENTION", "LOST", "PROSPECT", "Channel", "CompiledModel", "Heterogeneity",
    "Intercept", "Program", "Referral", "Winback", "compile_model", "compile_spec", "effective_matrix", "schedule_array",
]
