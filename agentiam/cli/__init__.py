"""The `agentiam` command line: one module per command, each a thin facade call plus a renderer."""
