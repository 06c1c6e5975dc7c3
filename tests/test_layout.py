"""The code is a tree: no import circles between the files of the Rust core
or between the modules of the Python package (ARCHITECTURE.md)."""

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CORE = ROOT / "crates" / "rustrnn-core" / "src"
PACKAGE = ROOT / "python" / "rustrnn"


def _cycle(graph: dict):
    """A cycle of `graph` ({node: set(node)}) as a list, or None."""
    state: dict = {}
    stack: list = []

    def visit(n):
        state[n] = 1
        stack.append(n)
        for m in sorted(graph.get(n, ())):
            if state.get(m) == 1:
                return stack[stack.index(m):] + [m]
            if m not in state:
                found = visit(m)
                if found:
                    return found
        stack.pop()
        state[n] = 2
        return None

    for n in sorted(graph):
        if n not in state:
            found = visit(n)
            if found:
                return found
    return None


def _rust_modules() -> dict:
    """{module path tuple: file} for every file of the core."""
    mods = {}
    for f in CORE.rglob("*.rs"):
        parts = list(f.relative_to(CORE).with_suffix("").parts)
        if parts[-1] in ("mod", "lib"):
            parts = parts[:-1]
        mods[tuple(parts)] = f
    return mods


def _strip_tests(text: str) -> str:
    """The source without its `#[cfg(test)] mod tests { ... }` block (tests may import anything)."""
    m = re.search(r"#\[cfg\(test\)\]\s*mod \w+ \{", text)
    return text[:m.start()] if m else text


def _rust_graph() -> dict:
    mods = _rust_modules()
    graph = {}
    for mod, f in mods.items():
        if f.name == "tests.rs" or f.name == "reference.rs":
            continue
        text = "\n".join(l for l in _strip_tests(f.read_text()).splitlines() if not l.lstrip().startswith("//"))
        here = list(mod) if f.name in ("mod.rs", "lib.rs") else list(mod[:-1])
        deps = set()
        for path in re.findall(r"\b((?:crate|super)(?:::\w+)+)", text):
            parts = path.split("::")
            base = []
            if parts[0] == "crate":
                base, rest = [], parts[1:]
            else:
                base, rest = list(here), parts
                while rest and rest[0] == "super":
                    base = base[:-1] if rest is not parts else base
                    rest = rest[1:]
                # `super::x` from a file is a sibling: `here` is already the parent
            target = base + rest
            while target and tuple(target) not in mods:
                target = target[:-1]
            if tuple(target) != mod and tuple(target) in mods and target:
                deps.add(tuple(target))
        graph[mod] = deps
    return graph


def test_the_rust_core_has_no_import_circles():
    graph = _rust_graph()
    assert ("nn", "layer") in graph and graph[("models", "sequential")], "the scan found the modules"
    assert _cycle(graph) is None, " -> ".join("::".join(m) for m in _cycle(graph))


def _python_graph() -> dict:
    graph = {}
    for f in PACKAGE.rglob("*.py"):
        rel = f.relative_to(PACKAGE).with_suffix("")
        parts = list(rel.parts)
        is_pkg = parts[-1] == "__init__"
        if is_pkg:
            parts = parts[:-1]
        name = ".".join(["rustrnn"] + parts)
        pkg = name if is_pkg else name.rsplit(".", 1)[0]
        deps = set()
        for node in ast.walk(ast.parse(f.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level:
                base = pkg.split(".")
                base = base[:len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
                for alias in node.names:
                    sub = f"{target}.{alias.name}"
                    deps.add(sub if (PACKAGE.parent / sub.replace(".", "/")).with_suffix(".py").exists()
                             or (PACKAGE.parent / sub.replace(".", "/")).is_dir() else target)
        graph[name] = {d for d in deps if d != name and d != "rustrnn"} if name != "rustrnn" else deps - {name}
    return graph


def test_the_python_package_has_no_import_circles():
    graph = _python_graph()
    # The package's __init__ imports everything; no module may import the package back.
    inner = {k: {d for d in v} for k, v in graph.items()}
    assert "rustrnn.models" in inner and "rustrnn.saving" in inner["rustrnn.models"]
    assert _cycle(inner) is None, " -> ".join(_cycle(inner))
