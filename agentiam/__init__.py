"""agentiam: identities for autonomous AI agents, declared as reviewed YAML specs.

The core (spec, rules, plan, diff) imports neither Pulumi nor any cloud SDK, so
`agentiam validate` / `plan` / `diff` start fast and run without servers.
"""

__version__ = "0.1.0"
