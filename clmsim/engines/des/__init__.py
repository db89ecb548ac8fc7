"""The des engine: discrete-event simulation on simpy, with operations and journeys.

* :mod:`.engine` -- the entry point (``simulate``, ``simulate_run``), the lifecycle
  process and the event log;
* :mod:`.population` -- the customers' state as NumPy arrays, moved vectorised;
* :mod:`.operations` -- agent pools, budget calendars and response delays (simpy).
"""

from .engine import (CAPABILITIES, EVENT_COLUMNS, NAME, OPTIONS, RunRecord, RunState, pin_options, simulate,
                     simulate_run)

__all__ = ["CAPABILITIES", "EVENT_COLUMNS", "NAME", "OPTIONS", "RunRecord", "RunState", "pin_options", "simulate",
           "simulate_run"]
