"""Unit tests of the agent-side client (fake Vault answers; the real server is in tests/integration)."""
