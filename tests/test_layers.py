"""The package's layers, read from the source: every import (module level, inside functions, under
TYPE_CHECKING) goes to the same layer or a lower one, no modules import each other in a circle, and no module
above the destinations names 1Flow, except the registry line and the commands that are 1Flow's by nature."""

from __future__ import annotations

import ast
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "actions_1flow"

RANKS = {
    "actions_1flow": 0,
    "actions_1flow.__main__": 10,
    "actions_1flow.jsvalues": 0,
    "actions_1flow.jsdate": 0,
    "actions_1flow.secrets": 0,
    "actions_1flow.privacy": 0,
    "actions_1flow.telemetry": 0,
    "actions_1flow.times": 0,
    "actions_1flow.suggest": 0,
    "actions_1flow.request_text": 0,
    "actions_1flow.fql": 1,
    "actions_1flow.mapping": 1,
    "actions_1flow.ingest": 1,
    "actions_1flow.actions": 2,
    "actions_1flow.destinations": 3,
    "actions_1flow.sandbox": 3,
    "actions_1flow.config": 4,
    "actions_1flow.pipeline": 5,
    "actions_1flow.service": 6,
    "actions_1flow.server": 7,
    "actions_1flow.admin": 7,
    "actions_1flow.console": 7,
    "actions_1flow.app": 8,
    "actions_1flow.cli": 9,
}
"""Lower numbers are lower layers: a module may import its own layer and those below."""

ONEFLOW_MODULE = "actions_1flow.destinations.oneflow"
ONEFLOW_NAMES = ("OneFlow", "oneflow", "projectApiKey", "api_base_url", "ONEFLOW", "_1flow")
"""(`sdk_url` is not one: a device report names the vendor SDK its plugin loaded, whatever the vendor.)"""
EXEMPT = {
    "actions_1flow.destinations": "the registry line",
    "actions_1flow.cli.demo": "runs the 1Flow sandbox and a 1Flow demo by nature",
    "actions_1flow.cli.sandbox": "runs the 1Flow sandbox by nature",
    "actions_1flow.cli.init": "writes a starter 1Flow configuration by nature",
}
GENERIC_LAYERS = (
    "actions_1flow.config",
    "actions_1flow.pipeline",
    "actions_1flow.service",
    "actions_1flow.server",
    "actions_1flow.admin",
    "actions_1flow.console",
    "actions_1flow.app",
    "actions_1flow.cli",
)


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> set[str]:
    """Every module `path` imports, resolved to absolute names (`from .x import y` as `pkg.x` and, when `pkg.x.y`
    is a module, that too)."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            found.add(target)
            found.update(f"{target}.{alias.name}" for alias in node.names)
    return {m for m in found if m.startswith("actions_1flow")}


def rank(module: str) -> int:
    best = max((key for key in RANKS if module == key or module.startswith(key + ".")), key=len)
    return RANKS[best]


MODULES = {module_name(p): p for p in PACKAGE.rglob("*.py")}
EDGES = {
    (name, target) for name, path in MODULES.items() for target in imports(path) if target in MODULES and target != name
}


def test_the_graph_is_read():
    assert ("actions_1flow.pipeline.worker", "actions_1flow.actions") in EDGES
    assert len(MODULES) > 80


def test_no_import_goes_up_a_layer():
    upward = sorted(f"{a} → {b}" for a, b in EDGES if rank(b) > rank(a))
    assert upward == []


def imports_between(importer: str, imported: str) -> list[str]:
    """Every import of a module of `imported` by a module of `importer` (each a package or module name)."""

    def within(module: str, package: str) -> bool:
        return module == package or module.startswith(package + ".")

    return sorted(f"{a} → {b}" for a, b in EDGES if within(a, importer) and within(b, imported))


def test_the_pipeline_does_not_import_the_configuration():
    """The pipeline takes what it needs as arguments (destinations as the kit's targets, typed options): it works
    the same whether the configuration came from a file or from a test."""
    assert imports_between("actions_1flow.pipeline", "actions_1flow.config") == []


@pytest.mark.parametrize(
    ("importer", "imported"),
    [(a, b) for a in ("server", "admin", "console") for b in ("server", "admin", "console") if a != b],
)
def test_the_servers_parts_do_not_import_each_other(importer, imported):
    """The tracking API, the admin API and the console share what is below them (`service`); only the composition
    root (`app`) puts them together."""
    assert imports_between(f"actions_1flow.{importer}", f"actions_1flow.{imported}") == []


CONTRACT_MODULES = ("actions_1flow.pipeline", "actions_1flow.pipeline.store")
"""Where the store contract's parts are imported from."""

CONSUMERS = {
    "actions_1flow.server.tracking": {"EventLog", "StoreHealth"},
    "actions_1flow.pipeline.appender": {"EventLog"},
    "actions_1flow.pipeline.suppression": {"PrivacyStore"},
    "actions_1flow.pipeline.partition": {"DeliveryLedger"},
    "actions_1flow.pipeline.worker": {"DeliveryLedger", "Leases", "Housekeeping", "PrivacyStore"},
    "actions_1flow.pipeline.queries": {"OperatorQueries"},
}
"""Each consumer of the store and the parts of the contract it may name."""
PARTS = {"Store", "StoreHealth", "EventLog", "DeviceReports", "DeliveryLedger", "Leases", "Housekeeping"}
PARTS |= {"PrivacyStore", "OperatorQueries"}


def contract_names(path: Path) -> set[str]:
    """The parts of the store contract a module imports by name."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            base = package.split(".")[: len(package.split(".")) - node.level + 1] if node.level else []
            target = ".".join([*base, node.module] if node.module else base) if node.level else node.module
            if target in CONTRACT_MODULES:
                found.update(alias.name for alias in node.names if alias.name in PARTS)
    return found


@pytest.mark.parametrize("consumer", sorted(CONSUMERS))
def test_each_consumer_of_the_store_names_only_its_part_of_the_contract(consumer):
    """The tracking API and the worker (and the rest of the pipeline's consumers) are typed against the part of
    the store contract they use, never the whole `Store`."""
    assert contract_names(MODULES[consumer]) <= CONSUMERS[consumer]


def test_the_tracking_api_and_the_worker_reach_the_store_through_their_part():
    """The tracking API writes through the group appender (typed against the event log) and never sees the whole
    server state (which holds the whole store); the worker's tasks see the delivery ledger only."""
    tracking = imports(MODULES["actions_1flow.server.tracking"])
    assert "actions_1flow.service.state" not in tracking and "actions_1flow.pipeline.appender" in tracking
    assert contract_names(MODULES["actions_1flow.pipeline.appender"]) == {"EventLog"}
    assert contract_names(MODULES["actions_1flow.pipeline.partition"]) == {"DeliveryLedger"}
    assert contract_names(MODULES["actions_1flow.pipeline.worker"]) == CONSUMERS["actions_1flow.pipeline.worker"]


def test_no_import_circles():
    # A package's __init__ re-exporting its own modules is not a circle of meaning; leave those edges out.
    graph: dict[str, set[str]] = {name: set() for name in MODULES}
    for a, b in EDGES:
        if not (MODULES[a].name == "__init__.py" and b.startswith(a + ".")):
            graph[a].add(b)
    try:
        TopologicalSorter(graph).prepare()
    except CycleError as err:
        pytest.fail(f"import circle: {' → '.join(err.args[1])}")


@pytest.mark.parametrize("layer", GENERIC_LAYERS)
def test_layers_above_the_destinations_do_not_name_1flow(layer):
    offenders = []
    for name, path in MODULES.items():
        if not (name == layer or name.startswith(layer + ".")) or name in EXEMPT:
            continue
        if any(t.startswith(ONEFLOW_MODULE) for t in imports(path)):
            offenders.append(f"{name} imports {ONEFLOW_MODULE}")
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.Name, ast.Attribute)):
                text = node.id if isinstance(node, ast.Name) else node.attr
                if any(word in text for word in ONEFLOW_NAMES):
                    offenders.append(f"{name}:{node.lineno} uses {text}")
    assert offenders == []


def test_only_the_registry_imports_a_destination_above_the_kit():
    importers = {a for a, b in EDGES if b.startswith(ONEFLOW_MODULE) and not a.startswith(ONEFLOW_MODULE)}
    sandbox = {"actions_1flow.sandbox.app", "actions_1flow.sandbox.state", "actions_1flow.sandbox.surveys"}
    assert importers - set(EXEMPT) - sandbox == set()
