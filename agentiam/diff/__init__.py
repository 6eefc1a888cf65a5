"""Permission diff between two revisions of the specs and stack configs: what a pull request changes in power."""
