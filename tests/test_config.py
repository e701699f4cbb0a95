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
