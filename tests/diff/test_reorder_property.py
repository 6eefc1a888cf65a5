"""Property: permuting the items of any list in a spec never changes the diff (natural keys, not positions)."""

from __future__ import annotations

import dataclasses
import random
from typing import Any

import yaml
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from agentiam.diff.model import DiffReport
from agentiam.spec.source import parse_spec_bytes
from tests.diff.conftest import INVOICE, PAYMENT, SpecRepo


def permuted(data: Any, rng: random.Random) -> Any:
    """The same document with every list (and every list inside it) shuffled."""
    if isinstance(data, dict):
        return {key: permuted(value, rng) for key, value in data.items()}
    if isinstance(data, list):
        items = [permuted(item, rng) for item in data]
        rng.shuffle(items)
        return items
    return data


def comparable(report: DiffReport) -> list[tuple]:
    """The diff without spec line numbers (which move when lists are reordered)."""
    return [(a.environment, a.agent, a.kind, a.verdict,
             tuple(dataclasses.replace(c, line=None, column=None) for c in a.changes)) for a in report.agents]


def changed_head(repo: SpecRepo) -> None:
    """A working-tree change that widens both specs, so there is a real diff to keep stable (applied once:
    hypothesis runs every example on the same repository)."""
    if "s3:Get*" in repo.read(INVOICE):
        return
    repo.edit(INVOICE, "actions: [s3:GetObject, s3:ListBucket]", "actions: [s3:GetObject, s3:ListBucket, s3:Get*]")
    repo.edit(PAYMENT, "      capabilities: [read]\n", "      capabilities: [read]\n"
              "    - path: billing/{agent}/webhooks/*\n      capabilities: [read, list]\n")
    repo.edit(PAYMENT, "      purpose: create and confirm payouts\n",
              "      purpose: create and confirm payouts\n    - host: hooks.slack.com\n"
              "      purpose: post payout summaries\n")


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(min_value=0, max_value=2**32 - 1))
def test_permuting_spec_lists_never_changes_the_diff(spec_repo: SpecRepo, seed: int) -> None:
    changed_head(spec_repo)
    expected = comparable(spec_repo.diff("base", None))
    rng = random.Random(seed)
    originals, shuffled, reordered = {}, {}, []
    for path in (INVOICE, PAYMENT):
        originals[path] = spec_repo.read(path)
        document, problems = parse_spec_bytes(path, originals[path].encode())
        assert document is not None, problems
        shuffled[path] = permuted(document.data, rng)
        reordered.append(shuffled[path] != document.data)
    # A seed whose every shuffle is the identity would check nothing: hypothesis draws another.
    assume(any(reordered))
    for path, data in shuffled.items():
        spec_repo.write(path, yaml.safe_dump(data, sort_keys=False))
    try:
        assert comparable(spec_repo.diff("base", None)) == expected
    finally:
        for path, text in originals.items():
            spec_repo.write(path, text)
