"""A toy prover shipped with the framework: propositional logic in natural deduction.

Pure Python and instant to start, with a real notion of proof, its own theorem set
(``data/toy/theorems.jsonl``) and its own tactic models: the reference environment, and the
one the fast tests of the prover, the searches and the loop run on. See docs/toy.md.
"""
