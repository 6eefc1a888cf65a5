"""`LogRouting`: agent activity routed apart from human activity, an alarm on denied agent calls, the audit device."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws
import pulumi_vault as vault

from agentiam.plan.model import LogRoutingPlan


@dataclass(frozen=True)
class LogRoutingArgs:
    """The plan's `platform.log_routing` entry and the environment's tags."""

    plan: LogRoutingPlan
    tags: dict[str, str]


class LogRouting(pulumi.ComponentResource):
    """Environment-wide log routing; owned by the stack with `selection.shared_resources: true`."""

    audit_config_block: str | None  # set when the server refuses API-managed audit devices

    def __init__(self, name: str, args: LogRoutingArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("agentiam:index:LogRouting", name, None, opts)
        plan = args.plan
        child = pulumi.ResourceOptions(parent=self)
        aws.cloudwatch.LogGroup(f"{name}-agent-activity", name=plan.agent_log_group,
                                retention_in_days=plan.retention_days, tags=args.tags, opts=child)
        # The trail log group exists already (account CloudTrail); only agent-role events leave through the filter.
        # A new destination forces a replacement, and PutSubscriptionFilter writes by name: created first, the new
        # filter would be the one the old one's deletion removes (terraform-provider-aws, subscription_filter.go).
        aws.cloudwatch.LogSubscriptionFilter(
            f"{name}-agent-events", name=plan.subscription_filter_name, log_group=plan.trail_log_group,
            filter_pattern=plan.subscription_filter_pattern, destination_arn=plan.destination_arn,
            role_arn=plan.destination_role_arn,
            opts=pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(delete_before_replace=True)))
        aws.cloudwatch.LogMetricFilter(
            f"{name}-access-denied", name=plan.denied_metric_filter_name, log_group_name=plan.trail_log_group,
            pattern=plan.denied_metric_filter_pattern,
            metric_transformation=aws.cloudwatch.LogMetricFilterMetricTransformationArgs(
                name=plan.denied_metric_name, namespace=plan.denied_metric_namespace, value="1"),
            opts=child)
        # Sum of denied calls per period >= threshold; no data means no denial, not an unknown state.
        aws.cloudwatch.MetricAlarm(
            f"{name}-access-denied-alarm", name=plan.denied_alarm_name, namespace=plan.denied_metric_namespace,
            metric_name=plan.denied_metric_name, statistic="Sum", period=plan.denied_alarm_period,
            evaluation_periods=1, threshold=plan.denied_alarm_threshold,
            comparison_operator="GreaterThanOrEqualToThreshold", treat_missing_data="notBreaching",
            alarm_actions=[plan.alarm_topic_arn], tags=args.tags, opts=child)
        audit = plan.audit
        if audit.api_managed:
            # Every field of an audit device forces a replacement on the same path, which Vault refuses while the
            # old device is there (terraform-provider-vault, resource_audit.go): the old one goes first. Protected:
            # losing the device silently stops the audit trail.
            vault.Audit(f"{name}-vault-audit", path=audit.path, type=audit.type, options=audit.options,
                        opts=pulumi.ResourceOptions.merge(
                            child, pulumi.ResourceOptions(protect=True, delete_before_replace=True)))
            self.audit_config_block = None
        else:
            # OpenBao 2.4.0 and later: declared in the server's config file (docs/facts.md#vault-audit); operators
            # paste this block, and `agentiam doctor` checks that the device is there.
            self.audit_config_block = audit.config_block
        self.register_outputs({"audit_config_block": self.audit_config_block})
