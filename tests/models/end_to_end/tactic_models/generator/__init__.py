"""Tests of the ReProver-style generative tactic model."""
