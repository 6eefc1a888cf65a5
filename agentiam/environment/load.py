"""Read `stacks/Pulumi.<stack>.yaml` into an EnvironmentConfig without Pulumi, with located findings.

Stack configs and the files they reference (the agent CA) are read through `agentiam.inputs` like specs: no links,
no special files, bounded sizes. Relative references are relative to the project root, the folder holding the
stacks folder (Pulumi.yaml: `stackConfigDir: stacks`), wherever the command runs from.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from agentiam.environment.model import EnvironmentConfig
from agentiam.errors import ConfigError
from agentiam.findings import Finding, Severity
from agentiam.inputs.files import STACK_CONFIG, DiskTree, Problem, Refused, file_finding, locate
from agentiam.inputs.references import REFERENCE_RULE, FileTree, Referencing, read_references
from agentiam.spec.source import PathPart, SourceDocument, parse_spec_bytes
from agentiam.spec.validate import validation_findings

CONFIG_KEY = "agentiam:environment"
_PREFIX: tuple[PathPart, ...] = ("config", CONFIG_KEY)

# Described like the guardrails' input checks (agentiam.rules.registry.INPUT_CHECKS), for SARIF and docs/guardrails.md.
CONFIG_CHECKS: tuple[tuple[str, str, str], ...] = (
    ("CFG001", "Stack config has `agentiam:environment`", "Without it the environment has no account, Vault or "
     "log routing to plan against."),
    ("CFG002", "Stack config values of the right type and shape", "Strict types, as for specs: a wrong account id "
     "or mount path would deploy somewhere else."),
    ("CFG003", "Referenced files usable", "A file a stack config names (the agent CA) must be a regular file of "
     "the project in the expected format: reviewed and fingerprinted in the plan, not a deploy-time surprise."),
    ("CFG004", "Stacks of one environment fit together", "Shards may differ only in `selection`, exactly one owns "
     "the shared resources, and every shard index exists, or agents would be provisioned twice or never."),
)


def stack_config_path(stacks_dir: Path, stack: str) -> Path:
    """The Pulumi stack config file of `stack` (Pulumi.yaml sets `stackConfigDir: stacks`)."""
    return stacks_dir / f"Pulumi.{stack}.yaml"


def project_root(stacks_dir: Path) -> Path:
    """The folder holding the stacks folder: what referenced paths in stack configs are relative to."""
    return stacks_dir.parent


def project_files(stacks_dir: Path) -> DiskTree:
    """The project's files on disk, for references (findings name them as written: `stacks/ca/dev.pem`)."""
    return DiskTree(project_root(stacks_dir), prefix="")


def is_stack_file(name: str) -> bool:
    """Whether a file name is a stack config (`Pulumi.<stack>.yaml`)."""
    return name.startswith("Pulumi.") and name.endswith(".yaml") and len(name) > len("Pulumi..yaml")


def stack_of_file(name: str) -> str:
    """`stacks/Pulumi.dev.yaml` -> `dev`."""
    base = name.rsplit("/", 1)[-1]
    return base[len("Pulumi."):-len(".yaml")]


def stack_names(stacks_dir: Path) -> list[str]:
    """Stacks with a config file in `stacks_dir` (Pulumi.<stack>.yaml); ConfigError if the folder is missing.

    A missing folder is an error rather than "no environments": otherwise every spec would get an AGT003
    finding per environment, hiding the one real mistake (a wrong `--stacks`).
    """
    if not stacks_dir.is_dir():
        raise _no_folder(stacks_dir)
    return sorted(stack_of_file(p.name) for p in stacks_dir.glob("Pulumi.*.yaml") if is_stack_file(p.name))


def _no_folder(stacks_dir: Path) -> ConfigError:
    return ConfigError(f"{stacks_dir}: no such folder of stack configs (Pulumi.<stack>.yaml); "
                       "run from the project root or pass --stacks")


@dataclass(frozen=True)
class LoadedStack:
    """A valid stack config with where it came from, to locate findings about it."""

    file: str
    document: SourceDocument
    config: EnvironmentConfig

    @property
    def stack(self) -> str:
        return stack_of_file(self.file)

    def finding(self, rule_id: str, path: tuple[PathPart, ...], message: str) -> Finding:
        """A finding on the field at `path` of the `agentiam:environment` value, named relative to it."""
        return _field_finding(self.file, self.document, rule_id, path, message)


def _field_finding(file: str, document: SourceDocument, rule_id: str, path: tuple[PathPart, ...],
                   message: str) -> Finding:
    line, column = document.position(_PREFIX + path)
    return Finding(file, line, column, rule_id, Severity.ERROR, ".".join(map(str, path)) or CONFIG_KEY, message)


def _parse(file: str, raw: bytes) -> tuple[SourceDocument | None, EnvironmentConfig | None, list[Finding]]:
    document, findings = parse_spec_bytes(file, raw, STACK_CONFIG)
    if document is None:
        return None, None, findings
    config = document.data.get("config")
    if not isinstance(config, dict) or CONFIG_KEY not in config:
        return None, None, [Finding(file, 1, 1, "CFG001", Severity.ERROR, "",
                                    f"missing `config: {CONFIG_KEY}: {{...}}` (see docs/stack-config.md)")]
    try:
        return document, EnvironmentConfig.model_validate(config[CONFIG_KEY]), []
    except ValidationError as exc:
        return None, None, validation_findings(document, exc, prefix=_PREFIX, rule_id="CFG002",
                                               model=EnvironmentConfig)


def parse_environments(raws: Mapping[str, bytes], files: FileTree) -> tuple[list[LoadedStack], list[Finding]]:
    """Parse stack configs' bytes (file -> bytes) and read the files they reference from `files` in one batch.

    Returns the valid ones and the findings of the others (a config whose referenced file cannot be used is not
    valid: nothing downstream may plan without the bytes that were reviewed)."""
    parsed: list[tuple[str, SourceDocument, EnvironmentConfig]] = []
    findings: list[Finding] = []
    for file, raw in raws.items():
        document, config, problems = _parse(file, raw)
        findings.extend(problems)
        if document is not None and config is not None:
            parsed.append((file, document, config))

    referencing = [Referencing(config, functools.partial(_field_finding, file, document, REFERENCE_RULE))
                   for file, document, config in parsed]
    loaded: list[LoadedStack] = []
    for (file, document, config), (read, problems) in zip(parsed, read_references(referencing, files), strict=True):
        findings.extend(problems)
        if not problems:
            loaded.append(LoadedStack(file, document, config.with_files(read)))
    return loaded, findings


def parse_environment(file: str, raw: bytes, files: FileTree) -> EnvironmentConfig:
    """Parse one stack config file's bytes (referenced files read from `files`); ConfigError with its findings."""
    loaded, findings = parse_environments({file: raw}, files)
    if findings:
        raise ConfigError(findings=findings)
    return loaded[0].config


def _read_stack(stacks_dir: Path, stack: str) -> tuple[Path, bytes]:
    """The stack config file's path and bytes, through the input reader; ConfigError if it cannot be read."""
    path = stack_config_path(stacks_dir, stack)
    tree, rel = locate(path, project_root(stacks_dir))
    try:
        return path, tree.read(rel, STACK_CONFIG)
    except Refused as refused:
        if refused.problem is Problem.MISSING:
            known = stack_names(stacks_dir)
            raise ConfigError(f"{path}: no such stack config; known stacks: {', '.join(known) or 'none'}") \
                from refused
        raise ConfigError(findings=[file_finding(str(path), refused)]) from refused


def load_environment(stacks_dir: Path, stack: str) -> EnvironmentConfig:
    """Load and validate the stack's `agentiam:environment` config; ConfigError lists every problem."""
    path, raw = _read_stack(stacks_dir, stack)
    return parse_environment(str(path), raw, project_files(stacks_dir))


def load_environment_names(stacks_dir: Path, stack: str) -> EnvironmentConfig:
    """The stack's config validated, without reading the files it references (the agent CA).

    For the kill switch, which needs the environment's names, mounts, account and region, and must work while a
    referenced file is broken or gone (docs/revoke.md). The config carries no files: nothing may plan or
    deploy from it (`referenced_file` raises), which is what `load_environment` is for."""
    path, raw = _read_stack(stacks_dir, stack)
    _document, config, findings = _parse(str(path), raw)
    if config is None:
        raise ConfigError(findings=findings)
    return config


def read_stacks(stacks_dir: Path) -> tuple[list[LoadedStack], list[Finding]]:
    """Every stack config of `stacks_dir`, valid ones and findings; ConfigError only if there is no such folder.

    The whole folder is walked: a link or special file anywhere in it (a linked stacks folder, a CA swapped for a
    link, a FIFO) is a finding, as in git where the diff sees the same entries."""
    tree, rel = locate(stacks_dir, project_root(stacks_dir))

    def stack_file(path: str) -> bool:
        parent, _, name = path.rpartition("/")
        return parent == rel and is_stack_file(name)

    raws: dict[str, bytes] = {}
    findings: list[Finding] = []
    for shown, got in tree.walk(rel, STACK_CONFIG, stack_file, must_be_file=stack_file):
        if shown == tree.display(rel) and (not isinstance(got, Refused) or got.problem is Problem.MISSING):
            raise _no_folder(stacks_dir)
        if isinstance(got, Refused):
            findings.append(file_finding(shown, got))
        else:
            raws[shown] = got
    loaded, problems = parse_environments(raws, project_files(stacks_dir))
    return loaded, findings + problems
