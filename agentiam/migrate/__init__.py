"""Migration from shared credentials (field guide, phase 3): waves by blast radius, the parallel run, then the
legacy credentials retired, each step read back from the servers (docs/migrate.md).

- `waves`: which agents move first (the inventory's blast-radius tiers, never re-derived), and the spec waves
  that break the order;
- `legacy`: where each agent stands (`status`) and retiring its legacy credentials (`revoke_legacy`), over the
  `LegacyAws` / `LegacyVault` protocols, implemented by `aws_adapter.py` (boto3) and `vault_adapter.py` (hvac),
  which the CLI imports only when a server is asked;
- `evidence`: what the audit logs and CloudTrail say about the legacy credentials and the agents' own identities;
- `state`: the durable record of every revoke-legacy run (forced runs and their reasons first of all).
"""
