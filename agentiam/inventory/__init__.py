"""Inventory: every agent identity of the plan with what it holds, what it reaches and its blast radius; and, with
`--live`, the real Vault and AWS put side by side with the plan (undeclared, long-lived, drifted)."""
