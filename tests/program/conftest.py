"""Program-test fixtures: the real `__main__.py` run once per bundled stack under Pulumi's mock runtime."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from agentiam import project
from agentiam.environment.load import load_environment
from agentiam.environment.model import EnvironmentConfig
from agentiam.plan.model import IdentityPlan
from tests.pulumi_capture import PROJECT_DIR, Capture, capture_stack

STACKS = ("dev", "staging", "prod")


@dataclass(frozen=True)
class StackRun:
    """A captured program run next to the plan and environment it was built from."""

    stack: str
    capture: Capture
    plan: IdentityPlan
    environment: EnvironmentConfig


_RUNS: dict[str, StackRun] = {}


def stack_run(stack: str) -> StackRun:
    """Run each bundled stack once per test session (each run resets the Pulumi runtime)."""
    if stack not in _RUNS:
        plan, _ = project.compile_plan(stack, PROJECT_DIR / "agent_specs", PROJECT_DIR / "stacks")
        _RUNS[stack] = StackRun(stack, capture_stack(stack), plan, load_environment(PROJECT_DIR / "stacks", stack))
    return _RUNS[stack]


@pytest.fixture(params=STACKS)
def run(request: pytest.FixtureRequest) -> StackRun:
    """The program run of each bundled stack config."""
    return stack_run(request.param)
