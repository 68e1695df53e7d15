"""The message catalogue: complete in both languages, and every key the package asks for exists."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from perfmodel import text
from perfmodel.text import LANGS, MessageError, catalogue, say

PACKAGE = Path(text.__file__).parent


def test_every_message_has_both_languages_with_the_same_placeholders():
    assert catalogue(), "the catalogue is empty"
    for key, message in catalogue().items():
        for lang in LANGS:
            assert getattr(message, lang).strip(), f"{key}: empty {lang} text"
        assert message.placeholders("zh") == message.placeholders("en"), key


def _literal_keys(
    functions: frozenset[str] = frozenset({"say", "say_md", "has_message", "template"}),
) -> dict[str, str]:
    """Every ``say("literal", …)`` / ``has_message("literal")`` … key in the package → where it is."""
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Call)
                and getattr(node.func, "id", getattr(node.func, "attr", None)) in functions
                and node.args
                and isinstance(node.args[0], ast.Constant)
                and isinstance(node.args[0].value, str)
            ):
                found[node.args[0].value] = f"{path.relative_to(PACKAGE.parent)}:{node.lineno}"
    return found


def test_every_literal_key_the_package_uses_is_in_the_catalogue():
    missing = {key: where for key, where in _literal_keys().items() if key not in catalogue()}
    assert not missing, f"keys asked for but not in messages.toml: {missing}"


def test_every_literal_section_the_package_uses_has_messages():
    sections = _literal_keys(frozenset({"templates"}))
    assert sections, "no templates(section) call found: the scan is broken"
    empty = {s: where for s, where in sections.items() if not any(k.startswith(f"{s}.") for k in catalogue())}
    assert not empty, f"sections asked for but empty in messages.toml: {empty}"


def test_say_fills_the_template_in_each_language():
    assert say("lang.name", "zh") == "中文"
    assert say("lang.name", "en") == "English"


def test_unknown_key_and_missing_value_are_named():
    with pytest.raises(MessageError, match="no message 'lang.nope'.*lang.name"):
        say("lang.nope", "en")
    entry = next((k for k, m in catalogue().items() if m.placeholders("en")), None)
    if entry is not None:
        with pytest.raises(MessageError, match="needs"):
            say(entry, "en")


def test_a_language_outside_the_catalogue_is_refused():
    with pytest.raises(ValueError, match="lang='fr'"):
        say("lang.name", "fr")


@given(st.text(min_size=1, max_size=30))
def test_a_value_is_inserted_verbatim_never_re_formatted(value):
    keys = [k for k, m in catalogue().items() if len(m.placeholders("zh")) == 1]
    if not keys:
        pytest.skip("no one-placeholder message yet")
    key = keys[0]
    (name,) = catalogue()[key].placeholders("zh")
    template = catalogue()[key].zh
    if "{" + name + "}" not in template:  # a format spec would reject text values
        pytest.skip("the first one-placeholder message has a format spec")
    assert value in say(key, "zh", **{name: value})
