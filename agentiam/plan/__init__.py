"""The identity plan: pure, deterministic data of everything that will exist per agent x environment."""
