"""Each kind of spec change, committed to a real git repository, shows up in the diff as a reviewer needs it."""

from __future__ import annotations

import pytest

from agentiam.diff.model import Direction, Verdict
from agentiam.errors import SpecError
from agentiam.iam import catalogue
from agentiam.project import validate
from tests.diff.conftest import INVOICE, PAYMENT, SpecRepo, entry, labels

ENVS = ("dev", "staging", "prod")


def test_no_commits_between_revisions_is_an_empty_diff(spec_repo: SpecRepo) -> None:
    report = spec_repo.diff("base", "base")
    assert report.agents == [] and report.changed_spec_files == [] and report.specs_compiled == 0


def test_reordering_lists_changes_nothing(spec_repo: SpecRepo) -> None:
    spec_repo.edit(INVOICE, "actions: [s3:GetObject, s3:ListBucket]", "actions: [s3:ListBucket, s3:GetObject]")
    spec_repo.edit(INVOICE, """        - arn:aws:s3:::billing-{env}-invoices
        - arn:aws:s3:::billing-{env}-invoices/*""", """        - arn:aws:s3:::billing-{env}-invoices/*
        - arn:aws:s3:::billing-{env}-invoices""")
    spec_repo.edit(INVOICE, "environments: [dev, staging, prod]", "environments: [prod, dev, staging]")
    spec_repo.commit("reorder")
    report = spec_repo.diff()
    assert report.changed_spec_files == [INVOICE]
    # The spec digest changes (it hashes the document), so each entry is listed, with no change in power.
    assert [(a.agent, a.environment, a.verdict) for a in report.agents] == [
        ("invoice-reader", env, Verdict.NO_CHANGE) for env in ENVS]
    assert all(a.changes == () for a in report.agents)


def test_wildcard_action_is_expanded_to_the_actions_it_reaches(spec_repo: SpecRepo) -> None:
    spec_repo.edit(INVOICE, "actions: [s3:GetObject, s3:ListBucket]", "actions: [s3:Get*, s3:ListBucket]")
    spec_repo.commit("wildcard")
    dev = entry(spec_repo.diff(), "invoice-reader", "dev")
    added = next(c for c in dev.changes if c.subject == "s3:Get*")
    expected = [info.name for info in catalogue.expand("s3:Get*")]
    assert added.op == "added" and added.direction is Direction.WIDER
    assert list(added.expands_to) == expected and "s3:GetObject" in expected and len(expected) > 20
    assert added.access_level == "Read"
    assert {"wildcard", "data-exfiltration"} <= labels(added)
    assert added.resources == ("arn:aws:s3:::billing-dev-invoices", "arn:aws:s3:::billing-dev-invoices/*")
    # s3:GetObject is now reached through the wildcard: shown as replaced, not as lost power.
    replaced = next(c for c in dev.changes if c.subject == "s3:GetObject")
    assert (replaced.op, replaced.direction, replaced.after) == ("subsumed", Direction.NEUTRAL, "s3:Get*")
    assert dev.verdict is Verdict.WIDENED
    assert added.line == spec_repo.line_of(INVOICE, "s3:Get*") and added.field == "permissions.aws[read-invoices].actions[s3:Get*]"


def test_read_to_write_on_a_known_resource_is_an_access_escalation(spec_repo: SpecRepo) -> None:
    spec_repo.edit(INVOICE, "actions: [s3:GetObject, s3:ListBucket]",
                   "actions: [s3:GetObject, s3:ListBucket, s3:PutObject]")
    spec_repo.commit("write")
    prod = entry(spec_repo.diff(), "invoice-reader", "prod")
    put = next(c for c in prod.changes if c.subject == "s3:PutObject")
    assert put.access_level == "Write"
    escalation = next(r for r in put.risks if r.id == "access-escalation")
    assert escalation.reason == ("Read -> Write on arn:aws:s3:::billing-prod-invoices, "
                                 "arn:aws:s3:::billing-prod-invoices/*")


def test_pass_role_is_high_risk_and_a_guardrail_violation_both_shown(spec_repo: SpecRepo) -> None:
    spec_repo.edit(INVOICE, "actions: [s3:GetObject, s3:ListBucket]",
                   "actions: [s3:GetObject, s3:ListBucket, iam:PassRole]")
    spec_repo.edit(INVOICE, "  token_max_ttl: 24h\n", "  token_max_ttl: 48h\n")
    spec_repo.commit("pass role")
    report = spec_repo.diff()
    dev = entry(report, "invoice-reader", "dev")
    pass_role = next(c for c in dev.changes if c.subject == "iam:PassRole")
    assert pass_role.high_risk and "privilege-escalation" in labels(pass_role)
    assert dev.verdict is Verdict.HIGH_RISK
    # The violations are exactly what `validate` reports for the head file (checked out in the repo).
    expected = validate([spec_repo.root / INVOICE], spec_repo.root / "stacks").findings
    relocated = sorted(f.__class__(INVOICE, *[getattr(f, k) for k in ("line", "column", "rule_id", "severity",
                                                                      "path", "message")]) for f in expected)
    assert report.findings == relocated
    assert {"AGT010"} <= {f.rule_id for f in report.findings}
    assert {f.rule_id for f in dev.findings} >= {"AGT010"}


def test_dev_spec_gaining_a_prod_resource_is_flagged_as_crossing_environments(spec_repo: SpecRepo) -> None:
    spec_repo.edit(INVOICE, "        - arn:aws:s3:::billing-{env}-invoices/*\n",
                   "        - arn:aws:s3:::billing-{env}-invoices/*\n        - arn:aws:s3:::billing-prod-invoices/*\n")
    spec_repo.commit("prod bucket")
    report = spec_repo.diff()
    dev_changes = entry(report, "invoice-reader", "dev").changes
    crossing = [c for c in dev_changes if "cross-environment" in labels(c)]
    assert {c.subject for c in crossing} == {"s3:GetObject", "s3:ListBucket"}
    assert all(c.resources == ("arn:aws:s3:::billing-prod-invoices/*",) and c.high_risk for c in crossing)
    assert entry(report, "invoice-reader", "dev").verdict is Verdict.HIGH_RISK
    # In prod the same ARN is the environment's own bucket: widened, not crossing.
    prod = entry(report, "invoice-reader", "prod")
    assert prod.verdict is Verdict.NO_CHANGE  # billing-prod-invoices/* was already granted there


def test_longer_token_ttl_is_flagged(spec_repo: SpecRepo) -> None:
    spec_repo.edit(INVOICE, "  token_ttl: 1h\n", "  token_ttl: 24h\n")
    spec_repo.commit("ttl")
    report = spec_repo.diff()
    dev = entry(report, "invoice-reader", "dev")
    ttl = next(c for c in dev.changes if c.subject == "token_ttl")
    assert (ttl.before, ttl.after, ttl.op) == ("1h", "24h", "widened")
    assert "longer-lifetime" in labels(ttl) and ttl.high_risk
    assert ttl.line == spec_repo.line_of(INVOICE, "token_ttl: 24h") and ttl.field == "credentials.token_ttl"
    # prod overrides token_ttl (30m): only the spec digest differs there, no power.
    prod = entry(report, "invoice-reader", "prod")
    assert (prod.verdict, prod.changes) == (Verdict.NO_CHANGE, ())


def test_shorter_session_is_narrowed(spec_repo: SpecRepo) -> None:
    spec_repo.edit(PAYMENT, "  aws_session_ttl: 30m\n", "  aws_session_ttl: 15m\n")
    spec_repo.commit("shorter")
    staging = entry(spec_repo.diff(), "payment-gateway-sync", "staging")
    assert staging.verdict is Verdict.NARROWED
    assert [(c.subject, c.before, c.after) for c in staging.changes] == [("aws_session_ttl", "30m", "15m")]


def test_renamed_agent_is_removed_and_added(spec_repo: SpecRepo) -> None:
    text = spec_repo.read(INVOICE).replace("name: invoice-reader", "name: invoice-fetcher")
    (spec_repo.root / INVOICE).unlink()
    spec_repo.write("agent_specs/billing/invoice-fetcher.yaml", text)
    spec_repo.commit("rename")
    report = spec_repo.diff()
    kinds = {(a.agent, a.environment): (a.kind, a.verdict) for a in report.agents}
    for env in ENVS:
        assert kinds[("invoice-reader", env)] == ("removed", Verdict.NARROWED)
        assert kinds[("invoice-fetcher", env)][0] == "added"
    added = entry(report, "invoice-fetcher", "dev")
    assert {c.subject for c in added.changes if c.system == "aws"} == {"s3:GetObject", "s3:ListBucket"}
    assert added.file == "agent_specs/billing/invoice-fetcher.yaml"


def test_suspended_agent_narrows_everywhere(spec_repo: SpecRepo) -> None:
    spec_repo.edit(PAYMENT, "function: integration\n", "function: integration\nstatus: suspended\n")
    spec_repo.commit("suspend")
    dev = entry(spec_repo.diff(), "payment-gateway-sync", "dev")
    assert dev.verdict is Verdict.NARROWED
    status = next(c for c in dev.changes if c.subject == "status")
    assert (status.op, status.before, status.after) == ("suspended", "active", "suspended")
    removed = {(c.system, c.subject) for c in dev.changes if c.op == "removed"}
    assert ("database", "billing (schema public)") in removed and ("network", "egress api.stripe.com:443") in removed


def test_new_egress_endpoint_and_faster_rate(spec_repo: SpecRepo) -> None:
    spec_repo.edit(PAYMENT, "      purpose: create and confirm payouts\n",
                   "      purpose: create and confirm payouts\n    - host: hooks.slack.com\n"
                   "      purpose: post payout summaries\n")
    spec_repo.edit(PAYMENT, "    requests: 100\n", "    requests: 500\n")
    spec_repo.commit("egress")
    prod = entry(spec_repo.diff(), "payment-gateway-sync", "prod")
    by_subject = {c.subject: c for c in prod.changes}
    egress = by_subject["egress hooks.slack.com:443"]
    assert egress.op == "added" and "new-egress" in labels(egress) and egress.after == "post payout summaries"
    # prod enforces its allow-list with a Network Firewall rule group: the label says what the reviewer approves.
    (reason,) = [r.reason for r in egress.risks if r.id == "new-egress"]
    assert reason == ("hooks.slack.com (post payout summaries) joins the allow-list agentiam-prod-egress-allow-list: "
                      "reachable by name on any port, not only 443, from every workload behind the firewall, not "
                      "only this agent")
    rate = by_subject["Vault login rate"]
    assert (rate.before, rate.after, rate.direction) == ("100/1m", "500/1m", Direction.WIDER)
    assert rate.field == "network.vault_login_rate"
    dev = entry(spec_repo.diff(), "payment-gateway-sync", "dev")
    (reason,) = [r.reason for c in dev.changes if c.subject == "egress hooks.slack.com:443" for r in c.risks
                 if r.id == "new-egress"]
    assert reason == ("hooks.slack.com:443 (post payout summaries) is reachable from the agent; agentiam enforces "
                      "nothing here (egress.enforcement: none), the network team must")


def test_a_punycode_host_is_shown_as_it_reads(spec_repo: SpecRepo) -> None:
    spec_repo.edit(PAYMENT, "    - host: api.stripe.com\n", "    - host: xn--pypal-4ve.com\n")
    spec_repo.commit("homograph")
    prod = entry(spec_repo.diff(), "payment-gateway-sync", "prod")
    added = next(c for c in prod.changes if c.subject == "egress xn--pypal-4ve.com:443")
    assert "xn--pypal-4ve.com (reads as p\u0430ypal.com)" in added.risks[0].reason


def test_an_environment_dropping_enforcement_is_labelled_per_agent_and_for_the_environment(
        spec_repo: SpecRepo) -> None:
    spec_repo.edit("stacks/Pulumi.prod.yaml", "      enforcement: network-firewall", "      enforcement: none")
    spec_repo.commit("no firewall")
    report = spec_repo.diff()
    agent = next(c for c in entry(report, "payment-gateway-sync", "prod").changes
                 if c.subject == "egress enforcement")
    assert (agent.before, agent.after, agent.direction) == (
        "Network Firewall rule group agentiam-prod-egress-allow-list (names, any port)",
        "not enforced by agentiam (a list for the network team)", Direction.WIDER)
    assert labels(agent) == {"new-egress"}
    environment = next(c for e in report.environments if e.environment == "prod" for c in e.changes
                       if c.subject == "egress allow-list enforcement")
    assert environment.direction is Direction.WIDER and labels(environment) == {"new-egress"}


def test_database_read_to_write(spec_repo: SpecRepo) -> None:
    spec_repo.edit(PAYMENT, "      access: write\n", "      access: read\n")
    spec_repo.commit("read only", tag="read-only")
    spec_repo.edit(PAYMENT, "      access: read\n", "      access: write\n")
    spec_repo.commit("write again")
    dev = entry(spec_repo.diff("read-only"), "payment-gateway-sync", "dev")
    database = next(c for c in dev.changes if c.system == "database")
    assert (database.op, database.before, database.after) == ("widened", "read", "write")
    assert "access-escalation" in labels(database)
    # The Vault policy path of the credential role changes with it (read role -> write role).
    vault = {(c.op, c.subject) for c in dev.changes if c.system == "vault"}
    assert vault == {("added", "agentiam-dev-database/creds/agent-dev-payment-gateway-sync-billing-write"),
                     ("removed", "agentiam-dev-database/creds/agent-dev-payment-gateway-sync-billing-read")}


def test_vault_kv_path_added(spec_repo: SpecRepo) -> None:
    spec_repo.edit(PAYMENT, "      capabilities: [read]\n", "      capabilities: [read]\n"
                   "    - path: billing/{agent}/webhooks/*\n      capabilities: [read, list]\n")
    spec_repo.commit("kv")
    staging = entry(spec_repo.diff(), "payment-gateway-sync", "staging")
    vault = {c.subject: c for c in staging.changes if c.system == "vault"}
    assert set(vault) == {"secret/data/billing/payment-gateway-sync/webhooks/*",
                          "secret/metadata/billing/payment-gateway-sync/webhooks/*"}
    assert vault["secret/data/billing/payment-gateway-sync/webhooks/*"].after == "read"
    assert vault["secret/metadata/billing/payment-gateway-sync/webhooks/*"].after == "list"
    assert all(c.field == "permissions.kv[billing/{agent}/webhooks/*]" for c in vault.values())


def test_resource_scope_widened_and_narrowed(spec_repo: SpecRepo) -> None:
    spec_repo.edit(INVOICE, "        - arn:aws:s3:::billing-{env}-invoices/*\n",
                   "        - arn:aws:s3:::billing-{env}-invoices/reports/*\n")
    spec_repo.commit("narrow", tag="narrow")
    narrowed = entry(spec_repo.diff("base", "narrow"), "invoice-reader", "dev")
    assert narrowed.verdict is Verdict.NARROWED
    assert {(c.subject, c.op) for c in narrowed.changes} == {("s3:GetObject", "narrowed"),
                                                             ("s3:ListBucket", "narrowed")}
    widened = entry(spec_repo.diff("narrow", "base"), "invoice-reader", "dev")
    change = next(c for c in widened.changes if c.subject == "s3:GetObject")
    assert (change.op, change.before, change.after) == ("widened", "arn:aws:s3:::billing-dev-invoices/reports/*",
                                                        "arn:aws:s3:::billing-dev-invoices/*")


def test_owner_and_expiry_changes(spec_repo: SpecRepo) -> None:
    spec_repo.edit(INVOICE, "  sponsor: maria.keller@example.com\n", "  sponsor: li.wei@example.com\n")
    spec_repo.edit(INVOICE, "expires: 2027-09-30\n", "expires: 2028-03-31\n")
    spec_repo.commit("owner")
    dev = entry(spec_repo.diff(), "invoice-reader", "dev")
    by_subject = {c.subject: c for c in dev.changes}
    assert by_subject["sponsor"].direction is Direction.NEUTRAL
    assert (by_subject["expires"].before, by_subject["expires"].after) == ("2027-09-30", "2028-03-31")
    assert dev.verdict is Verdict.WIDENED


def test_changed_stack_config_affects_every_agent_of_that_environment_only(spec_repo: SpecRepo) -> None:
    config = spec_repo.read("stacks/Pulumi.staging.yaml")
    spec_repo.write("stacks/Pulumi.staging.yaml", config.replace("kv_mount: secret", "kv_mount: kv-agents"))
    spec_repo.commit("kv mount")
    report = spec_repo.diff()
    assert report.changed_spec_files == [] and report.changed_stack_files == ["stacks/Pulumi.staging.yaml"]
    assert {(a.agent, a.environment) for a in report.agents} == {("invoice-reader", "staging"),
                                                                ("payment-gateway-sync", "staging")}
    paths = {c.subject for c in entry(report, "invoice-reader", "staging").changes if c.op == "added"}
    assert paths == {"kv-agents/data/billing/invoice-reader/*"}


def test_working_tree_head_sees_uncommitted_and_untracked_specs(spec_repo: SpecRepo) -> None:
    spec_repo.edit(PAYMENT, "  token_max_ttl: 8h\n", "  token_max_ttl: 12h\n")
    text = spec_repo.read(INVOICE).replace("name: invoice-reader", "name: invoice-archiver")
    spec_repo.write("agent_specs/billing/invoice-archiver.yaml", text)  # untracked
    report = spec_repo.diff("HEAD", None)
    assert report.head == "WORKTREE"
    assert report.changed_spec_files == ["agent_specs/billing/invoice-archiver.yaml", PAYMENT]
    assert entry(report, "invoice-archiver", "dev").kind == "added"
    ttl = next(c for c in entry(report, "payment-gateway-sync", "dev").changes if c.subject == "token_max_ttl")
    assert (ttl.before, ttl.after) == ("8h", "12h")


def test_invalid_head_spec_is_a_spec_error_naming_the_line(spec_repo: SpecRepo) -> None:
    spec_repo.edit(INVOICE, "function: data-retrieval\n", "function: data-retrieval\nfunction: analysis\n")
    spec_repo.commit("duplicate key")
    with pytest.raises(SpecError) as raised:
        spec_repo.diff()
    assert raised.value.findings[0].rule_id == "YAML002" and raised.value.findings[0].file == INVOICE


def test_function_class_leaving_the_no_export_fence_widens(spec_repo: SpecRepo) -> None:
    spec_repo.edit(INVOICE, "function: data-retrieval\n", "function: integration\n")
    spec_repo.commit("integration")
    report = spec_repo.diff()
    dev = entry(report, "invoice-reader", "dev")
    function = next(c for c in dev.changes if c.system == "function")
    assert (function.before, function.after, function.direction) == ("data-retrieval", "integration",
                                                                     Direction.WIDER)
    assert dev.verdict is Verdict.WIDENED
    assert "AGT031" in {f.rule_id for f in report.findings}  # integration agents need a rate limit
    back = entry(spec_repo.diff("HEAD", "base"), "invoice-reader", "dev")
    assert back.verdict is Verdict.NARROWED


def test_vault_capability_added_on_an_existing_path(spec_repo: SpecRepo) -> None:
    spec_repo.edit(PAYMENT, "      capabilities: [read]\n", "      capabilities: [read, update]\n")
    spec_repo.commit("update the api key")
    dev = entry(spec_repo.diff(), "payment-gateway-sync", "dev")
    [change] = [c for c in dev.changes if c.system == "vault"]
    assert (change.op, change.subject, change.before, change.after) == (
        "widened", "secret/data/billing/payment-gateway-sync/stripe-api-key", "read", "read, update")
    assert "access-escalation" in labels(change)
