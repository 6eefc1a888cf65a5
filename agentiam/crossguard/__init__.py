"""A Pulumi policy pack (CrossGuard) enforcing agentiam's guardrails on resources from any Pulumi program."""
