"""Every hostile framework in the adversarial corpus is refused at load, with a located message.

The files are ``tests/data/adversarial/framework_*.yaml``: ``*.refused.yaml`` must
raise :class:`perfmodel.framework.FrameworkError` naming the file; the others must
load and keep their (hostile) names as plain text for the report layer to escape.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from perfmodel.errors import PerfmodelError
from perfmodel.framework import FrameworkError, load_framework

CORPUS = Path(__file__).parent / "data" / "adversarial"
REFUSED = sorted(CORPUS.glob("framework_*.refused.yaml"))
ACCEPTED = sorted(p for p in CORPUS.glob("framework_*.yaml") if ".refused." not in p.name)

# what each refusal must say, so a file refused for the wrong reason fails the test
EXPECTED = {
    "framework_billion_laughs": "alias",
    "framework_duplicate_key": "duplicate",
    "framework_path_id": "lowercase",
    "framework_absolute_path_id": "lowercase",
    "framework_inverted_range": "range",
    "framework_nan_goalposts": "goalposts",
    "framework_infinite_difficulty": "finite",
    "framework_negative_difficulty": "greater than 0",
    "framework_geometric_floor_outside_range": "geometric_floor",
}


def test_the_corpus_has_every_framework_attack():
    assert {p.name.split(".")[0] for p in REFUSED} == set(EXPECTED)


@pytest.mark.parametrize("path", REFUSED, ids=lambda p: p.name)
def test_hostile_framework_is_refused_with_the_reason(path: Path):
    with pytest.raises(FrameworkError) as caught:
        load_framework(path)
    message = str(caught.value)
    assert isinstance(caught.value, PerfmodelError)
    assert path.name in message or str(path) in message
    assert EXPECTED[path.name.split(".")[0]].casefold() in message.casefold(), message


@pytest.mark.parametrize("path", ACCEPTED, ids=lambda p: p.name)
def test_hostile_names_load_as_plain_text(path: Path):
    framework = load_framework(path)
    assert framework.name.zh == "<script>alert(1)</script>"
    assert framework.tree[0].name.zh == "[x](javascript:alert(1))"
