"""Tooling of the Rust threads course: the notebook harness, hygiene checks and generated navigation."""
