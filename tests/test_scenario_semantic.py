"""Validation that teaches: one bad fixture per check, exact ``file:line:col: path: message``.

Every fixture in ``tests/data/bad_*.yaml`` is ``tests/data/small.yaml`` with one mistake
(``bad_many_problems.yaml`` has three). The expected line and column are those of the key
the user has to fix, read off the fixture by hand.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from clmsim.scenario import ScenarioError, load_scenario

DATA = Path(__file__).parent / "data"

# fixture, line, column, dotted path, message
CASES = [
    ('active_without_revenue', 11, 3, 'stages.loyal', "active stage 'loyal' needs 'revenue' (per customer per period)"),
    ('bad_name', 14, 3, 'stages.a.b', "name 'a.b' may not be empty, contain '.' or '=', or start with a space"),
    ('baseline_with_overrides', 42, 3, 'strategies.baseline', "'baseline' is the scenario as written and takes no overrides"),
    ('beta_without_churn', 20, 3, 'heterogeneity.churn_probability', "active stage 'loyal' has no churn transition for the per-customer churn probability to split over"),
    ('bool_number', 6, 3, 'time.horizon', 'expected a number, got true'),
    ('coverage_gt_1', 37, 7, 'winback.policies.call.coverage', 'coverage is a share of eligible customers, got 1.5 > 1'),
    ('coverage_schedule_gt_1', 37, 7, 'winback.policies.call.coverage', 'coverage is a share of eligible customers: every value must be <= 1'),
    ('duplicate_key', 12, 3, 'stages.new', "duplicate key 'new' (first defined at line 10)"),
    ('economics_on_churned', 12, 3, 'stages.churned', "stage 'churned' is of kind churned: economics apply to active stages only"),
    ('heterogeneity_both', 19, 1, 'heterogeneity', 'give one of churn_multiplier or churn_probability, not both'),
    ('horizon_zero', 6, 3, 'time.horizon', 'Input should be greater than 0, got 0'),
    ('lost_initial_population', 19, 44, 'initial_population.lost', 'customers in a lost stage never count: leave them out'),
    ('lost_transitions', 19, 3, 'transitions.lost', "stage 'lost' is of kind lost, which is absorbing: it cannot have transitions"),
    ('many_problems', 6, 3, 'time.horizon', 'Input should be greater than 0, got 0'),
    ('many_problems', 16, 9, 'transitions.new.loyl', "unknown stage 'loyl' (did you mean 'loyal'?)"),
    ('many_problems', 43, 15, 'strategies.more_care.retention.programs.car.spend_per_customer', "no 'car' in retention.programs (did you mean 'care'?)"),
    ('misspelled_field', 10, 66, 'stages.new.cost_to_serv', "unknown field 'cost_to_serv' (did you mean 'cost_to_serve'?)"),
    ('misspelled_field_named', 38, 7, 'winback.policies.call.contact_cots', "unknown field 'contact_cots' (did you mean 'contact_cost'?)"),
    ('negative_cost', 38, 7, 'winback.policies.call.contact_cost', 'Input should be greater than or equal to 0, got -3'),
    ('negative_cost_to_serve', 10, 66, 'stages.new.cost_to_serve', 'Input should be greater than or equal to 0, got -2'),
    ('negative_spend', 23, 7, 'acquisition.channels.search.spend_per_period', 'Input should be greater than or equal to 0, got -1000'),
    ('probability_gt_1', 15, 14, 'transitions.prospect.new', 'Input should be less than or equal to 1, got 1.2'),
    ('row_sum', 16, 3, 'transitions.new', 'transition probabilities sum to 1.1 > 1'),
    ('schedule_both', 23, 7, 'acquisition.channels.search.spend_per_period', "a schedule gives exactly one of 'values' or 'ramp'"),
    ('schema_version_2', 2, 1, 'schema_version', 'this clmsim reads schema_version 1, the file says 2'),
    ('segment_mix_sum', 29, 7, 'acquisition.channels.search.segment_mix', 'segment shares sum to 0.9, not 1'),
    ('segment_population_partial', 19, 1, 'segments', 'when one segment gives initial_population, every segment must'),
    ('segment_row_sum', 20, 33, 'segments.a.transitions.new', 'transition probabilities sum to 1.04 > 1'),
    ('segment_shares', 19, 1, 'segments', 'segment shares sum to 1.1, not 1'),
    ('segment_unknown_stage', 20, 41, 'segments.a.transitions.loyal.chruned', "unknown stage 'chruned' (did you mean 'churned'?)"),
    ('self_transition', 16, 9, 'transitions.new.new', 'a row lists moves only; staying is 1 minus the row sum'),
    ('strategy_bad_reference', 43, 15, 'strategies.more_care.winback.policies.call.return_stage', "unknown stage 'loyl' (did you mean 'loyal'?)"),
    ('strategy_bad_value', 43, 15, 'strategies.more_care.retention.programs.care.spend_per_customer', 'Input should be greater than or equal to 0, got -10'),
    ('strategy_misspelled_field', 43, 15, 'strategies.more_care.retention.programs.care.spend_per_custmer', "unknown field 'spend_per_custmer' (did you mean 'spend_per_customer'?)"),
    ('strategy_unknown_path', 43, 15, 'strategies.more_care.retention.programs.car.spend_per_customer', "no 'car' in retention.programs (did you mean 'care'?)"),
    ('unknown_kind', 11, 11, 'stages.loyal.kind', "Input should be 'prospect', 'active', 'churned' or 'lost', got 'activ'"),
    ('unknown_return_stage', 40, 7, 'winback.policies.call.return_stage', "unknown stage 'neww' (did you mean 'new'?)"),
    ('unknown_segment_mix', 26, 21, 'acquisition.channels.search.segment_mix.vip', "segment 'vip' named but the scenario defines no segments"),
    ('unknown_stage', 16, 9, 'transitions.new.loyl', "unknown stage 'loyl' (did you mean 'loyal'?)"),
    ('unsafe_tag', 6, 12, 'time.horizon', "YAML tag 'tag:yaml.org,2002:python/object/apply:os.system' is not allowed: a scenario is plain data"),
    ('winback_claimed_twice', 41, 5, 'winback.policies.call2.from_stages', "churned stage 'churned' is already served by policy 'call'"),
    ('wrong_kind_entry', 25, 7, 'acquisition.channels.search.entry_stage', "stage 'churned' is of kind churned; expected prospect or active"),
    ('wrong_kind_referral', 26, 22, 'acquisition.referrals.from.prospect', "stage 'prospect' is of kind prospect; expected active"),
    ('wrong_kind_return', 40, 7, 'winback.policies.call.return_stage', "stage 'lost' is of kind lost; expected active"),
    ('wrong_kind_target', 30, 16, 'retention.programs.care.target.0', "stage 'churned' is of kind churned; expected active"),
    ('wrong_kind_upgrade', 32, 100, 'retention.programs.care.effect.upgrade_to.0', "stage 'churned' is of kind churned; expected active"),
    ('no_active_stage', 8, 1, 'stages', 'the scenario needs at least one stage of kind active'),
    ('unknown_source_row', 18, 3, 'transitions.nwe', "unknown stage 'nwe' (did you mean 'new'?)"),
    ('unknown_segment_mix_hint', 29, 21, 'acquisition.channels.search.segment_mix.hihg', "unknown segment 'hihg' (did you mean 'high'?)"),
    ('initial_unknown_stage', 19, 32, 'initial_population.loyl', "unknown stage 'loyl' (did you mean 'loyal'?)"),
    ('population_both', 22, 1, 'initial_population', 'give the initial population either here or in every segment, not both'),
    ('segment_stage_override_kind', 20, 28, 'segments.a.stages.churned', "stage 'churned' is of kind churned; expected active"),
    ('referral_entry_kind', 26, 36, 'acquisition.referrals.entry_stage', "stage 'churned' is of kind churned; expected prospect or active"),
    ('winback_without_churned_stage', 33, 5, 'winback.policies.call', 'win-back needs a stage of kind churned to draw from'),
    ('budget_cap_schedule', 33, 7, 'retention.programs.care.budget_cap_per_period', "a schedule gives exactly one of 'values' or 'ramp'"),
]


def _problems(name: str) -> tuple[str, list[str]]:
    path = str(DATA / f"bad_{name}.yaml")
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    return path, [str(d) for d in info.value.diagnostics]


def test_small_fixture_is_valid():
    sc = load_scenario(DATA / "small.yaml")
    assert sc.strategy_names == ("baseline", "more_care")


@pytest.mark.parametrize("name, line, col, path, message", CASES, ids=[f"{c[0]}:{c[3]}" for c in CASES])
def test_bad_fixture_reports_exact_location_and_path(name, line, col, path, message):
    file, problems = _problems(name)
    assert f"{file}:{line}:{col}: {path}: {message}" in problems


@pytest.mark.parametrize("name", sorted({c[0] for c in CASES} - {"many_problems"}))
def test_each_single_mistake_fixture_reports_exactly_one_problem(name):
    # no spurious follow-on errors: one mistake, one line of output
    _, problems = _problems(name)
    assert len(problems) == 1, problems


def test_every_fixture_is_covered_by_a_case():
    fixtures = {p.stem.removeprefix("bad_") for p in DATA.glob("bad_*.yaml")}
    assert fixtures == {c[0] for c in CASES}


def test_schema_semantic_and_strategy_problems_reported_in_one_pass():
    # horizon 0 (schema), an unknown stage (semantic), an unknown override path (strategy)
    _, problems = _problems("many_problems")
    assert len(problems) == 3
    assert [p.split(": ")[1] for p in problems] == [
        "time.horizon", "transitions.new.loyl", "strategies.more_care.retention.programs.car.spend_per_customer"]
