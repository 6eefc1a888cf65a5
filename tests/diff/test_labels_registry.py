"""Risk labels live in one registry: the table of docs/risk-labels.md is generated from it (tests/test_docs.py),
and every label the diff attaches is a registered kind with a registered severity."""

from __future__ import annotations

import pytest

from agentiam.diff import risk
from agentiam.diff.model import SEVERITY_ORDER
from agentiam.errors import InternalError


def test_every_kind_is_documented_with_known_severities_and_a_unique_id() -> None:
    ids = [kind.id for kind in risk.LABELS]
    assert len(ids) == len(set(ids)) and ids == sorted(ids)
    for kind in risk.LABELS:
        assert kind.when and kind.rationale and set(kind.severities) <= set(SEVERITY_ORDER)
        assert list(kind.severities) == sorted(kind.severities, key=SEVERITY_ORDER.index)
    registered = {name for name, value in vars(risk).items() if isinstance(value, risk.LabelKind)}
    assert {getattr(risk, name) for name in registered} == set(risk.LABELS)  # none defined but left unregistered


def test_a_label_with_a_severity_its_kind_does_not_list_is_a_bug() -> None:
    with pytest.raises(InternalError, match="cannot be 'low'"):
        risk.REMOTE_EXECUTION.label("low", "x")
