"""Shared fixtures of the tactic models' tests: hand-built HOL Light proof traces, written by
the real trace writer."""

from __future__ import annotations

from pathlib import Path

import pytest

from data.traces.files import write_trace
from tests.models.end_to_end.tactic_models.holist_model.helpers import goal, trace


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    """Traces of two theorems over three iterations, plus one corrupt file.

    ADD_SYM: proved in 2 steps (iteration 0, the one to keep), in 3 steps (iteration 1) and
    not at all (iteration 2). ADD_0: MP_TAC ADD, DISCH_TAC, then a THEN compound (no example).
    """
    add_sym, add_0, add_assoc = goal("ADD_SYM"), goal("ADD_0"), goal("ADD_ASSOC")
    under_add = goal("ADD_0", hypothesis="ADD")
    traces = [
        trace(
            "ADD_SYM", 0, [(add_sym, "REWRITE_TAC[ADD_CLAUSES]", add_0), (add_0, "ARITH_TAC", None)]
        ),
        trace(
            "ADD_SYM",
            1,
            [
                (add_sym, "GEN_TAC", add_assoc),
                (add_assoc, "MATCH_MP_TAC ADD_SUC", add_0),
                (add_0, "ARITH_TAC", None),
            ],
        ),
        trace("ADD_SYM", 2, []),
        trace(
            "ADD_0",
            0,
            [
                (add_0, "MP_TAC ADD", under_add),
                (under_add, "DISCH_TAC", add_assoc),
                (add_assoc, "ARITH_TAC THEN ARITH_TAC", None),
            ],
        ),
    ]
    for t in traces:
        write_trace(t, tmp_path)
    corrupt = tmp_path / "traces" / "1" / "BROKEN.json.gz"
    corrupt.write_bytes(b"not a gzip file")
    return tmp_path
