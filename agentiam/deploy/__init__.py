"""What deploying needs outside the Pulumi program: the one-time setup of an environment (`agentiam bootstrap`)
and the preflight against its live servers (`agentiam doctor`), both derived from the plan."""
