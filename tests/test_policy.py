"""Policy files: parsing, selection order, and errors that name the file and the line."""

from __future__ import annotations

import pytest

from initlab.errors import UsageError
from initlab.policy import load_policy, parse_policy, shipped_policy

GOOD = """\
description = "test"

[[rule]]
layer = "Conv2D"
role = "kernel"
initializer = "he_normal"

[[rule]]
layer = "Conv2D"
name = "*_shortcut"
role = "kernel"
initializer = "GlorotUniform"
config = { }
"""


def test_last_matching_rule_wins_and_names_resolve():
    policy = parse_policy(GOOD, "p.toml")
    conv = ("Conv2D", "BaseConv", "Layer")
    assert policy.rule_for(conv, "kernel", "block_conv1").initializer == "HeNormal"
    assert policy.rule_for(conv, "kernel", "model/block_shortcut").initializer == "GlorotUniform"
    assert policy.rule_for(conv, "bias", "block_conv1") is None
    assert policy.rule_for(("Dense", "Layer"), "kernel", "block_conv1") is None
    assert policy.rules[1].lines["rule"] == 8


def test_shipped_policies_parse():
    for name in ("resnet.toml", "rnn.toml"):
        policy = load_policy(shipped_policy(name))
        assert policy.rules and policy.unmatched == "violation"
    with pytest.raises(UsageError, match="ships no policy 'nope.toml'"):
        shipped_policy("nope.toml")


def test_malformed_toml_names_file_and_line(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text('[[rule]]\nlayer = "Conv2D"\ninitializer = he_normal\n')
    with pytest.raises(UsageError, match=r"bad\.toml: malformed TOML: .*line 3"):
        load_policy(path)


def test_unknown_initializer_names_line(tmp_path):
    path = tmp_path / "p.toml"
    path.write_text('[[rule]]\nlayer = "Dense"\n\ninitializer = "he_normall"\n')
    with pytest.raises(UsageError, match=r"p\.toml:4: rule 1: unknown initializer 'he_normall'.*he_normal"):
        load_policy(path)


def test_unknown_layer_type_names_line(tmp_path):
    path = tmp_path / "p.toml"
    path.write_text(GOOD.replace('name = "*_shortcut"', 'name = "*_shortcut"').replace(
        'layer = "Conv2D"\nname', 'layer = "Conv2DD"\nname'))
    with pytest.raises(UsageError, match=r"p\.toml:9: unknown layer type 'Conv2DD' in rule 2; did you mean Conv2D"):
        load_policy(path, layer_types={"Conv2D", "Dense"})


@pytest.mark.parametrize(
    "text, match",
    [
        ('[[rule]]\nrole = "kernal"\ninitializer = "zeros"\n', r":2: rule 1: unknown weight role 'kernal'; did you mean kernel"),
        ('[[rule]]\nlayer = "Dense"\nfoo = 1\ninitializer = "zeros"\n', r":3: rule 1: unknown key 'foo'"),
        ('[[rule]]\nlayer = "Dense"\n', r":1: rule 1: it states no initializer"),
        ('[[rule]]\ninitializer = "zeros"\n', r":1: rule 1: it selects nothing"),
        ('[[rule]]\nrole = "kernel"\ninitializer = "orthogonal"\nconfig = { gian = 1.0 }\n',
         r":4: rule 1: Orthogonal has no argument\(s\) gian"),
        ('unmatched = "maybe"\n[[rule]]\nrole = "bias"\ninitializer = "zeros"\n', r":1: unmatched must be one of"),
        ('description = "x"\n', r"has no \[\[rule\]\] tables"),
        ('rules = 3\n', r":1: unknown key 'rules'"),
    ],
)
def test_semantic_errors_name_the_line(text, match):
    with pytest.raises(UsageError, match=match):
        parse_policy(text, "p.toml")


def test_missing_policy_file(tmp_path):
    with pytest.raises(UsageError, match=r"policy file '.*missing\.toml' does not exist"):
        load_policy(tmp_path / "missing.toml")


def test_config_differences_compare_numbers_by_value():
    rule = parse_policy('[[rule]]\nrole = "recurrent_kernel"\ninitializer = "orthogonal"\nconfig = { gain = 1 }\n').rules[0]
    assert rule.config_differences({"gain": 1.0}) == []
    assert rule.config_differences({"gain": 2.0}) == ["gain=2.0 (intended 1)"]
