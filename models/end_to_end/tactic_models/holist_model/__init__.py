"""DeepHOL's tactic classifier + premise scorer: the Lightning module, its data and the
prover-facing TacticModel."""
