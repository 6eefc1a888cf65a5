"""A generated fleet: many small valid specs in one environment, written to a temporary folder."""

from __future__ import annotations

from pathlib import Path

FUNCTIONS = ("data-retrieval", "analysis", "reporting", "monitoring")


def spec_text(name: str, team: str, function: str, environments: str) -> str:
    return (f"spec_version: 1\nname: {name}\ndescription: Generated fleet member {name}.\n"
            f"owner:\n  team: {team}\n  sponsor: lead@example.com\n  contact: \"#{team}\"\n"
            f"function: {function}\nenvironments: [{environments}]\nexpires: 2027-06-30\n")


def write_fleet(specs_dir: Path, count: int, environments: str = "prod", start: int = 0) -> list[str]:
    """`count` specs named `fleet-agent-<i>` under `specs_dir/team-<i % 20>/`; returns the agent names."""
    names = []
    for i in range(start, start + count):
        team = f"team-{i % 20:02d}"
        name = f"fleet-agent-{i:05d}"
        folder = specs_dir / team
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{name}.yaml").write_text(spec_text(name, team, FUNCTIONS[i % len(FUNCTIONS)], environments),
                                             encoding="utf-8")
        names.append(name)
    return names
