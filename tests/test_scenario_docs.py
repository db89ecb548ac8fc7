"""docs/scenario.md stays true: its examples validate and every schema field is documented."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydantic import BaseModel

from clmsim.scenario import scenario_from_text
from clmsim.scenario import schema as S

DOC = (Path(__file__).resolve().parent.parent / "docs" / "scenario.md").read_text(encoding="utf-8")


def _models() -> list[type[BaseModel]]:
    return [v for v in vars(S).values()
            if isinstance(v, type) and issubclass(v, BaseModel) and v.__module__ == S.__name__ and v is not S._Model]


@pytest.mark.parametrize("model", _models(), ids=lambda m: m.__name__)
def test_every_schema_field_is_documented(model):
    for name, field in model.model_fields.items():
        key = field.alias or name
        assert re.search(r"(?:[`.{]|, )" + re.escape(key) + r"[`:.]", DOC), f"{model.__name__}.{key} is not documented"


def test_minimal_example_validates():
    block = DOC.split("## A minimal file", 1)[1].split("```yaml", 1)[1].split("```", 1)[0]
    sc = scenario_from_text(block, "minimal")
    assert sc.strategy_names == ("baseline",)


def test_strategies_example_is_valid_against_telecom():
    block = DOC.split("## Strategies", 1)[1].split("```yaml", 1)[1].split("```", 1)[0]
    root = Path(__file__).resolve().parent.parent
    text = (root / "scenarios" / "telecom.yaml").read_text(encoding="utf-8").split("\nstrategies:")[0] + "\n" + block
    sc = scenario_from_text(text, "doc-strategies")
    assert sc.strategy_names == ("baseline", "save_desk_x2", "shift_to_retention", "homogeneous")
    assert sc.spec_for("homogeneous").heterogeneity is None
    assert sc.spec_for("save_desk_x2").retention.programs["save_desk"].spend_per_customer == 24


def test_documented_clv_example_numbers():
    d = 1.1 ** (1 / 12) - 1
    m, r = 20, 0.95
    match = re.search(r"gives m·r/\(1\+d−r\) = (\d+\.\d) and\s+m\(1\+d\)/\(1\+d−r\) = (\d+\.\d)", DOC)
    assert match, "CLV example sentence changed"
    assert float(match.group(1)) == round(m * r / (1 + d - r), 1)
    assert float(match.group(2)) == round(m * (1 + d) / (1 + d - r), 1)
