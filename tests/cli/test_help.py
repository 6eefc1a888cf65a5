"""`agentiam --help` shows every command's whole first sentence, wrapped to the terminal, never cut with `...`."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from agentiam.cli.main import COMMANDS, cli


@pytest.mark.parametrize("width", [80, 120])
def test_top_level_help_shows_every_description_whole(width, monkeypatch):
    monkeypatch.setenv("COLUMNS", str(width))
    result = CliRunner().invoke(cli, ["--help"], terminal_width=width)
    assert result.exit_code == 0
    section = result.output[result.output.index("Commands:"):]
    assert "..." not in section
    assert all(len(line) <= width for line in result.output.splitlines())
    flat = " ".join(section.split())
    ctx = cli.make_context("agentiam", ["--help"], resilient_parsing=True)
    for name in COMMANDS:
        sentence = cli.get_command(ctx, name).get_short_help_str(limit=10_000)
        assert len(sentence) > 20 and f"{name} {sentence}" in flat, name
