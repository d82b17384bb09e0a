"""The toy prover's tactic models: a fixed prior over the candidate tactics of a goal, and a
small learned MLP that scores the same candidates, with its data module."""
