"""`agentiam bootstrap`: write what an administrator applies once per environment, generated from the plan."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import click

from agentiam import project
from agentiam.cli.common import handle_user_errors, specs_option, stacks_option
from agentiam.deploy.bootstrap import bootstrap_documents
from agentiam.errors import UserError
from agentiam.render.escape import Terminal


def _accessors(values: tuple[str, ...]) -> dict[str, str] | None:
    if not values:
        return None
    pairs = {}
    for value in values:
        path, sep, accessor = value.partition("=")
        if not sep or not path or not accessor:
            raise click.BadParameter(f"{value!r}: expected MOUNT=ACCESSOR (e.g. agentiam-dev-approle=auth_approle_"
                                     "1234abcd)", param_hint="--alias-mount-accessor")
        pairs[path] = accessor
    return pairs


def _write(path: Path, text: str) -> None:
    """Whole or not at all: written next to its place, then renamed."""
    try:
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
        os.replace(temporary, path)
    except OSError as exc:
        raise UserError(f"{path}: cannot write: {exc.strerror}") from exc


@click.command(epilog="""\b
Examples:
  agentiam bootstrap --env dev                              # writes bootstrap/dev/
  agentiam bootstrap --env prod --github-repo acme/agents   # also the deploy pipeline's Vault and AWS trust
  agentiam bootstrap --env dev --alias-mount-accessor agentiam-dev-approle=auth_approle_1a2b3c4d \\
                               --alias-mount-accessor agentiam-dev-cert=auth_cert_5e6f7a8b
\b
After the first `pulumi up`, `agentiam doctor` prints the last form with the real accessors: apply the policy it
writes to pin the mounts the deployer may create entity aliases on. Nothing is sent anywhere: the files are
generated from the plan alone (docs/deploy.md, step 3).
""")
@click.option("--env", "stack", required=True, help="Stack / environment (a stacks/Pulumi.<env>.yaml must exist).")
@click.option("--output-dir", type=click.Path(path_type=Path, file_okay=False), default=None,
              help="Folder to write the files into [default: bootstrap/<env>].")
@click.option("--github-repo", default=None, help="OWNER/NAME of the repository whose deploy pipeline runs `pulumi up`: "
              "adds its Vault JWT role and its AWS OIDC trust policy.")
@click.option("--alias-mount-accessor", "alias_accessors", multiple=True, metavar="MOUNT=ACCESSOR",
              help="The accessor of each auth mount of the environment (after the first `pulumi up`): the deployer "
                   "may then create entity aliases on these mounts only.")
@specs_option
@stacks_option
@handle_user_errors
def bootstrap(stack: str, output_dir: Path | None, github_repo: str | None, alias_accessors: tuple[str, ...],
              specs_dir: Path, stacks_dir: Path) -> None:
    """Write the deployer's Vault and IAM policies, the AWS secrets engine's principal policy and configuration."""
    plan, _ = project.compile_plan(stack, specs_dir, stacks_dir)
    documents = bootstrap_documents(plan, repository=github_repo, alias_accessors=_accessors(alias_accessors))
    folder = output_dir or Path("bootstrap") / stack
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"{folder}: cannot create: {exc.strerror}") from exc
    for document in documents:
        _write(folder / document.name, document.text)
    lines = [Terminal("Wrote {} file(s) to {} for environment {} ({} {}). Apply them in this order, from that "
                      "folder:").format(len(documents), str(folder), plan.environment,
                                        plan.platform.vault_server.flavor, plan.platform.vault_server.version)]
    for number, document in enumerate(documents, 1):
        lines.append(Terminal("  {}. {}").format(number, document.name))
        lines.append(Terminal("     {}").format(document.apply))
    lines.append(Terminal("Then check the environment: agentiam doctor --env {}").format(stack))
    click.echo("\n".join(lines))
