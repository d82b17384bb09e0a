"""The dependency rules between the project's layers, checked on every module's imports.

Bottom up: ``data`` (pure data) <- ``environments`` <- ``models`` <- ``experiments``. A module
imports only its own layer and those below; nothing imports ``experiments``. Besides: the data
layer holds no Ray, torch or Hydra, environments and models no Ray, and search models and
tactic models never import each other (they meet in the prover).
"""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
LAYERS = ("data", "environments", "models", "experiments")
FORBIDDEN = {
    "data": {"ray", "torch", "torch_geometric", "pytorch_lightning", "lightning", "hydra", "wandb"},
    "environments": {"ray", "pytorch_lightning", "lightning", "wandb"},
    "models": {"ray"},
}
APART = ("models.end_to_end.search_models", "models.end_to_end.tactic_models")


def imports(path: Path, module: str) -> list[tuple[int, str]]:
    """Every module ``path`` imports (at any depth: functions too), with its line."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against this module's package
                base = module.split(".")[: -node.level]
                name = ".".join([*base, node.module] if node.module else base)
            else:
                name = node.module or ""
            found.append((node.lineno, name))
    return found


def layer_violations(root: Path) -> list[str]:
    """``file:line: why`` for every import that breaks a rule, in the tree under ``root``."""
    problems = []
    for layer in LAYERS:
        for path in sorted((root / layer).rglob("*.py")):
            relative = path.relative_to(root)
            module = ".".join(relative.with_suffix("").parts)
            rank = LAYERS.index(layer)
            for line, name in imports(path, module):
                top = name.split(".")[0]
                where = f"{relative}:{line}: imports {name}"
                if top in LAYERS and LAYERS.index(top) > rank:
                    problems.append(f"{where}, from layer {top!r} above {layer!r}")
                if top in FORBIDDEN.get(layer, set()):
                    problems.append(f"{where}, which layer {layer!r} must not use")
                for own, other in (APART, APART[::-1]):
                    if module.startswith(own) and name.startswith(other):
                        problems.append(f"{where}: search and tactic models meet in the prover")
    return problems


def test_no_module_imports_up_the_layers() -> None:
    assert layer_violations(REPO) == []


def test_a_planted_upward_import_is_named_with_its_file_and_line(tmp_path: Path) -> None:
    for layer in LAYERS:
        (tmp_path / layer).mkdir()
    planted = '"""Records."""\n\nimport json\n\n\ndef f():\n'
    planted += "    from experiments.end_to_end import prover\n"  # line 7
    (tmp_path / "data" / "records.py").write_text(planted)
    (tmp_path / "environments" / "env.py").write_text("import ray\nfrom data import records\n")
    (tmp_path / "models" / "end_to_end" / "search_models").mkdir(parents=True)
    (tmp_path / "models" / "end_to_end" / "search_models" / "s.py").write_text(
        "from ..tactic_models import base\n"
    )
    assert layer_violations(tmp_path) == [
        "data/records.py:7: imports experiments.end_to_end, from layer 'experiments' above 'data'",
        "environments/env.py:1: imports ray, which layer 'environments' must not use",
        "models/end_to_end/search_models/s.py:1: imports models.end_to_end.tactic_models: "
        "search and tactic models meet in the prover",
    ]
