"""``clmsim validate``, ``clmsim schema``, ``--version``: exit codes and output."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from clmsim import __version__
from clmsim.cli import main
from clmsim.scenario import load_scenario

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data"
SCENARIOS = sorted((ROOT / "scenarios").glob("*.yaml"))


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_validate_valid_file_exits_0(capsys):
    code, out, err = run(capsys, "validate", str(DATA / "small.yaml"))
    assert code == 0 and err == ""
    assert out.rstrip().endswith("valid")
    assert "strategies: baseline, more_care" in out


def test_validate_bad_file_exits_2_with_located_lines(capsys):
    path = str(DATA / "bad_many_problems.yaml")
    code, out, err = run(capsys, "validate", path)
    assert code == 2 and out == ""
    lines = err.splitlines()
    assert lines[-1] == "3 problems found"
    assert all(line.startswith(f"{path}:") for line in lines[:-1])
    assert "Traceback" not in err


def test_validate_missing_file_exits_2(capsys, tmp_path):
    code, _, err = run(capsys, "validate", str(tmp_path / "nope.yaml"))
    assert code == 2
    assert err.splitlines()[0] == f"{tmp_path / 'nope.yaml'}:1:1: file not found"


def test_validate_set_option(capsys):
    code, out, _ = run(capsys, "validate", str(DATA / "small.yaml"), "--set", "time.horizon=24",
                       "--set", "time.period=quarter")
    assert code == 0
    assert "time: 24 quarters" in out


def test_validate_set_unknown_path_exits_2(capsys):
    code, _, err = run(capsys, "validate", str(DATA / "small.yaml"), "--set", "retention.programs.car.spend_per_customer=1")
    assert code == 2
    assert err.splitlines()[0] == ("--set:1:1: retention.programs.car.spend_per_customer: "
                                   "no 'car' in retention.programs (did you mean 'care'?)")


def test_print_resolved_shows_strategies_applied(capsys):
    code, out, _ = run(capsys, "validate", str(ROOT / "scenarios" / "telecom.yaml"), "--print-resolved")
    assert code == 0
    sections = {}
    for block in out.split("# --- strategy: ")[1:]:
        name, body = block.split("\n", 1)
        sections[name] = body
    assert list(sections)[:2] == ["baseline", "no_save_desk"]
    assert set(load_scenario(ROOT / "scenarios" / "telecom.yaml").strategy_names) == set(sections)

    def save_desk_spend(body: str) -> str:
        tail = body.split("save_desk:", 1)[1]
        return tail.split("spend_per_customer:", 1)[1].split()[0]

    assert save_desk_spend(sections["baseline"]) == "10"
    assert save_desk_spend(sections["no_save_desk"]) == "0"
    assert save_desk_spend(sections["save_desk_x2"]) == "20"
    assert "search:\n      spend_per_period: 250000" in sections["shift_to_retention"]
    assert "strategies:" not in out.split("# --- strategy: ")[1]


# ------------------------------------------------------------------------ unsafe YAML
def test_unsafe_yaml_is_refused_and_nothing_runs(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    bad = tmp_path / "evil.yaml"
    bad.write_text((DATA / "small.yaml").read_text().replace(
        "horizon: 12", "horizon: !!python/object/apply:os.system ['echo pwned > pwned.txt']"))
    code, out, err = run(capsys, "validate", str(bad))
    assert code == 2
    assert f"{bad}:6:12: time.horizon: YAML tag 'tag:yaml.org,2002:python/object/apply:os.system' is not allowed" in err
    assert not (tmp_path / "pwned.txt").exists()


@pytest.mark.parametrize("tag", ["!!python/object/apply:os.system ['echo pwned > pwned.txt']",
                                 "!!python/name:os.system", "!!binary aGk=", "2024-01-01", "!custom 3"])
def test_non_data_yaml_is_refused(capsys, tmp_path, monkeypatch, tag):
    monkeypatch.chdir(tmp_path)
    bad = tmp_path / "evil.yaml"
    bad.write_text((DATA / "small.yaml").read_text().replace("name: small", f"name: {tag}"))
    code, _, err = run(capsys, "validate", str(bad))
    assert code == 2
    assert f"{bad}:3:7: name: YAML tag" in err
    assert not (tmp_path / "pwned.txt").exists()


def test_unsafe_yaml_via_subprocess_exit_2_no_traceback(tmp_path):
    bad = tmp_path / "evil.yaml"
    bad.write_text((DATA / "small.yaml").read_text().replace(
        "horizon: 12", "horizon: !!python/object/apply:os.system ['echo pwned > pwned.txt']"))
    proc = subprocess.run([sys.executable, "-m", "clmsim", "validate", str(bad)], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr and "not allowed" in proc.stderr
    assert not (tmp_path / "pwned.txt").exists()


# ------------------------------------------------------------------------------ Unicode
def test_chinese_scenario_end_to_end(capsys):
    code, out, _ = run(capsys, "validate", str(ROOT / "scenarios" / "textbook_zh.yaml"), "--print-resolved")
    assert code == 0
    for word in ("考察期", "形成期", "稳定期", "退化期", "早期流产型", "# --- strategy: 发展投入加倍"):
        assert word in out
    assert "关系发展计划:\n" in out   # keys kept as Unicode, not escaped


def test_chinese_stage_typo_gets_did_you_mean(capsys, tmp_path):
    bad = tmp_path / "坏.yaml"
    bad.write_text((ROOT / "scenarios" / "textbook_zh.yaml").read_text(encoding="utf-8").replace(
        "考察期: {形成期: 0.40", "考察期: {形成: 0.40"), encoding="utf-8")
    code, _, err = run(capsys, "validate", str(bad))
    assert code == 2
    assert f"{bad}:34:9: transitions.考察期.形成: unknown stage '形成' (did you mean '形成期'?)" in err


# ------------------------------------------------------------------------ JSON Schema
@pytest.fixture(scope="module")
def schema() -> dict:
    import io
    from contextlib import redirect_stdout

    buf = io.StringIO()
    with redirect_stdout(buf):
        assert main(["schema"]) == 0
    return json.loads(buf.getvalue())


def test_schema_is_valid_json_schema(schema):
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert {"schema_version", "time", "stages", "extends", "strategies"} <= set(schema["properties"])


@pytest.mark.parametrize("path", SCENARIOS + [DATA / "small.yaml"], ids=lambda p: p.name)
def test_schema_accepts_bundled_scenarios(schema, path):
    data = load_scenario(path).data
    jsonschema.Draft202012Validator(schema).validate(data)


@pytest.mark.parametrize("name", ["misspelled_field", "negative_spend", "unknown_kind", "horizon_zero"])
def test_schema_rejects_what_validate_rejects_at_field_level(schema, name):
    import yaml

    data = yaml.safe_load((DATA / f"bad_{name}.yaml").read_text())
    assert list(jsonschema.Draft202012Validator(schema).iter_errors(data))


# --------------------------------------------------------------------------- version
def test_python_m_clmsim_version():
    proc = subprocess.run([sys.executable, "-m", "clmsim", "--version"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0
    assert proc.stdout.strip() == f"clmsim {__version__}"


def test_no_command_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exc:
        main([])
    assert exc.value.code == 2


def test_unknown_stage_in_base_row_is_not_repeated_for_each_segment(capsys):
    # textbook_zh segments merge their rows over the base rows: the typo is reported once
    path = ROOT / "scenarios" / "textbook_zh.yaml"
    code, _, err = run(capsys, "validate", str(path), "--set", "transitions.考察期.形成=0.4")
    assert code == 2
    assert err.splitlines() == ["--set:1:1: transitions.考察期.形成: unknown stage '形成' (did you mean '形成期'?)",
                                "1 problem found"]


# ------------------------------------------------------------------------- YAML aliases
def test_plain_alias_reuse_is_data(capsys, tmp_path):
    good = tmp_path / "alias.yaml"
    good.write_text((DATA / "small.yaml").read_text().replace(
        "revenue: {mean: 40, cv: 0.2}", "revenue: &rev {mean: 40, cv: 0.2}").replace(
        "loyal: {kind: active, revenue: 60,", "loyal: {kind: active, revenue: *rev,"))
    code, _, _ = run(capsys, "validate", str(good))
    assert code == 0
    assert load_scenario(good).spec.stages["loyal"].revenue.mean == 40


def test_recursive_alias_is_refused(capsys, tmp_path):
    bad = tmp_path / "rec.yaml"
    bad.write_text("schema_version: 1\nname: &a [*a]\n")
    code, _, err = run(capsys, "validate", str(bad))
    assert code == 2
    assert err.splitlines()[0] == f"{bad}:2:7: name.0: recursive YAML alias: a value may not contain itself"


def test_alias_bomb_is_refused_quickly(capsys, tmp_path):
    lines = ["schema_version: 1", "a0: &a0 [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]"]
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, 9)]
    bad = tmp_path / "bomb.yaml"
    bad.write_text("\n".join(lines) + "\n")
    code, _, err = run(capsys, "validate", str(bad))
    assert code == 2
    assert err.splitlines()[0].startswith(f"{bad}:1:1: the file expands to more than 200,000 values")


def test_deep_nesting_is_a_clean_error(capsys, tmp_path):
    bad = tmp_path / "deep.yaml"
    bad.write_text("schema_version: 1\nname: " + "[" * 1200 + "]" * 1200 + "\n")
    code, _, err = run(capsys, "validate", str(bad))
    assert code == 2
    assert err.splitlines()[0] == f"{bad}:1:1: YAML nested too deeply"


def test_validate_summary_lists_segment_overrides(capsys):
    code, out, _ = run(capsys, "validate", str(ROOT / "scenarios" / "ecommerce.yaml"))
    assert code == 0
    seg = out.split("segments (share of new customers; what each changes):\n", 1)[1].split("acquisition", 1)[0]
    assert "at_risk       35%" in seg
    assert "regular -> vip 0.01, dormant 0.15" in seg
    assert "regular: revenue 60 (cv 0.9), margin 0.22" in seg


def test_schema_lets_a_file_that_extends_leave_required_fields_to_its_base(schema):
    validator = jsonschema.Draft202012Validator(schema)
    validator.validate({"extends": "telecom.yaml", "name": "telecom-3y", "time": {"horizon": 36}})
    missing = [e.message for e in validator.iter_errors({"name": "alone"})]
    assert any("'time' is a required property" in m for m in missing)
