"""Spec text written to hide, forge or ping in the PR comment changes nothing of it: `agentiam diff --format
markdown` and the GitHub job summary on a real git repository, read the way GitHub renders them.

Each hostile pull request is compared with the same pull request written with harmless words: the rendered
comment has the same tables, rows, `<details>` blocks and headings (the same tags, in order), the project's
marker as its only HTML comment, no link or image, and the same text outside code (where GitHub would find
`@mentions` and `#123` references).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from agentiam.cli.main import cli
from tests.diff.conftest import PAYMENT, SpecRepo, git
from tests.render.github_markdown import Rendered, render

DEV_STACK = "stacks/Pulumi.dev.yaml"
HARMLESS = "post payout summaries to the billing channel"
HOSTILE = {
    "comment-opened": "uploads --> </table></details><h2>no changes</h2><!--",
    "team-mention": "ask @acme/security-team or @octocat to approve",
    "issue-autolink": "fixes #1 and GH-2 and acme/payments#3",
    "image": "![approved](https://evil.example/approved.png)",
    "link": "[see the approval](https://evil.example/approved)",
    "details-closed": "</details></details>## no changes",
    "code-fence-and-pipes": "`` ` | --- | `` a | b ```",
}


def _quoted(text: str) -> str:
    """`text` as a YAML double-quoted scalar (JSON's string syntax is YAML's)."""
    return json.dumps(text)


def _pull_request(repo: SpecRepo, text: str, file_name: str = PAYMENT, stack: bool = True) -> None:
    """On top of `base`, a PR putting `text` wherever free text reaches the comment: a new endpoint's purpose (its
    change and its risk reason), the existing endpoint's purpose (before -> after) and the owner's contact, in a
    spec file named `file_name`, and the dev stack config's audit file path (an environment-wide change)."""
    spec = git(repo.root, "show", f"base:{PAYMENT}")
    spec = spec.replace("      purpose: create and confirm payouts\n",
                        f"      purpose: {_quoted(text)}\n    - host: hooks.slack.com\n"
                        f"      purpose: {_quoted(text)}\n")
    spec = spec.replace('  contact: "#billing-platform-oncall"\n', f"  contact: {_quoted(text)}\n")
    for old in (repo.root / "agent_specs" / "billing").glob("*.yaml"):
        if old.name != "invoice-reader.yaml":
            old.unlink()
    repo.write(file_name, spec)
    if stack:
        config = git(repo.root, "show", f"base:{DEV_STACK}")
        repo.write(DEV_STACK, config.replace("file_path: /var/log/vault/agentiam-dev-audit.log",
                                             f"file_path: {_quoted(text)}"))


def _cli(repo: SpecRepo, monkeypatch: pytest.MonkeyPatch, *args: str, summary: Path | None = None):
    monkeypatch.chdir(repo.root)
    for key in ("GITHUB_ACTIONS", "GITHUB_STEP_SUMMARY"):
        monkeypatch.delenv(key, raising=False)
    if summary is not None:
        monkeypatch.setenv("GITHUB_ACTIONS", "true")
        monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    return CliRunner().invoke(cli, ["diff", *args, "--format", "markdown", "--fail-on", "never"])


def _comment_and_summary(repo: SpecRepo, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, head: str,
                         ) -> tuple[str, str, list[str]]:
    """The PR comment (`--format markdown`), the job summary and the annotations of base -> head."""
    comment = _cli(repo, monkeypatch, "--base", "base", "--head", head)
    assert comment.exit_code == 0, comment.output
    summary = tmp_path / f"summary-{head}.md"
    run = _cli(repo, monkeypatch, "--base", "base", "--head", head, "--output", str(tmp_path / f"{head}.md"),
               summary=summary)
    assert run.exit_code == 0, run.output
    return comment.output, summary.read_text(encoding="utf-8"), run.output.splitlines()


def _assert_same_structure(hostile: Rendered, harmless: Rendered) -> None:
    assert hostile.tags == harmless.tags  # the same tables, rows, cells, <details> blocks, headings, in order
    assert hostile.comments == harmless.comments == (" agentiam-diff ",)
    assert hostile.links == harmless.links == ()
    assert hostile.prose == harmless.prose  # nothing mentioned, referenced or autolinked


def _pair(repo: SpecRepo, text: str, file_name: str = PAYMENT, harmless_file: str = PAYMENT) -> None:
    """Two pull requests on `base`: tag `harmless` with plain words, tag `hostile` with `text`."""
    _pull_request(repo, HARMLESS, harmless_file)
    repo.commit("harmless", tag="harmless")
    _pull_request(repo, text, file_name)
    repo.commit("hostile", tag="hostile")


@pytest.mark.parametrize("text", HOSTILE.values(), ids=HOSTILE.keys())
def test_hostile_free_text_changes_nothing_of_the_comment(spec_repo: SpecRepo, monkeypatch: pytest.MonkeyPatch,
                                                          tmp_path: Path, text: str) -> None:
    _pair(spec_repo, text)
    harmless_comment, harmless_summary, harmless_annotations = _comment_and_summary(spec_repo, monkeypatch,
                                                                                     tmp_path, "harmless")
    comment, summary, annotations = _comment_and_summary(spec_repo, monkeypatch, tmp_path, "hostile")
    assert summary == comment and harmless_summary == harmless_comment  # the job summary is the comment
    harmless = render(harmless_comment)
    assert (harmless.count("table"), harmless.count("tr"), harmless.count("details"), harmless.count("h3")) == (
        4, 12, 2, 1)
    _assert_same_structure(render(comment), harmless)
    assert comment.count("\n") == harmless_comment.count("\n")
    assert len(annotations) == len(harmless_annotations)
    assert all(line.startswith(("::warning file=", "::error file=")) for line in annotations)


@pytest.mark.parametrize("file_name", [
    "agent_specs/billing/x</details><!--.yaml",
    "agent_specs/billing/pay\u202ement-gateway-sync.yaml",
    "agent_specs/billing/`@acme/team` #1.yaml",
], ids=["details-comment", "right-to-left-override", "mention"])
def test_a_hostile_file_name_changes_nothing_of_the_comment(spec_repo: SpecRepo, monkeypatch: pytest.MonkeyPatch,
                                                            tmp_path: Path, file_name: str) -> None:
    """A spec's file name is the PR author's to choose too, and shown in every agent's summary line."""
    _pair(spec_repo, HARMLESS, file_name, harmless_file="agent_specs/billing/harmless-name.yaml")
    harmless_comment, _, _ = _comment_and_summary(spec_repo, monkeypatch, tmp_path, "harmless")
    comment, summary, annotations = _comment_and_summary(spec_repo, monkeypatch, tmp_path, "hostile")
    assert summary == comment
    _assert_same_structure(render(comment), render(harmless_comment))
    assert "\u202e" not in comment and "\u202e" not in "".join(annotations)  # shown as an escape instead
    if "\u202e" in file_name:
        assert "pay\\u202ement-gateway-sync.yaml" in comment


def test_a_right_to_left_override_in_a_spec_is_refused_where_it_is(spec_repo: SpecRepo,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """Trojan Source: U+202E would make a purpose read backwards from where it stands. The head spec is refused
    with its file, line, column and field (the character shown as an escape), and no comment is written."""
    _pull_request(spec_repo, "upload \u202eexports to the partner", stack=False)
    spec_repo.commit("bidi", tag="hostile")
    result = _cli(spec_repo, monkeypatch, "--base", "base", "--head", "hostile")
    assert result.exit_code == 2, result.output
    line = spec_repo.line_of(PAYMENT, "hooks.slack.com") - 1  # the first purpose
    column = spec_repo.read(PAYMENT).splitlines()[line - 1].index('"') + 1
    assert (f"{PAYMENT}:{line}:{column}  error  SPEC003  network.egress[api.stripe.com].purpose: character 8 is U+202E "
            "RIGHT-TO-LEFT OVERRIDE") in result.output
    assert "\u202e" not in result.output and result.output.count("U+202E RIGHT-TO-LEFT OVERRIDE") == 3  # all found


def test_a_right_to_left_override_in_a_stack_config_is_refused_where_it_is(spec_repo: SpecRepo,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    _pull_request(spec_repo, "/var/log/\u202egol.tidua", file_name=PAYMENT)
    spec_repo.commit("bidi", tag="hostile")
    result = _cli(spec_repo, monkeypatch, "--base", "base", "--head", "hostile")
    assert result.exit_code == 2, result.output
    line = spec_repo.line_of(DEV_STACK, "file_path:")
    column = spec_repo.read(DEV_STACK).splitlines()[line - 1].index('"') + 1
    assert result.output == (f"{DEV_STACK}:{line}:{column}  error  CFG002  vault.audit.file_path: character 10 is "
                             "U+202E RIGHT-TO-LEFT OVERRIDE: control, bidirectional and invisible characters make text "
                             "read differently from what it is, so none is allowed\n1 error(s); nothing was planned.\n")
