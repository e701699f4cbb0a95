"""assignment.toml parsing: defaults, errors that name the file, the public part."""

from __future__ import annotations

from pathlib import Path

import pytest

from autograder.core.config import RULE_IDS, ConfigError, load_config, parse_config, public_part

MINIMAL = {"assignment": {"name": "X1", "notebooks": ["x.ipynb"]}}


def test_minimal_config_gets_documented_defaults() -> None:
    cfg = parse_config(MINIMAL)
    assert cfg.name == "X1"
    assert cfg.required_files == ("x.ipynb",)
    assert cfg.allowed_imports == ("numpy", "math", "time")
    assert cfg.dataset == "digits"
    assert cfg.max_score == 0.0


def test_rule_policy_defaults_to_free_warning_and_rejects_unknown_ids() -> None:
    cfg = parse_config({**MINIMAL, "rules": {"cell-added": {"deduction": 2, "cap": 4}}})
    assert cfg.rule("cell-added").deduction == 2.0
    assert cfg.rule("cell-added").severity == "error"
    assert cfg.rule("cell-deleted").severity == "warning"
    with pytest.raises(KeyError):
        cfg.rule("no-such-rule")
    with pytest.raises(ConfigError, match="unknown rule id"):
        parse_config({**MINIMAL, "rules": {"made-up": {}}})


def test_points_and_models_are_parsed() -> None:
    cfg = parse_config({
        **MINIMAL,
        "tests": {"a": 3, "b": 2},
        "manual": {"q1": 1},
        "models": {"m": {"file": "m.npz", "predict": "p", "keys": {"W": ["D", "C"]},
                         "bands": {"digits": {"floor": 0.5, "full": 0.9}}}},
    })
    assert cfg.max_score == 6.0
    assert cfg.models["m"].bands["digits"] == (0.5, 0.9)
    assert cfg.models["m"].keys["W"] == ("D", "C")


def test_missing_key_and_bad_toml_name_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "assignment.toml"
    bad.write_text("[assignment\n")
    with pytest.raises(ConfigError, match=str(bad)):
        load_config(bad)
    bad.write_text("[assignment]\nname = 'X'\n")
    with pytest.raises(ConfigError, match="notebooks"):
        load_config(bad)
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "missing.toml")


def test_public_part_drops_private_only() -> None:
    data = {**MINIMAL, "private": {"seed": 1}, "tests": {"a": 1}}
    assert public_part(data) == {**MINIMAL, "tests": {"a": 1}}


def test_rule_ids_are_twenty_distinct_in_pipeline_order() -> None:
    assert len(RULE_IDS) == len(set(RULE_IDS)) == 20
    assert RULE_IDS[0] == "zip-structure" and RULE_IDS[-1] == "sandbox-violation"


# --- the declared schema ------------------------------------------------------------------------

REPO = Path(__file__).resolve().parent.parent


def _problem(data: dict, tmp_path: Path) -> str:
    """The ConfigError message of `data` written as an assignment.toml and loaded."""
    import tomli_w

    path = tmp_path / "assignment.toml"
    path.write_text(tomli_w.dumps(data), encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    return str(info.value)


def test_misspelled_key_names_the_key_the_file_and_the_likely_spelling(tmp_path: Path) -> None:
    message = _problem({**MINIMAL, "policy": {"alowed_imports": ["numpy"]}}, tmp_path)
    assert message == (f"{tmp_path / 'assignment.toml'}: unknown key 'alowed_imports' in [policy] "
                       "(did you mean 'allowed_imports'?)")


def test_misspelled_table_at_the_top_level_is_an_error(tmp_path: Path) -> None:
    message = _problem({**MINIMAL, "polcy": {"loop_free": ["f"]}}, tmp_path)
    assert "unknown key 'polcy' at the top level (did you mean 'policy'?)" in message


def test_misspelled_key_in_a_nested_table_is_an_error(tmp_path: Path) -> None:
    model = {"file": "m.npz", "predict": "p", "keys": {"W": ["D"]},
             "bands": {"digits": {"floor": 0.5, "full": 0.9}}, "bais_trick": False}
    message = _problem({**MINIMAL, "models": {"m": model}}, tmp_path)
    assert "unknown key 'bais_trick' in [models.m] (did you mean 'bias_trick'?)" in message


def test_misspelled_limit_is_an_error_not_the_default(tmp_path: Path) -> None:
    message = _problem({**MINIMAL, "limits": {"memory": 512}}, tmp_path)
    assert "unknown key 'memory' in [limits] (did you mean 'memory_mb'?)" in message


def test_misspelled_rule_id_suggests_the_real_one(tmp_path: Path) -> None:
    message = _problem({**MINIMAL, "rules": {"cell-addded": {"deduction": 1.0}}}, tmp_path)
    assert "unknown rule id 'cell-addded' in [rules] (did you mean 'cell-added'?)" in message


def test_wrong_type_names_the_key_and_what_it_must_be(tmp_path: Path) -> None:
    message = _problem({**MINIMAL, "policy": {"allowed_imports": "numpy"}}, tmp_path)
    assert message.endswith('policy.allowed_imports must be a list, not "numpy"')


def test_wrong_type_inside_a_list_names_the_item(tmp_path: Path) -> None:
    message = _problem({**MINIMAL, "policy": {"loop_free": ["f", 3]}}, tmp_path)
    assert message.endswith("policy.loop_free[1] must be a string, not 3")


def test_points_must_be_numbers_not_booleans(tmp_path: Path) -> None:
    message = _problem({**MINIMAL, "tests": {"a": True}}, tmp_path)
    assert message.endswith("tests.a must be a number, not true")


def test_severity_outside_its_two_values_is_an_error(tmp_path: Path) -> None:
    message = _problem({**MINIMAL, "rules": {"cell-added": {"severity": "fatal"}}}, tmp_path)
    assert 'rules.cell-added.severity must be one of "error", "warning", not "fatal"' in message


def test_every_problem_is_listed_one_per_line_naming_the_file(tmp_path: Path) -> None:
    message = _problem({**MINIMAL, "policy": {"alowed_imports": []},
                        "deductions": {"total_cap": -1}}, tmp_path)
    lines = message.splitlines()
    assert len(lines) == 2
    assert all(line.startswith(f"{tmp_path / 'assignment.toml'}: ") for line in lines)


def test_private_table_takes_the_authors_own_keys() -> None:
    cfg = parse_config({**MINIMAL, "private": {"seed": 3, "answer_key": "x"}})
    assert cfg.private == {"seed": 3, "answer_key": "x"}


def test_find_config_names_the_file_relative_to_the_course(tmp_path: Path) -> None:
    from autograder.core.config import find_config

    folder = tmp_path / "assignments" / "X1"
    folder.mkdir(parents=True)
    (folder / "assignment.toml").write_text(
        '[assignment]\nname = "X1"\nnotebooks = ["x.ipynb"]\nmodle = 1\n', encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        find_config("X1", tmp_path)
    assert str(info.value).startswith("assignments/X1/assignment.toml: unknown key 'modle'")
    assert str(tmp_path) not in str(info.value)


@pytest.mark.parametrize("path", sorted(
    str(p.relative_to(REPO)) for pattern in ("solutions/*/assignment.toml",
                                             "assignments/*/assignment.toml",
                                             "tests/fixtures/**/assignment.toml")
    for p in REPO.glob(pattern)))
def test_every_assignment_toml_of_the_repository_validates(path: str) -> None:
    assert load_config(REPO / path).name == Path(path).parent.name


def test_the_scaffolded_assignment_toml_validates(tmp_path: Path) -> None:
    from autograder.authoring.scaffold import scaffold

    folder = scaffold("Z9", course=tmp_path)
    assert load_config(folder / "assignment.toml").name == "Z9"


def test_the_schema_is_a_valid_draft_2020_12_schema() -> None:
    from jsonschema import Draft202012Validator

    from autograder.core.config import ASSIGNMENT_SCHEMA

    Draft202012Validator.check_schema(ASSIGNMENT_SCHEMA)


def test_the_schema_declares_exactly_the_sandbox_limits() -> None:
    from dataclasses import fields

    from autograder.core.config_schema import LIMIT_KEYS
    from autograder.grading.sandbox import Limits

    assert set(LIMIT_KEYS) == {f.name for f in fields(Limits)}


def test_misspelled_dataset_name_in_a_band_suggests_the_known_one(tmp_path: Path) -> None:
    model = {"file": "m.npz", "predict": "p", "keys": {"W": ["D"]},
             "bands": {"cifar": {"floor": 0.3, "full": 0.4}}}
    message = _problem({**MINIMAL, "models": {"m": model}}, tmp_path)
    assert message.endswith("unknown dataset 'cifar' in models.m.bands (did you mean 'cifar10'?)")


def test_unknown_dataset_of_the_assignment_lists_the_known_ones(tmp_path: Path) -> None:
    message = _problem({"assignment": {**MINIMAL["assignment"], "dataset": "mnist"}}, tmp_path)
    assert message.endswith("unknown dataset 'mnist' in assignment.dataset (known: digits, cifar10)")


def test_a_models_requires_stays_out_of_the_students_copy() -> None:
    """`requires` names hidden tests: the released assignment.toml (and so the bundle) leaves
    it out; the bands and the rest of the model's table stay."""
    from autograder.core.config import public_part

    data = {"models": {"best": {"file": "m.npz", "requires": ["secret_test_name"]}},
            "private": {"answer_key": 1}}
    assert public_part(data) == {"models": {"best": {"file": "m.npz"}}}
    assert data["models"]["best"]["requires"] == ["secret_test_name"]  # the source is untouched
