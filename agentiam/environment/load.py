"""Read `stacks/Pulumi.<stack>.yaml` into an EnvironmentConfig without Pulumi, with located errors."""

from __future__ import annotations

from pathlib import Path

from pydantic import ValidationError

from agentiam.environment.model import EnvironmentConfig
from agentiam.errors import ConfigError
from agentiam.spec.source import parse_spec_bytes
from agentiam.spec.validate import validation_findings

CONFIG_KEY = "agentiam:environment"


def stack_config_path(stacks_dir: Path, stack: str) -> Path:
    """The Pulumi stack config file of `stack` (Pulumi.yaml sets `stackConfigDir: stacks`)."""
    return stacks_dir / f"Pulumi.{stack}.yaml"


def stack_names(stacks_dir: Path) -> list[str]:
    """Stacks with a config file in `stacks_dir` (Pulumi.<stack>.yaml); ConfigError if the folder is missing.

    A missing folder is an error rather than "no environments": otherwise every spec would get an AGT003
    finding per environment, hiding the one real mistake (a wrong `--stacks`).
    """
    if not stacks_dir.is_dir():
        raise ConfigError(f"{stacks_dir}: no such folder of stack configs (Pulumi.<stack>.yaml); "
                          "run from the project root or pass --stacks")
    return sorted(p.name[len("Pulumi."):-len(".yaml")] for p in stacks_dir.glob("Pulumi.*.yaml"))


def load_environment(stacks_dir: Path, stack: str) -> EnvironmentConfig:
    """Load and validate the stack's `agentiam:environment` config; ConfigError lists every problem."""
    path = stack_config_path(stacks_dir, stack)
    try:
        raw = path.read_bytes()
    except FileNotFoundError as exc:
        known = stack_names(stacks_dir)
        raise ConfigError(f"{path}: no such stack config; known stacks: {', '.join(known) or 'none'}") from exc
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from exc
    return parse_environment(str(path), raw)


def parse_environment(file: str, raw: bytes) -> EnvironmentConfig:
    """Parse one stack config file's bytes."""
    document, findings = parse_spec_bytes(file, raw, what="a stack config")
    if document is None:
        raise ConfigError("\n".join(f.render() for f in findings))
    config = document.data.get("config")
    if not isinstance(config, dict) or CONFIG_KEY not in config:
        raise ConfigError(f"{file}:1:1  CFG001  missing `config: {CONFIG_KEY}: {{...}}` (see README, stack config)")
    try:
        return EnvironmentConfig.model_validate(config[CONFIG_KEY])
    except ValidationError as exc:
        findings = validation_findings(document, exc, prefix=("config", CONFIG_KEY), rule_id="CFG002",
                                       model=EnvironmentConfig)
        raise ConfigError("\n".join(f.render() for f in findings)) from exc
