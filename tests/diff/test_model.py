"""The diff model's closed vocabularies: every section and operation is an enum member the writers know."""

from __future__ import annotations

import pytest

from agentiam.diff.model import SYSTEM_ORDER, Change, Direction, Op, System
from agentiam.render.diff_common import SYSTEM_TITLE, VOCABULARY


def test_a_change_refuses_a_section_or_operation_outside_the_enums():
    with pytest.raises(ValueError, match="'iam'"):
        Change("iam", Op.ADDED, "s3:GetObject", Direction.WIDER)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="'granted'"):
        Change(System.AWS, "granted", "s3:GetObject", Direction.WIDER)  # type: ignore[arg-type]


def test_a_string_naming_a_member_becomes_the_member():
    change = Change("aws", "added", "s3:GetObject", Direction.WIDER)  # type: ignore[arg-type]
    assert change.system is System.AWS and change.op is Op.ADDED


def test_every_section_has_a_title_and_an_order_and_every_operation_a_word():
    assert set(SYSTEM_TITLE) == set(System) == set(SYSTEM_ORDER)
    assert all(op in VOCABULARY for op in Op)
