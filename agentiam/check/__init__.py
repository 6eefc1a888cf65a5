"""Continuous validation: what each agent really did (agentiam.audit records) against what its plan grants."""
