"""The program-capture engine (`agentiam.program.capture`) with the test suite's defaults: this checkout's program.

    capture = capture_stack("dev")
    role = capture.get("aws:iam/role:Role", "agent-dev-invoice-reader-aws-role")
    role.inputs["maxSessionDuration"]      # 3600.0 (inputs arrive camelCase, integers as floats)
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from agentiam.program.capture import Capture, ProgramError, ResourceRecord, mount_accessor
from agentiam.program.capture import capture_stack as _capture_stack

__all__ = ["PROJECT_DIR", "PROGRAM", "Capture", "ProgramError", "ResourceRecord", "capture_stack", "mount_accessor"]

PROJECT_DIR = Path(__file__).resolve().parent.parent
PROGRAM = PROJECT_DIR / "__main__.py"


def capture_stack(stack: str, *, specs_dir: Path | str | None = None, stacks_dir: Path | str | None = None,
                  secrets: Mapping[str, str] | None = None, preview: bool = False,
                  program: Path = PROGRAM) -> Capture:
    """Run this checkout's `__main__.py` for `stack` in this checkout (see `agentiam.program.capture.capture_stack`)."""
    return _capture_stack(stack, project_dir=PROJECT_DIR, specs_dir=specs_dir, stacks_dir=stacks_dir,
                          secrets=secrets, preview=preview, program=program)
