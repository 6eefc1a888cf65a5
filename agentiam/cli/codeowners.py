"""`agentiam codeowners`: write (or check) `.github/CODEOWNERS` from the specs' owning teams."""

from __future__ import annotations

import difflib
import sys
from pathlib import Path

import click

from agentiam import codeowners as generator
from agentiam import project
from agentiam.cli.common import EXIT_FINDINGS, EXIT_OK, handle_user_errors, specs_option, stacks_option
from agentiam.errors import SpecError, UserError
from agentiam.findings import Severity


def _relative(folder: Path) -> str:
    try:
        return folder.resolve().relative_to(Path.cwd().resolve()).as_posix()
    except ValueError as exc:
        raise UserError(f"{folder}: not below the working directory; run from the repository root") from exc


@click.command(epilog="""\b
Examples:
  agentiam codeowners --org acme --security-team identity-security           # writes .github/CODEOWNERS
  agentiam codeowners --org acme --security-team identity-security --check   # exit 1 if it is stale
\b
Run from the repository root. Each spec file is owned by @ORG/<owner.team>; everything else (agentiam's code,
build, stack configs, CI, CODEOWNERS itself, new spec files) by @ORG/<security team). Turn on branch protection
with "Require review from Code Owners" for it to mean anything.
""")
@click.option("--org", "org", required=True, help="GitHub organisation owning the teams: owner.team -> @ORG/team.")
@click.option("--security-team", "security_team", required=True,
              help="Team slug owning the tool's code, stack configs, CI and everything not owned by a spec's team.")
@click.option("--output", "output", type=click.Path(path_type=Path, dir_okay=False), default=generator.DEFAULT_FILE,
              show_default=True, help="The CODEOWNERS file to write or check; `-` prints it.")
@click.option("--check", "check", is_flag=True, help="Write nothing; exit 1 if the file differs from what "
              "the specs give (a unified diff on stderr).")
@specs_option
@stacks_option
@handle_user_errors
def codeowners(org: str, security_team: str, output: Path, check: bool, specs_dir: Path, stacks_dir: Path) -> None:
    """Generate CODEOWNERS from spec owners. Exit 0 ok, 1 stale (--check), 2 bad input."""
    specs, findings, _ = project.load_specs([specs_dir], project.project_root(stacks_dir))
    errors = [f for f in findings if f.severity is Severity.ERROR]
    if errors:  # a spec that does not load has no known owner: `agentiam validate` says why
        raise SpecError(errors)
    owners = [(_relative(Path(loaded.file)), loaded.spec.owner.team) for loaded in specs]
    command = f"agentiam codeowners --org {org} --security-team {security_team}"
    text = generator.render(owners, org, security_team, _relative(stacks_dir), command)
    if str(output) == "-":
        click.echo(text, nl=False)
        sys.exit(EXIT_OK)
    if check:
        try:
            current = output.read_text(encoding="utf-8")
        except FileNotFoundError:
            current = ""
        except (OSError, UnicodeDecodeError) as exc:
            raise UserError(f"{output}: cannot read: {exc}") from exc
        if current == text:
            click.echo(f"{output}: up to date ({len(owners)} spec file(s))")
            sys.exit(EXIT_OK)
        diff = difflib.unified_diff(current.splitlines(keepends=True), text.splitlines(keepends=True),
                                    f"{output} (committed)", f"{output} (from the specs)")
        click.echo("".join(diff), err=True, nl=False)
        click.echo(f"{output} is stale: run `{command}` and commit it", err=True)
        sys.exit(EXIT_FINDINGS)
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise UserError(f"{output}: cannot write: {exc.strerror}") from exc
    click.echo(f"wrote {output} ({len(owners)} spec file(s))")
