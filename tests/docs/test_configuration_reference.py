"""docs/configuration.md against the configs: every field documented, with its real default.

Each table of the page follows a marker line ``<!-- config: <name> -->``: ``end_to_end/<...>.yaml``
(a file under ``configs/``) or ``lightning_runner`` (the runner's ``DEFAULTS``). Rows are
``| `dotted.field` | `default` | meaning |``; a default is compared with the unresolved config
value as YAML, so interpolations (``${...}``) and ``???`` are compared literally.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from omegaconf import OmegaConf

from experiments.end_to_end.config import compose

REPO = Path(__file__).resolve().parents[2]
PAGE = REPO / "docs" / "configuration.md"
CONFIGS = REPO / "configs"
RUNNER = "lightning_runner"
SKIPPED_KEYS = ("defaults", "hydra")

_MARKER = re.compile(r"<!--\s*config:\s*(\S+)\s*-->")
_CODE = re.compile(r"`([^`]*)`")


def parse_page(text: str) -> dict[str, dict[str, str]]:
    """Marked tables of the page: config name -> {field: default text}."""
    tables: dict[str, dict[str, str]] = {}
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        marker = _MARKER.fullmatch(lines[i].strip())
        i += 1
        if marker is None:
            continue
        name = marker.group(1)
        assert name not in tables, f"docs/configuration.md: two tables marked 'config: {name}'"
        while i < len(lines) and not lines[i].lstrip().startswith("|"):
            assert not _MARKER.fullmatch(lines[i].strip()), f"'config: {name}' has no table"
            i += 1
        rows = []
        while i < len(lines) and lines[i].lstrip().startswith("|"):
            rows.append(lines[i])
            i += 1
        assert len(rows) >= 2, f"docs/configuration.md: marker 'config: {name}' has no table"
        header = [c.strip() for c in _cells(rows[0])]
        assert header == ["field", "default", "meaning"], (
            f"docs/configuration.md, table 'config: {name}': header must be "
            f"'| field | default | meaning |', got {rows[0]!r}"
        )
        tables[name] = _fields(name, rows[2:])
    return tables


def _cells(row: str) -> list[str]:
    """The cells of a Markdown table row (``\\|`` is a literal bar)."""
    cells = re.split(r"(?<!\\)\|", row.strip())
    return [c.replace("\\|", "|") for c in cells[1:-1]]


def _fields(name: str, rows: list[str]) -> dict[str, str]:
    fields: dict[str, str] = {}
    for row in rows:
        cells = _cells(row)
        where = f"docs/configuration.md, table 'config: {name}', row {row!r}"
        assert len(cells) == 3, f"{where}: expected 3 cells, got {len(cells)}"
        field = _CODE.fullmatch(cells[0].strip())
        default = _CODE.fullmatch(cells[1].strip())
        assert field, f"{where}: the field must be one dotted path in backticks"
        assert default, f"{where}: the default must be one value in backticks"
        assert field.group(1) not in fields, f"{where}: field documented twice"
        fields[field.group(1)] = default.group(1)
    return fields


def flatten(node: Any, prefix: str = "") -> dict[str, Any]:
    """Dotted leaf paths of a plain config; lists and empty mappings are leaves."""
    if isinstance(node, dict) and node:
        out: dict[str, Any] = {}
        for key, value in node.items():
            if not prefix and key in SKIPPED_KEYS:
                continue
            out.update(flatten(value, f"{prefix}{key}."))
        return out
    return {prefix[:-1]: node}


def plain(cfg: Any) -> Any:
    """A config as plain data, interpolations and ``???`` left as written."""
    return OmegaConf.to_container(cfg, resolve=False)


def runner_defaults() -> dict[str, Any]:
    """``experiments.lightning_runner.DEFAULTS`` (the suite imports the runner anyway)."""
    from experiments.lightning_runner import DEFAULTS

    return DEFAULTS


def primary_configs() -> list[Path]:
    """Configs run with ``--config-name`` (the ones directly in configs/end_to_end/)."""
    return sorted((CONFIGS / "end_to_end").glob("*.yaml"))


def group_choices(primary: Path) -> dict[str, str]:
    """``{group: option}`` of a primary config's ``defaults:`` list.

    An entry naming another primary config (``- hol_light``) brings that config's choices;
    ``override group: option`` replaces one of them.
    """
    choices: dict[str, str] = {}
    for entry in plain(OmegaConf.load(primary)).get("defaults", []):
        if entry == "_self_":
            continue
        if isinstance(entry, str):
            base = primary.with_name(f"{entry}.yaml")
            assert base.exists(), f"{primary}: defaults entry {entry!r} is not a primary config"
            choices.update(group_choices(base))
            continue
        assert isinstance(entry, dict) and len(entry) == 1, (
            f"{primary}: defaults entry {entry!r} is not 'group: option'; extend this test"
        )
        ((group, option),) = entry.items()
        group = str(group).removeprefix("override ").strip()
        choices[group] = str(option)
    return choices


def config_fields(name: str) -> dict[str, Any]:
    """The documented unit's fields and their unresolved values."""
    if name == RUNNER:
        return flatten(plain(OmegaConf.create(runner_defaults())))
    path = CONFIGS / name
    assert path.is_file(), (
        f"docs/configuration.md documents 'config: {name}', but configs/{name} does not exist"
    )
    own = plain(OmegaConf.load(path))
    if any(isinstance(e, str) and e != "_self_" for e in own.get("defaults", [])):
        # A primary built on another (prove.yaml on hol_light.yaml): only what it changes.
        return flatten({k: v for k, v in own.items() if k not in SKIPPED_KEYS})
    if path in primary_configs():
        # The composed config, less the group subtrees: those are documented per option file.
        cfg = plain(compose([], config_name=path.stem))
        choices = group_choices(path)
        fields = flatten({k: v for k, v in cfg.items() if k not in choices})
        fields.update(choices)
        return fields
    return flatten(plain(OmegaConf.load(path)))


def yaml_value(text: str) -> Any:
    """A documented default read as YAML, the way OmegaConf reads a config file."""
    return plain(OmegaConf.create(f"v: {text}"))["v"]


def same(a: Any, b: Any) -> bool:
    """Equal, with the same types (``2`` is not ``2.0``, ``1`` is not ``true``)."""
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and a == b


def expected_configs() -> list[str]:
    files = sorted(p.relative_to(CONFIGS).as_posix() for p in CONFIGS.rglob("*.yaml"))
    return [*files, RUNNER]


TABLES = parse_page(PAGE.read_text())


def test_every_config_has_a_table() -> None:
    missing = [name for name in expected_configs() if name not in TABLES]
    assert not missing, (
        f"docs/configuration.md has no table for {missing}; add a section with "
        "'<!-- config: <name> -->' above a '| field | default | meaning |' table"
    )


@pytest.mark.parametrize("name", expected_configs())
def test_table_lists_exactly_the_config_fields(name: str) -> None:
    if name not in TABLES:
        pytest.skip(f"no table for {name} (test_every_config_has_a_table reports it)")
    documented = set(TABLES[name])
    actual = set(config_fields(name))
    problems = []
    if undocumented := sorted(actual - documented):
        problems.append(f"fields of the config missing from the table: {undocumented}")
    if unknown := sorted(documented - actual):
        problems.append(f"documented fields that the config does not have: {unknown}")
    assert not problems, f"docs/configuration.md, table 'config: {name}': " + "; ".join(problems)


@pytest.mark.parametrize("name", expected_configs())
def test_documented_defaults_match_the_config(name: str) -> None:
    if name not in TABLES:
        pytest.skip(f"no table for {name} (test_every_config_has_a_table reports it)")
    fields = config_fields(name)
    wrong = []
    for field, text in TABLES[name].items():
        if field not in fields:
            continue  # reported by test_table_lists_exactly_the_config_fields
        try:
            documented = yaml_value(text)
        except Exception as e:  # any YAML or OmegaConf error: report it with the field
            wrong.append(f"{field}: `{text}` is not a YAML value ({e})")
            continue
        if not same(documented, fields[field]):
            wrong.append(f"{field}: documented `{text}`, the config has {fields[field]!r}")
    assert not wrong, f"docs/configuration.md, table 'config: {name}':\n  " + "\n  ".join(wrong)


@pytest.mark.parametrize("primary", [p.name for p in primary_configs()])
def test_composed_groups_are_documented_by_their_option_tables(primary: str) -> None:
    """What a run really gets under each group: the option's fields, and those of the options
    its own ``defaults:`` list places inside it (``holist@components.learned``, or a subgroup
    such as ``goal_model: constant``, which the primary may override:
    ``override search_model/goal_model: trained``)."""
    path = CONFIGS / "end_to_end" / primary
    cfg = plain(compose([], config_name=path.stem))
    choices = group_choices(path)
    for group, option in choices.items():
        if "/" in group:  # a subgroup: checked inside its group
            continue
        expected = _option_fields(group, option, choices)
        actual = set(flatten(cfg[group]))
        assert actual == expected, (
            f"{primary}: the composed '{group}' ({option}) has fields the option tables do not "
            f"document: {sorted(actual - expected)}; documented but absent: "
            f"{sorted(expected - actual)}"
        )


def _option_fields(group: str, option: str, choices: dict[str, str]) -> set[str]:
    name = f"end_to_end/{group}/{option}.yaml"
    assert name in TABLES, f"docs/configuration.md has no table for {name}"
    fields = set(TABLES[name])
    for entry in plain(OmegaConf.load(CONFIGS / name)).get("defaults", []):
        if entry == "_self_":
            continue
        if isinstance(entry, dict) and len(entry) == 1:  # a subgroup, e.g. goal_model: constant
            ((sub, default),) = entry.items()
            chosen = choices.get(f"{group}/{sub}", str(default))
            nested = _option_fields(f"{group}/{sub}", chosen, choices)
            fields |= {f"{sub}.{f}" for f in nested}
            continue
        assert isinstance(entry, str) and "@" in entry, (
            f"configs/{name}: defaults entry {entry!r} is not 'option@package' or "
            "'subgroup: option'; extend this test"
        )
        nested_option, package = entry.split("@", 1)
        fields |= {f"{package}.{f}" for f in _option_fields(group, nested_option, choices)}
    return fields


def test_the_checker_catches_a_wrong_default_and_a_missing_field() -> None:
    page = (
        "<!-- config: end_to_end/search_model/bfs.yaml -->\n"
        "| field | default | meaning |\n|---|---|---|\n"
        "| `_target_` | `models.end_to_end.search_models.bestfs.BestFS` | wrong |\n"
        "| `depth` | `3` | not a field |\n"
    )
    table = parse_page(page)["end_to_end/search_model/bfs.yaml"]
    fields = config_fields("end_to_end/search_model/bfs.yaml")
    assert set(table) - set(fields) == {"depth"}
    assert not same(yaml_value(table["_target_"]), fields["_target_"])
    assert not same(yaml_value("2"), 2.0) and not same(yaml_value("true"), 1)
    assert same(yaml_value("${seed}"), "${seed}") and same(yaml_value("???"), "???")
