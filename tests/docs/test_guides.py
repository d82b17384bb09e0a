"""The "how to add" guides' code, copied out of the Markdown and run, so the guides cannot rot.

Each guide marks its example module with ``<!-- guide-test: module <dotted.name> -->`` and its
config with ``<!-- guide-test: config <group>/<option>.yaml -->`` right above the code block.
The modules are installed under their dotted names for the test (so the configs' ``_target_``s
resolve) and built through the loop's own code: the conjunction environment, the DFS search and
the each-premise tactic model prove theorems together with the real ``Prover`` and
``ProofTree``. The environment guide also shows the toy prover's real config, which must be the
shipped file.
"""

from __future__ import annotations

import math
import re
import sys
import types
from pathlib import Path
from typing import Any

import pytest
from hydra.utils import instantiate
from omegaconf import OmegaConf

from data.proof_tree import (
    ErrorKind,
    ErrorNode,
    Goal,
    InternalNode,
    ProofTree,
    Status,
)
from data.traces.files import load_trace, write_trace
from environments.base import Premise
from environments.replay import replay
from experiments.end_to_end.components import (
    environment_class,
    environment_factory,
    make_env,
    theorem_source,
)
from experiments.end_to_end.config import CONFIG_DIR
from experiments.end_to_end.prover import AttemptInfo, Prover
from models.end_to_end.search_models.base import FrontierSearch
from models.end_to_end.tactic_models.base import TacticModel
from models.end_to_end.tactic_models.tac_models import build_tactic_model

DOCS = Path(__file__).resolve().parents[2] / "docs"
GUIDES = ("adding_an_environment.md", "adding_a_search_model.md", "adding_a_tactic_model.md")
_BLOCK = re.compile(
    r"^<!-- guide-test: (module|config) (\S+) -->\n```(?:python|yaml)\n(.*?)^```", re.M | re.S
)


def guide_blocks() -> dict[tuple[str, str], str]:
    """``(kind, name) -> code`` of every marked block of every guide."""
    blocks: dict[tuple[str, str], str] = {}
    for guide in GUIDES:
        text = (DOCS / guide).read_text()
        found = _BLOCK.findall(text)
        assert found, f"docs/{guide}: no '<!-- guide-test: ... -->' code block"
        for kind, name, code in found:
            assert (kind, name) not in blocks, f"docs/{guide}: {kind} {name} marked twice"
            blocks[kind, name] = code
    return blocks


BLOCKS = guide_blocks()


def config(name: str) -> dict[str, Any]:
    """A guide's config block as plain data (what the loop hands the builders)."""
    cfg = OmegaConf.to_container(OmegaConf.create(BLOCKS["config", name]))
    assert isinstance(cfg, dict), f"guide config {name} is not a mapping"
    return {str(key): value for key, value in cfg.items()}


@pytest.fixture()
def guide_modules(monkeypatch: pytest.MonkeyPatch) -> dict[str, types.ModuleType]:
    """The guides' modules, importable under the names the guides give them."""
    modules = {}
    for (kind, name), code in BLOCKS.items():
        if kind != "module":
            continue
        parts = name.split(".")
        # Parent packages that do not exist (environments.conjunction) are made empty.
        for i in range(1, len(parts)):
            parent = ".".join(parts[:i])
            if parent not in sys.modules:
                try:
                    __import__(parent)
                except ImportError:
                    monkeypatch.setitem(sys.modules, parent, types.ModuleType(parent))
        module = types.ModuleType(name)
        monkeypatch.setitem(sys.modules, name, module)
        exec(compile(code, f"<{name} in docs>", "exec"), module.__dict__)
        modules[name] = module
    return modules


def test_every_guide_module_has_a_config(guide_modules: dict[str, types.ModuleType]) -> None:
    assert set(guide_modules) == {
        "environments.conjunction.env",
        "models.end_to_end.search_models.dfs",
        "models.end_to_end.tactic_models.each_premise",
    }
    assert {name for kind, name in BLOCKS if kind == "config"} == {
        "env_config/conjunction.yaml",
        "env_config/toy.yaml",
        "search_model/dfs.yaml",
        "tac_model/each_premise.yaml",
    }


def test_dfs_expands_the_newest_goal_first_and_records_the_trace(
    guide_modules: dict[str, types.ModuleType],
) -> None:
    search = instantiate(config("search_model/dfs.yaml"))
    assert isinstance(search, FrontierSearch)
    tree = ProofTree(Goal("root"))
    search.reset(tree.root)

    def expand(goal: str, tactic: str, subgoals: list[str]) -> None:
        """What the prover does with the goal get_goal returned."""
        selected = search.get_goal()
        assert selected is not None and selected[0].goal == Goal(goal), selected
        edge = tree.add_edge(selected[0], tactic, -1.0, subgoals=[Goal(g) for g in subgoals])
        search.process_response(edge)
        tree.mark_explored(selected[0])

    selected = search.get_goal()
    assert selected == (tree.root, 0.0) and tree.root.visit_count == 1
    for tactic, subgoals in (("t1", ["a", "b"]), ("t2", ["c"])):
        edge = tree.add_edge(tree.root, tactic, -1.0, subgoals=[Goal(g) for g in subgoals])
        search.process_response(edge)
    tree.mark_explored(tree.root)
    c = tree.find(Goal("c"))
    assert c is not None
    tree.add_edge(c, "BAD", 0.0, error=(ErrorKind.TACTIC_ERROR, "no"))  # c fails behind the
    tree.mark_explored(c)  # search's back, as a shared goal would: DFS skips it when popped
    expand("b", "t3", ["d"])  # the newest goal first (c is stale)
    expand("d", "DONE", [])  # then the newest again, one level deeper: proves b
    expand("a", "DONE", [])  # proves the root
    assert tree.root.status == Status.PROVED
    assert search.get_goal() is None
    assert [
        (e["step"], e["event"], e.get("score"), e.get("pushed")) for e in search.search_trace
    ] == [
        (0, "select", 0.0, None),
        (0, "response", None, [1, 2]),
        (0, "response", None, [3]),
        (1, "select", 1.0, None),
        (1, "response", None, [5]),
        (2, "select", 2.0, None),
        (2, "response", None, []),
        (3, "select", 1.0, None),
        (3, "response", None, []),
    ]
    assert [e["frontier"] for e in search.search_trace if e["event"] == "select"] == [0, 1, 1, 0]


def test_the_guide_shows_the_toy_provers_real_config() -> None:
    shipped = (CONFIG_DIR / "env_config" / "toy.yaml").read_text()
    assert BLOCKS["config", "env_config/toy.yaml"] == shipped, (
        "docs/adding_an_environment.md: the toy config block differs from "
        "configs/end_to_end/env_config/toy.yaml; copy the file into the guide"
    )


def test_minimal_environment_turns_every_failure_into_an_error_node(
    guide_modules: dict[str, types.ModuleType],
) -> None:
    env_config = config("env_config/conjunction.yaml")
    factory = environment_factory(env_config)
    (theorem, _) = theorem_source(env_config).split("valid")
    with factory(thm=theorem) as (env, root):
        assert [p.name for p in env.retrieve_premises()] == ["p", "q", "r"]
        rejected = env.run_tactic(root, ("print_string 'hi'", -1.0))
        failed = env.run_tactic(root, ("ACCEPT_TAC p", -1.0))
        split = env.run_tactic(root, ("CONJ_TAC", -0.5))
    kinds = [d.kind for e in (rejected, failed) for d in e.dst if isinstance(d, ErrorNode)]
    assert kinds == [ErrorKind.REJECTED, ErrorKind.TACTIC_ERROR]
    assert [d.goal.conclusion for d in split.dst if isinstance(d, InternalNode)] == ["p", "q /\\ r"]
    cls = environment_class(env_config)
    assert cls.theorem_from_dict(cls.theorem_to_dict(theorem)) == theorem
    with pytest.raises(ValueError, match="not a conjunction theorem record"):
        cls.theorem_from_dict({"statement": "p"})


def test_tactic_model_suggestions_are_sorted_and_normalised(
    guide_modules: dict[str, types.ModuleType],
) -> None:
    model = build_tactic_model(config("tac_model/each_premise.yaml"))
    assert isinstance(model, TacticModel)
    premises = [Premise(name=x, statement=x) for x in ("p", "q")]
    out = model.get_tactics([Goal("q"), Goal("p /\\ q")], [premises, premises[:1]])
    assert [t for t, _ in out[0]] == ["ACCEPT_TAC q", "CONJ_TAC", "ACCEPT_TAC p"]
    assert [t for t, _ in out[1]] == ["ACCEPT_TAC p", "CONJ_TAC"]
    for suggestions in out:
        logprobs = [lp for _, lp in suggestions]
        assert logprobs == sorted(logprobs, reverse=True)
        assert math.isclose(math.fsum(math.exp(lp) for lp in logprobs), 1.0)
    with pytest.raises(ValueError, match="one list per goal"):
        model.get_tactics([Goal("p")], [])


def test_the_three_guides_prove_and_replay_together(
    guide_modules: dict[str, types.ModuleType], tmp_path: Path
) -> None:
    env_config = config("env_config/conjunction.yaml")
    factory = environment_factory(env_config)
    cls = environment_class(env_config)
    model = build_tactic_model(config("tac_model/each_premise.yaml"))
    prover = Prover(
        instantiate(config("search_model/dfs.yaml")),
        model.get_tactics,
        num_sampled_tactics=4,
        total_timeout=30.0,
        env_timeout=30.0,
    )
    environment = {"name": env_config["name"], "config": env_config}
    statuses = {}
    for theorem in theorem_source(env_config).split("valid"):
        info = AttemptInfo(
            theorem_id=cls.theorem_id(theorem),
            theorem=cls.theorem_to_dict(theorem),
            environment=environment,
            iteration=0,
            models={},
        )
        trace = load_trace(write_trace(prover.prove(factory(thm=theorem), info), tmp_path))
        statuses[trace.theorem_id] = trace.status
        if trace.proved:
            assert [s.tactic for s in trace.proof_steps()] == [
                "CONJ_TAC",
                "ACCEPT_TAC p",
                "CONJ_TAC",
                "ACCEPT_TAC q",
                "ACCEPT_TAC r",
            ]
            ok, reason = replay(trace, make_env(environment, trace.theorem))
            assert ok, reason
    assert statuses == {"and_pqr": "proved", "and_ps": "failed"}
