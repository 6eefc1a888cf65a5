"""Per-environment facts (account, region, Vault mounts, databases, log routing) read from stacks/Pulumi.<env>.yaml."""
