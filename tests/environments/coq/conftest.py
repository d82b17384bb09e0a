"""Shared fixtures for the Coq tests, which run the real coqidetop.

CI installs Coq (Debian's ``coq``), so a missing coqidetop fails these tests with the command
that installs it; it never skips them. A test module must leave no coqidetop behind.
"""

from __future__ import annotations

import os
import textwrap
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from data.coq.database import CoqDatabase
from environments.coq import driver
from environments.coq.driver import Coq
from environments.coq.export import export
from environments.coq.process import CoqIdeTop, CoqNotInstalled, find_coqidetop

# A small library of our own: each lemma shows one thing the packaged one cannot.
TRICKY_V = """\
(* f's argument is implicit, so @f 0 and @f 1 both print as f. *)
Definition f {n : nat} : nat := n.

Ltac close_it := reflexivity.

(* After split the two goals print alike, yet the first needs left and the second right. *)
Lemma twins : (@f 0 = 0 \\/ @f 0 = 1) /\\ (@f 1 = 0 \\/ @f 1 = 1).
Proof.
  split; [left | right]; reflexivity.
Qed.

(* After split the two goals are the same goal: one step of the tree closes both. *)
Lemma shared_goal : forall P : Prop, P -> P /\\ P.
Proof.
  intros P H; split; assumption.
Qed.

Lemma not_counted : 0 = 1.
Admitted.

Axiom magic : forall n : nat, n = 0.

Lemma uses_magic : 1 = 0.
Proof.
  exact (magic 1).
Qed.

Lemma by_term : True.
Proof I.

Lemma with_default : 0 = 0 /\\ 1 = 1.
Proof with reflexivity.
  split...
Qed.

Lemma selected : True /\\ 0 = 0.
Proof.
  split.
  2: reflexivity.
  exact I.
Qed.

Module M.
  Lemma inner : 0 + 0 = 0.
  Proof. close_it. Qed.
End M.
"""


@dataclass(frozen=True)
class Tricky:
    """The exported small library: its source directory and its database."""

    library: Path
    database: CoqDatabase


def coqidetop_children() -> list[int]:
    """The coqidetop processes this test process started and has not reaped (zombies too)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        name = stat[stat.index("(") + 1 : stat.rindex(")")]
        parent = int(stat[stat.rindex(")") + 2 :].split()[1])
        if name.startswith("coqidetop") and parent == os.getpid():
            pids.append(int(entry.name))
    return pids


@pytest.fixture(scope="module", autouse=True)
def no_leaked_coqidetop() -> Iterator[None]:
    """After each module (its own fixtures closed first): no coqidetop is left running."""
    yield
    if driver._shared is not None:  # made by CoqEnv without a coq= (traces verify's path)
        driver._shared.close()
        driver._shared = None
    assert coqidetop_children() == [], "a test left a coqidetop process running"


@pytest.fixture(scope="session")
def coqidetop() -> str:
    """The coqidetop binary; its absence fails the test (CI installs Coq), naming the fix."""
    try:
        return find_coqidetop()
    except CoqNotInstalled as e:
        pytest.fail(f"the Coq tests need the real Coq: {e}", pytrace=False)


@pytest.fixture(scope="module")
def coq(coqidetop: str) -> Iterator[Coq]:
    """One warm Coq shared by a module's tests (each attempt moves its document anyway)."""
    c = Coq()
    yield c
    c.close()


@pytest.fixture
def fresh_coq(coqidetop: str) -> Iterator[Coq]:
    """A Coq of the test's own, for tests that kill or restart its process."""
    c = Coq()
    yield c
    c.close()


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every call sent to any coqidetop during the test, as its XML."""
    sent: list[str] = []
    real = CoqIdeTop._call

    def spy(self: CoqIdeTop, xml: str, timeout: float) -> ET.Element:
        sent.append(xml)
        return real(self, xml, timeout)

    monkeypatch.setattr(CoqIdeTop, "_call", spy)
    return sent


@pytest.fixture
def added(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every sentence added to any coqidetop's document during the test."""
    sentences: list[str] = []
    real = CoqIdeTop.add

    def spy(self: CoqIdeTop, sentence: str, state: int, timeout: float) -> int:
        sentences.append(sentence)
        return real(self, sentence, state, timeout)

    monkeypatch.setattr(CoqIdeTop, "add", spy)
    return sentences


@pytest.fixture(scope="session")
def database() -> CoqDatabase:
    """The packaged export of the standard library's Arith, Bool and Lists."""
    return CoqDatabase.load()


@pytest.fixture(scope="session")
def tricky(coqidetop: str, tmp_path_factory: pytest.TempPathFactory) -> Tricky:
    """TRICKY_V as the library ``Tmp`` (file Mine/Tricky.v), exported (about a second)."""
    root = tmp_path_factory.mktemp("tricky")
    library = root / "library"
    (library / "Mine").mkdir(parents=True)
    (library / "Mine" / "Tricky.v").write_text(textwrap.dedent(TRICKY_V))
    database = export(library, ["Mine"], root / "database", timeout=30.0, prefix="Tmp")
    return Tricky(library, database)
