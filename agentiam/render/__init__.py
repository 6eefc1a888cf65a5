"""Writers that turn findings, plans and diffs into text, JSON, SARIF and Markdown. No logic of their own."""
