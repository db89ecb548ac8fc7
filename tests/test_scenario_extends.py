"""``extends`` merge rules and ``--set`` / strategy overrides."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from clmsim.scenario import ScenarioError, load_scenario

DATA = Path(__file__).parent / "data"


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """tmp/base/small.yaml (the valid fixture) and an empty tmp/child/ folder."""
    (tmp_path / "base").mkdir()
    (tmp_path / "child").mkdir()
    shutil.copy(DATA / "small.yaml", tmp_path / "base" / "small.yaml")
    return tmp_path


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def messages(exc: pytest.ExceptionInfo) -> list[str]:
    return [str(d) for d in exc.value.diagnostics]


# ------------------------------------------------------------------------- extends
def test_extends_merges_mappings_key_by_key(tree):
    child = write(tree / "child" / "c.yaml", "extends: ../base/small.yaml\nname: child\ntime: {horizon: 36}\n"
                  "stages:\n  loyal: {margin: 0.7}\n")
    spec = load_scenario(child).spec
    assert spec.name == "child"
    assert spec.time.horizon == 36
    assert spec.time.period == "month" and spec.time.discount_rate == 0.1   # kept from the base
    assert spec.stages["loyal"].margin == 0.7
    assert spec.stages["loyal"].revenue == 60 and spec.stages["loyal"].kind == "active"
    assert list(spec.stages) == ["prospect", "new", "loyal", "churned", "lost"]   # base order kept


def test_extends_replaces_lists_whole(tree):
    base = tree / "base" / "small.yaml"
    write(base, base.read_text().replace("target: [new]", "target: [new, loyal]"))
    child = write(tree / "child" / "c.yaml", "extends: ../base/small.yaml\n"
                  "retention: {programs: {care: {target: [loyal]}}}\n")
    spec = load_scenario(child).spec
    assert spec.retention.programs["care"].target == ["loyal"]
    assert spec.retention.programs["care"].spend_per_customer == 5   # siblings still merged


def test_extends_replaces_a_number_by_a_schedule(tree):
    child = write(tree / "child" / "c.yaml", "extends: ../base/small.yaml\n"
                  "acquisition: {channels: {search: {spend_per_period: {values: [0, 500], then: repeat}}}}\n")
    spend = load_scenario(child).spec.acquisition.channels["search"].spend_per_period
    assert spend.values == [0, 500] and spend.then == "repeat"


def test_extends_path_is_relative_to_the_file_not_the_cwd(tree, monkeypatch):
    child = write(tree / "child" / "c.yaml", "extends: ../base/small.yaml\nname: rel\n")
    monkeypatch.chdir(tree / "base")   # a cwd-relative lookup would find ../base/small.yaml elsewhere
    assert load_scenario(child).name == "rel"


def test_extends_chain_of_three_files(tree):
    write(tree / "child" / "mid.yaml", "extends: ../base/small.yaml\ntime: {horizon: 24}\n")
    leaf = write(tree / "child" / "leaf.yaml", "extends: mid.yaml\ntime: {discount_rate: 0.05}\n")
    t = load_scenario(leaf).spec.time
    assert (t.horizon, t.discount_rate, t.period) == (24, 0.05, "month")


def test_extends_cycle_is_rejected_with_the_chain(tree):
    a = write(tree / "child" / "a.yaml", "extends: b.yaml\nname: a\n")
    write(tree / "child" / "b.yaml", "extends: a.yaml\nname: b\n")
    with pytest.raises(ScenarioError) as exc:
        load_scenario(a)
    (msg,) = messages(exc)
    assert "extends: cycle in extends: " in msg
    assert "a.yaml -> " in msg and "b.yaml -> " in msg


def test_extends_self_is_a_cycle(tree):
    a = write(tree / "child" / "a.yaml", "extends: a.yaml\nname: a\n")
    with pytest.raises(ScenarioError, match="cycle in extends"):
        load_scenario(a)


def test_extends_missing_base_points_at_the_extends_key(tree):
    child = write(tree / "child" / "c.yaml", "name: x\nextends: nowhere.yaml\n")
    with pytest.raises(ScenarioError) as exc:
        load_scenario(child)
    (msg,) = messages(exc)
    assert msg.startswith(f"{child}:2:1: extends: file not found")


def test_extends_must_be_a_path(tree):
    child = write(tree / "child" / "c.yaml", "extends: [a.yaml]\n")
    with pytest.raises(ScenarioError) as exc:
        load_scenario(child)
    assert messages(exc) == [f"{child}:1:1: extends: must be the path of a scenario file"]


def test_extends_error_in_child_points_into_child_file(tree):
    child = write(tree / "child" / "c.yaml", "extends: ../base/small.yaml\ntransitions:\n  new: {loyl: 0.1}\n")
    with pytest.raises(ScenarioError) as exc:
        load_scenario(child)
    assert f"{child}:3:9: transitions.new.loyl: unknown stage 'loyl' (did you mean 'loyal'?)" in messages(exc)


def test_extends_error_in_base_points_into_base_file_by_location_only(tree):
    # the base was not named on the command line: its location is given, its content is not
    base = tree / "base" / "small.yaml"
    write(base, base.read_text().replace("horizon: 12", "horizon: 0"))
    child = write(tree / "child" / "c.yaml", "extends: ../base/small.yaml\nname: c\n")
    with pytest.raises(ScenarioError) as exc:
        load_scenario(child)
    (msg,) = messages(exc)
    assert msg.startswith(f"{child.parent / '../base/small.yaml'}:6:3: problem in a file that was not named")
    assert "horizon" not in msg and "0" not in msg.split(":", 3)[-1]


def test_extends_replaced_value_forgets_base_positions(tree):
    # the child replaces a schedule mapping by a bad number: the error points at the child
    base = tree / "base" / "small.yaml"
    write(base, base.read_text().replace("spend_per_period: 1000", "spend_per_period: {values: [1, 2]}"))
    child = write(tree / "child" / "c.yaml", "extends: ../base/small.yaml\n"
                  "acquisition:\n  channels:\n    search:\n      spend_per_period: -1\n")
    with pytest.raises(ScenarioError) as exc:
        load_scenario(child)
    assert any(m.startswith(f"{child}:5:7: acquisition.channels.search.spend_per_period:") for m in messages(exc))


# ----------------------------------------------------------------------------- --set
SMALL = DATA / "small.yaml"


def test_set_overrides_a_value_and_strategies_inherit_it():
    sc = load_scenario(SMALL, ["time.horizon=36", "stages.loyal.margin=0.7"])
    assert sc.spec.time.horizon == 36
    assert sc.spec_for("more_care").time.horizon == 36
    assert sc.spec_for("more_care").stages["loyal"].margin == 0.7
    assert sc.hash != load_scenario(SMALL).hash


def test_set_values_are_read_as_yaml_data():
    sc = load_scenario(SMALL, ["retention.programs.care.target=[new, loyal]",
                               "acquisition.channels.search.spend_per_period={ramp: {start: 0, end: 900, periods: 4}}"])
    assert sc.spec.retention.programs["care"].target == ["new", "loyal"]
    assert sc.spec.acquisition.channels["search"].spend_per_period.ramp.end == 900


def test_set_list_index():
    sc = load_scenario(SMALL, ["retention.programs.care.target.0=loyal"])
    assert sc.spec.retention.programs["care"].target == ["loyal"]


def test_set_can_add_a_strategy():
    sc = load_scenario(SMALL, ["strategies.short={time.horizon: 3}"])
    assert sc.spec_for("short").time.horizon == 3


def test_set_unknown_path_reports_did_you_mean():
    with pytest.raises(ScenarioError) as exc:
        load_scenario(SMALL, ["time.horizon=24", "retention.programs.car.spend_per_customer=3"])
    assert messages(exc) == ["--set:2:1: retention.programs.car.spend_per_customer: "
                             "no 'car' in retention.programs (did you mean 'care'?)"]


def test_set_unknown_field_reports_did_you_mean():
    with pytest.raises(ScenarioError) as exc:
        load_scenario(SMALL, ["time.horizn=24"])
    assert messages(exc) == ["--set:1:1: time.horizn: unknown field 'horizn' (did you mean 'horizon'?)"]


def test_set_bad_value_is_located_at_the_set_option():
    with pytest.raises(ScenarioError) as exc:
        load_scenario(SMALL, ["time.horizon=-1"])
    assert messages(exc) == ["--set:1:1: time.horizon: Input should be greater than 0, got -1"]


def test_set_without_equals_sign():
    with pytest.raises(ScenarioError) as exc:
        load_scenario(SMALL, ["time.horizon"])
    assert messages(exc) == ["--set:1:1: time.horizon: 'time.horizon' is not of the form dotted.path=value"]


def test_set_problems_and_file_problems_reported_together():
    with pytest.raises(ScenarioError) as exc:
        load_scenario(DATA / "bad_unknown_stage.yaml", ["time.horizn=3"])
    got = messages(exc)
    assert len(got) == 2
    assert got[0].startswith("--set:1:1: time.horizn: unknown field")
    assert got[1].endswith("transitions.new.loyl: unknown stage 'loyl' (did you mean 'loyal'?)")


def test_set_cannot_descend_into_a_number():
    with pytest.raises(ScenarioError) as exc:
        load_scenario(SMALL, ["time.horizon.x=3"])
    assert messages(exc) == ["--set:1:1: time.horizon.x: 'time.horizon' is a value, not a mapping: cannot set 'x'"]


# ------------------------------------------------------------------------ strategies
def test_strategy_overrides_apply_only_to_their_strategy():
    sc = load_scenario(SMALL)
    assert sc.spec.retention.programs["care"].spend_per_customer == 5
    assert sc.spec_for("more_care").retention.programs["care"].spend_per_customer == 10
    assert "strategies" not in sc.resolved["more_care"]


def test_unknown_strategy_name_has_did_you_mean():
    with pytest.raises(KeyError, match="did you mean 'more_care'"):
        load_scenario(SMALL).spec_for("more_cares")


def test_strategy_problem_repeating_a_baseline_problem_is_reported_once():
    # the baseline has an unknown stage; strategy more_care inherits it: one line, not two
    with pytest.raises(ScenarioError) as exc:
        load_scenario(DATA / "bad_unknown_stage.yaml")
    assert len(messages(exc)) == 1


def test_extends_null_drops_an_optional_block_and_strategies_merge_by_name(tree):
    base = tree / "base" / "small.yaml"
    write(base, base.read_text().replace("initial_population:", "heterogeneity: {churn_multiplier: {dist: gamma, cv: 0.5}}\n"
                                         "initial_population:"))
    child = write(tree / "child" / "c.yaml", "extends: ../base/small.yaml\nheterogeneity: null\n"
                  "strategies:\n  more_care: {time.horizon: 6}\n")
    sc = load_scenario(child)
    assert sc.spec.heterogeneity is None
    more = sc.spec_for("more_care")
    assert (more.time.horizon, more.retention.programs["care"].spend_per_customer) == (6, 10)
