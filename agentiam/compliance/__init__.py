"""Compliance evidence: per control, what agentiam enforces, the evidence per agent, and the gaps."""
