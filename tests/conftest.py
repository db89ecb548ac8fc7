"""Test-suite settings.

Property-based tests (hypothesis) explore new random examples on every local run; under CI
(``CI=true``, as ``.ci/run`` sets it) they run a fixed, derandomised set of examples so that a
CI verdict depends on the code, not on which examples were drawn that day.
"""

import os

from hypothesis import settings

settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI", "").lower() == "true":
    settings.load_profile("ci")
