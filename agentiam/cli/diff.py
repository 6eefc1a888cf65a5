"""`agentiam diff`: what a change does to each agent's power, between two git revisions."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from agentiam.cli.common import (EXIT_FINDINGS, EXIT_OK, format_option, formats, handle_user_errors, specs_option,
                                 stacks_option, write_output)
from agentiam.diff.compute import compute_diff
from agentiam.diff.gitsource import GitRepo
from agentiam.diff.model import DiffReport, Verdict
from agentiam.findings import has_errors
from agentiam.render import diff_github, diff_json, diff_markdown, diff_text

RENDERERS = formats(diff_json, diff_markdown, diff_text)
FAIL_ON = ("widened", "high", "violation", "never")


def failing(report: DiffReport, fail_on: str) -> bool:
    """Whether the report fails the check: guardrail violations always, except with `never`."""
    if fail_on == "never":
        return False
    verdicts = {a.verdict for a in report.agents} | {e.verdict for e in report.environments}
    verdicts |= {report.code.verdict} if report.code is not None else set()
    if fail_on == "widened" and verdicts & {Verdict.WIDENED, Verdict.HIGH_RISK}:
        return True
    if fail_on in ("widened", "high") and Verdict.HIGH_RISK in verdicts:
        return True
    return has_errors(report.findings)


@click.command(epilog="""\b
Examples:
  agentiam diff --base origin/main                     # working tree against main
  agentiam diff --base v1.4 --head HEAD --format json  # two commits, for machines
  agentiam diff --base origin/main --format markdown --output diff.md --fail-on high
  agentiam diff --base origin/main --head HEAD --fail-on high \\
      --base-code-snapshots base-code/ --head-code-snapshots head-code/   # agentiam's own code changed
\b
Under GitHub Actions (GITHUB_ACTIONS=true) the Markdown is also appended to the job summary and
every risky addition is annotated on its spec line.
""")
@click.option("--base", "base", required=True, help="Revision to compare against (branch, tag, commit).")
@click.option("--head", "head", default=None, help="Revision with the change. Default: the working tree, "
              "committed or not.")
@format_option(RENDERERS, "text",
               help="text for terminals, markdown for a pull-request comment, json for machines.")
@click.option("--fail-on", "fail_on", type=click.Choice(FAIL_ON), default="violation", show_default=True,
              help="What makes the exit code 1: any widening, a high-risk widening, guardrail violations "
                   "(always counted unless `never`).")
@click.option("--output", "output", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="Write the report to this file instead of standard output (annotations still go to stdout).")
@click.option("--base-code-snapshots", "base_code", type=click.Path(path_type=Path), default=None,
              help="Folder of `agentiam snapshot --all` of the head's specs, run with the base's code.")
@click.option("--head-code-snapshots", "head_code", type=click.Path(path_type=Path), default=None,
              help="The same, run with the head's own code. Differences are changes caused by agentiam's own code "
                   "(high risk); without both, a changed tool file is reported as not compiled (high risk).")
@specs_option
@stacks_option
@handle_user_errors
def diff(base: str, head: str | None, fmt: str, fail_on: str, output: Path | None, base_code: Path | None,
         head_code: Path | None, specs_dir: Path, stacks_dir: Path) -> None:
    """Show what changes in each agent's power between two revisions. Exit 0 ok, 1 --fail-on hit, 2 bad input."""
    if (base_code is None) != (head_code is None):
        raise click.UsageError("give both --base-code-snapshots and --head-code-snapshots, or neither")
    repo = GitRepo(Path.cwd())
    snapshots = (base_code, head_code) if base_code is not None and head_code is not None else None
    report = compute_diff(repo, base, head, specs_dir, stacks_dir, code_snapshots=snapshots)
    text = RENDERERS[fmt](report)
    write_output(text, output)
    if diff_github.in_github_actions():
        diff_github.append_step_summary(diff_markdown.render_markdown(report))
        for line in diff_github.annotations(report):
            click.echo(line)
    sys.exit(EXIT_FINDINGS if failing(report, fail_on) else EXIT_OK)
