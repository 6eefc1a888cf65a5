"""Guardrails: one small rule per unit, each with a stable id, a severity and a one-line rationale.

A rule is data plus a check function. `ALL_RULES` (in `agentiam.rules.registry`) lists them
explicitly; nothing registers itself at import time.
"""
