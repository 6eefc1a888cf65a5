"""Agent specs: the YAML files under agent_specs/, loaded with positions and validated into models."""
