"""The documentation stands alone and cannot drift: the README is short and lists every package folder, every
reference page under docs/ is generated from the models and registries, every marked section is produced by the
tool in some test, every link resolves, and no code comment cites a file the repository does not hold.

After an intended change: AGENTIAM_REGEN_GOLDEN=1 python -m pytest tests/test_docs.py
"""

from __future__ import annotations

import ast
import contextlib
import datetime as dt
import io
import re
import subprocess
import tokenize
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from agentiam import project
from agentiam.cli.main import cli
from agentiam.diff.risk import render_labels_markdown
from agentiam.environment.reference import stack_config_reference
from agentiam.inventory.blast import render_tier_rules_markdown
from agentiam.render.findings import render_input_checks_markdown, render_rules_markdown
from agentiam.spec.json_schema import spec_json_schema_text
from agentiam.spec.reference import spec_reference
from tests.docs import DOCS, REPO, check_page, check_section, page, section, sections

TODAY = "2026-12-01"  # every bundled example is valid then


def _tour_validate() -> str:
    with contextlib.chdir(REPO):
        result = CliRunner().invoke(cli, ["validate", "--today", TODAY])
    assert result.exit_code == 0, result.output
    return f"```console\n$ agentiam validate\n{result.output}```\n"


def _agent_policies() -> str:
    plan, _ = project.compile_plan("prod", REPO / "agent_specs", REPO / "stacks", today=dt.date.fromisoformat(TODAY))
    vault = next(entry for entry in plan.agents if entry.agent == "invoice-reader").vault
    blocks = [f"# {name}\n{hcl}" for name, hcl in ((vault.policy_name, vault.policy_hcl),
                                                   (vault.login_policy_name, vault.login_policy_hcl),
                                                   (vault.mint_policy_name, vault.mint_policy_hcl))]
    return "```hcl\n" + "\n".join(blocks) + "```\n"


def _schema_head() -> str:
    head = "".join(spec_json_schema_text().splitlines(keepends=True)[:4])
    return ("```console\n$ agentiam schema > agent_specs/agent-spec.schema.json\n"
            f"$ head -4 agent_specs/agent-spec.schema.json\n{head}```\n")


# Pages written whole by a generator.
GENERATED_PAGES: dict[str, Callable[[], str]] = {
    "docs/spec-reference.md": spec_reference,
    "docs/stack-config.md": stack_config_reference,
}

# Sections produced here, from a registry or by running the tool.
GENERATED_SECTIONS: dict[tuple[str, str], Callable[[], str]] = {
    ("docs/guardrails.md", "rules-table"): render_rules_markdown,
    ("docs/guardrails.md", "input-checks-table"): render_input_checks_markdown,
    ("docs/risk-labels.md", "labels-table"): render_labels_markdown,
    ("docs/inventory.md", "tiers-table"): render_tier_rules_markdown,
    ("README.md", "tour-validate"): _tour_validate,
    ("docs/vault.md", "agent-policies"): _agent_policies,
    ("docs/commands.md", "schema-head"): _schema_head,
}

# Sections another test produces with the tool (it needs a scenario of its own): the file named must check them.
CHECKED_ELSEWHERE: dict[tuple[str, str], str] = {
    ("README.md", "layout-table"): "tests/test_docs.py",
    ("docs/check.md", "check-rules"): "tests/check/test_docs.py",
    ("docs/check.md", "check-example"): "tests/check/test_docs.py",
    ("docs/check.md", "check-example-markdown"): "tests/check/test_docs.py",
    ("docs/compliance.md", "compliance-example"): "tests/check/test_docs.py",
    ("docs/deploy.md", "bootstrap-output"): "tests/deploy/test_docs.py",
    ("docs/deploy.md", "doctor-checks"): "tests/deploy/test_docs.py",
    ("docs/inventory.md", "inventory-example"): "tests/inventory/test_docs_page.py",
    ("docs/inventory.md", "inventory-policy"): "tests/inventory/test_docs_page.py",
    ("docs/commands.md", "validate-example"): "tests/cli/test_validate.py",
    ("docs/commands.md", "validate-example-spec"): "tests/cli/test_validate.py",
    ("docs/commands.md", "sarif-example"): "tests/cli/test_validate.py",
    ("docs/commands.md", "new-example"): "tests/cli/test_new.py",
    ("docs/commands.md", "plan-excerpt"): "tests/render/test_plan_table.py",
    ("docs/inputs.md", "inputs-example"): "tests/cli/test_inputs.py",
    ("docs/pulumi.md", "program-error"): "tests/program/test_stack_variants.py",
    ("docs/revoke.md", "revoke-report"): "tests/integration/test_revoke.py",
    ("docs/revoke.md", "revoke-outage"): "tests/integration/test_revoke_faults.py",
    ("docs/inventory.md", "inventory-live-report"): "tests/integration/test_inventory_live.py",
    ("docs/migrate.md", "migrate-spec"): "tests/migrate/test_docs.py",
    ("docs/migrate.md", "migrate-plan-examples"): "tests/migrate/test_docs.py",
    ("docs/migrate.md", "migrate-plan-flagged"): "tests/migrate/test_docs.py",
    ("docs/migrate.md", "migrate-vault-policy"): "tests/migrate/test_docs.py",
    ("docs/migrate.md", "migrate-iam-actions"): "tests/migrate/test_docs.py",
    ("docs/migrate.md", "migrate-refused"): "tests/integration/test_migrate.py",
    ("docs/migrate.md", "migrate-forced"): "tests/integration/test_migrate.py",
    ("docs/migrate.md", "migrate-after-48h"): "tests/integration/test_migrate.py",
    ("docs/migrate.md", "migrate-status-parallel"): "tests/integration/test_migrate.py",
    ("docs/migrate.md", "migrate-status-done"): "tests/integration/test_migrate.py",
}


def _documents() -> list[str]:
    return ["README.md", *sorted(f"docs/{path.name}" for path in DOCS.glob("*.md"))]


def _tracked() -> list[str]:
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True).stdout
    return [path for path in listed.decode().split("\0") if path]


@pytest.mark.parametrize("relative", sorted(GENERATED_PAGES))
def test_generated_pages_are_current(relative: str) -> None:
    check_page(relative, GENERATED_PAGES[relative]())


@pytest.mark.parametrize(("relative", "name"), sorted(GENERATED_SECTIONS))
def test_generated_sections_are_current(relative: str, name: str) -> None:
    check_section(relative, name, GENERATED_SECTIONS[(relative, name)]())


def test_every_marked_section_is_produced_by_a_test() -> None:
    found = {(relative, name) for relative in _documents() for name in sections(relative)}
    assert found == set(GENERATED_SECTIONS) | set(CHECKED_ELSEWHERE), (
        "a marked section no test produces (or a registered one that is gone): register it here")
    for (relative, name), owner in CHECKED_ELSEWHERE.items():
        assert f'"{name}"' in (REPO / owner).read_text(encoding="utf-8"), f"{owner} does not check {relative} {name}"


def test_the_readme_is_short_and_keeps_its_two_commands() -> None:
    readme = page("README.md")
    assert len(readme.splitlines()) < 250
    start = readme.index("```bash\n", readme.index("## Two commands\n")) + len("```bash\n")
    block = readme[start:readme.index("\n```", start)]
    install, test = block.splitlines()
    assert install.startswith("pip install -e '.[test]' && agentiam plan --env dev ")
    assert test.split("#")[0].strip() == "bash .ci/run"
    run = (REPO / ".ci" / "run").read_text(encoding="utf-8")
    last = [line for line in run.splitlines() if line.strip() and not line.startswith("#")][-1]
    assert test.endswith(f"then: {last}") and last == "python -m pytest -q"


def test_the_layout_table_lists_every_folder() -> None:
    table = section("README.md", "layout-table")
    listed = set(re.findall(r"`([^`]+/)`", table))
    tracked = _tracked()
    folders = {path.split("/")[0] + "/" for path in tracked if "/" in path}
    packages = {path.rsplit("/", 1)[0] + "/" for path in tracked
                if re.fullmatch(r"agentiam/[a-z_]+/__init__\.py", path)}
    assert listed == (folders - {"agentiam/"}) | packages


def test_every_docs_page_is_linked_from_the_readme() -> None:
    readme = page("README.md")
    for relative in _documents()[1:]:
        assert f"]({relative})" in readme, f"README.md does not link {relative}"


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[`*]|<[^>]+>", "", heading).strip().lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def _anchors(relative: str) -> set[str]:
    text = re.sub(r"```.*?```", "", page(relative), flags=re.S)
    anchors = set(re.findall(r'<a id="([^"]+)"', text))
    seen: dict[str, int] = {}
    for heading in re.findall(r"^#{1,6} (.+)$", text, re.M):
        slug = _slug(heading)
        anchors.add(slug if slug not in seen else f"{slug}-{seen[slug]}")
        seen[slug] = seen.get(slug, 0) + 1
    return anchors


def _resolve(relative: str, target: str) -> tuple[Path, str]:
    path, _, anchor = target.partition("#")
    base = (REPO / relative).parent
    return ((base / path).resolve() if path else (REPO / relative)), anchor


@pytest.mark.parametrize("relative", _documents())
def test_links_resolve(relative: str) -> None:
    text = re.sub(r"`[^`\n]*`", "", re.sub(r"```.*?```", "", page(relative), flags=re.S))
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if re.match(r"[a-z]+:", target):
            continue
        path, anchor = _resolve(relative, target)
        assert path.exists(), f"{relative}: link {target} names no file"
        if anchor and path.suffix == ".md":
            assert anchor in _anchors(str(path.relative_to(REPO))), f"{relative}: link {target} names no anchor"


def _comments(path: Path) -> list[tuple[int, str]]:
    """Every comment and docstring of a Python file, with its line."""
    source = path.read_text(encoding="utf-8")
    out = [(token.start[0], token.string) for token in tokenize.generate_tokens(io.StringIO(source).readline)
           if token.type == tokenize.COMMENT]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            docstring = ast.get_docstring(node, clean=False)
            if docstring:
                out.append((node.body[0].lineno, docstring))
    return out


def test_no_comment_cites_a_document_the_repository_lacks() -> None:
    """A comment citing a page of facts by anchor (or any `.md` file) must name a file and anchor that exist: the
    repository stands alone, so a reader can check every reason a comment gives."""
    problems = []
    for relative in (path for path in _tracked() if path.endswith(".py")):
        for line, text in _comments(REPO / relative):
            for cited in re.findall(r"(?<![\w./-])([\w./-]*\w\.md)(#[\w-]+)?", text):
                name, anchor = cited
                candidates = [REPO / name, DOCS / name, (REPO / relative).parent / name]
                found = next((path for path in candidates if path.is_file()), None)
                if found is None:
                    problems.append(f"{relative}:{line} cites {name}, which is not in the repository")
                elif anchor and anchor[1:] not in _anchors(str(found.relative_to(REPO))):
                    problems.append(f"{relative}:{line} cites {name}{anchor}, which has no such anchor")
    assert problems == [], "\n".join(problems)
