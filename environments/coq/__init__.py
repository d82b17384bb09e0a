"""The Coq environment: coqidetop over pipes, a safe tactic grammar, the standard library as
theorems."""
