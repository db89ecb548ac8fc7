"""User-facing errors outside the scenario language.

The CLI prints these as one clear message and exits with status 2; they are
never shown as a traceback. (Scenario problems raise
:class:`clmsim.scenario.ScenarioError`, which the CLI treats the same way.)
"""


class ClmsimError(ValueError):
    """A request clmsim cannot honour, with a message that says why and what to do."""


class UnsupportedFeature(ClmsimError):
    """An engine was asked for a scenario feature it cannot compute.

    The message names the feature and the engines that can.
    """

    def __init__(self, engine: str, feature: str, alternatives: str):
        self.engine = engine
        self.feature = feature
        super().__init__(f"the {engine} engine cannot handle {feature}; use {alternatives}")
