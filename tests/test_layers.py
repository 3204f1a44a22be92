"""The import layers of ``vision_cli`` (ARCHITECTURE.md): every import of the package's own modules
points down or sideways, never up; ``rich`` lives in ``render``, ``anthropic`` in ``client``,
``typer`` in ``cli``.

Imports are read from the source with :mod:`ast`, so a function-local or ``TYPE_CHECKING``-only
import counts like any other: a type-only arrow up is still an arrow up.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "vision_cli"

#: Top to bottom. A module may import its own layer and the layers below it. A module of the
#: package that no layer names fails the test, so a new module is placed on purpose.
LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("entry", ("vision_cli.__main__",)),
    ("cli", ("vision_cli.cli",)),
    ("render", ("vision_cli.render",)),
    (
        "cores",
        (
            "vision_cli.inspecting",
            "vision_cli.resizing",
            "vision_cli.estimating",
            "vision_cli.asking",
            "vision_cli.bulk",
            "vision_cli.locating",
            "vision_cli.results",
            "vision_cli.uploads",
        ),
    ),
    (
        "services",
        (
            "vision_cli.client",
            "vision_cli.schema",
            "vision_cli.boxes",
            "vision_cli.drawing",
            "vision_cli.config",
        ),
    ),
    ("images", ("vision_cli.imaging", "vision_cli.sources", "vision_cli.fetching")),
    (
        "rules",
        (
            "vision_cli.policy",
            "vision_cli.judging",
            "vision_cli.tiling",
            "vision_cli.units",
            "vision_cli.catalog",
            "vision_cli.lifecycle",
        ),
    ),
    (
        "primitives",
        (
            "vision_cli.limits",
            "vision_cli.formats",
            "vision_cli.names",
            "vision_cli.exitcodes",
            "vision_cli.fsutil",
            "vision_cli.workers",
            "vision_cli.environment",
            "vision_cli.collector",
            "vision_cli",
        ),
    ),
)

#: Third-party packages each allowed in one place only.
CONFINED = {
    "rich": "vision_cli.render",
    "anthropic": "vision_cli.client",
    "typer": "vision_cli.cli",
}


def _within(module: str, prefix: str) -> bool:
    """``module`` is ``prefix`` or inside it; the package itself only as itself."""
    if prefix == "vision_cli":
        return module == prefix
    return module == prefix or module.startswith(prefix + ".")


def layer_of(module: str) -> int:
    """The index of the layer ``module`` belongs to (the longest matching prefix wins)."""
    best: tuple[int, int] | None = None
    for index, (_, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            if _within(module, prefix) and (best is None or len(prefix) > best[0]):
                best = (len(prefix), index)
    if best is None:
        raise LookupError(module)
    return best[1]


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports(
    path: Path, *, names: bool = True, module: str | None = None
) -> Iterator[tuple[int, str]]:
    """Every module ``path`` imports, absolute, with its line number; with ``names``, each name
    of a ``from`` import too (it may be a module). ``module``: the file's module name, when it
    is not under the package."""
    name = module or module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            yield node.lineno, base
            for alias in node.names if names else ():  # ``from vision_cli import render``
                yield node.lineno, f"{base}.{alias.name}"


def sources() -> list[Path]:
    found = sorted(PACKAGE.rglob("*.py"))
    assert len(found) > 20, f"no package found at {PACKAGE}"
    return found


def own_module(target: str) -> str | None:
    """``target`` if it is one of the package's modules or packages, else None (a name inside a
    module, such as ``vision_cli.policy.Code``, counts as its module)."""
    while target.startswith("vision_cli"):
        relative = Path(*target.split("."))
        if (PACKAGE.parent / relative).with_suffix(".py").exists() or (
            PACKAGE.parent / relative / "__init__.py"
        ).exists():
            return target
        target = target.rpartition(".")[0]
    return None


def test_every_module_has_a_layer() -> None:
    missing = []
    for path in sources():
        try:
            layer_of(module_name(path))
        except LookupError:
            missing.append(module_name(path))
    assert not missing, "place these in a layer (and in ARCHITECTURE.md):\n" + "\n".join(missing)


def test_no_import_points_up() -> None:
    upward = []
    for path in sources():
        here = module_name(path)
        for line, target in imports(path):
            own = own_module(target)
            if own is None or own == "vision_cli":
                continue
            if layer_of(own) < layer_of(here):
                upward.append(f"{here}:{line} imports {own} ({LAYERS[layer_of(own)][0]})")
    assert not upward, "imports that point up:\n" + "\n".join(sorted(set(upward)))


@pytest.mark.parametrize("third_party", sorted(CONFINED))
def test_third_party_packages_stay_in_their_place(third_party: str) -> None:
    home = CONFINED[third_party]
    strays = []
    for path in sources():
        here = module_name(path)
        for line, target in imports(path, names=False):
            if _within(target, third_party) and not _within(here, home):
                strays.append(f"{here}:{line} imports {target}")
    assert not strays, f"{third_party} outside {home}:\n" + "\n".join(sorted(set(strays)))


def _unit(module: str) -> str:
    """The top-level module or package ``module`` belongs to (``vision_cli.asking.fitting`` ->
    ``vision_cli.asking``): the unit the no-cycle rule is about."""
    return ".".join(module.split(".")[:2])


def test_no_cycle_between_modules() -> None:
    """Sideways imports are allowed within a layer, but never both ways round: two modules that
    need each other are one module, or a third one is missing."""
    graph: dict[str, set[str]] = {}
    for path in sources():
        here = _unit(module_name(path))
        for _, target in imports(path):
            own = own_module(target)
            if own is not None and own != "vision_cli" and _unit(own) != here:
                graph.setdefault(here, set()).add(_unit(own))
    cycles = []
    for start in sorted(graph):
        stack: list[tuple[str, tuple[str, ...]]] = [(start, (start,))]
        seen: set[str] = set()
        while stack:
            node, trail = stack.pop()
            for after in sorted(graph.get(node, ())):
                if after == start:
                    cycles.append(" -> ".join((*trail, start)))
                elif after not in seen:
                    seen.add(after)
                    stack.append((after, (*trail, after)))
    assert not cycles, "modules that import each other:\n" + "\n".join(cycles)


def test_the_layer_check_catches_an_upward_import(tmp_path: Path) -> None:
    """The check itself can fail: a bottom module importing the CLI is reported."""
    fake = tmp_path / "limits.py"
    fake.write_text("from vision_cli.cli import app\nfrom . import render\n", encoding="utf-8")
    here = "vision_cli.limits"
    found = {own_module(t) for _, t in imports(fake, module=here)} - {None, "vision_cli"}
    assert found == {"vision_cli.cli", "vision_cli.cli.app", "vision_cli.render"}
    assert all(layer_of(str(own)) < layer_of(here) for own in found)


def _runtime_imports(tree: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    """The imports of a module outside ``if TYPE_CHECKING:`` blocks."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING":
            continue
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node
        else:
            yield from _runtime_imports(node)


def _imports_pil_image(node: ast.Import | ast.ImportFrom) -> bool:
    if isinstance(node, ast.Import):
        return any(alias.name == "PIL.Image" for alias in node.names)
    if node.module == "PIL":
        return any(alias.name == "Image" for alias in node.names)
    return node.module == "PIL.Image"


def test_pillow_image_comes_from_imaging_pillow() -> None:
    """Pillow's ``Image`` is taken from ``vision_cli.imaging.pillow`` everywhere, which sets its
    decompression-bomb guard to the pixel budget on import: so the guard holds however the first
    image of a run is opened (type-only imports aside)."""
    home = "vision_cli.imaging.pillow"
    strays = [
        f"{module_name(path)}:{node.lineno}"
        for path in sources()
        if module_name(path) != home
        for node in _runtime_imports(ast.parse(path.read_text(encoding="utf-8")))
        if _imports_pil_image(node)
    ]
    assert strays == [], "take Image from vision_cli.imaging.pillow:\n" + "\n".join(strays)
