"""ReProver-style generative tactic model: a byte-level T5 that writes tactics as text."""
