"""Unit tests of the kill switch facade and its report (fake sides; real servers in tests/integration)."""
