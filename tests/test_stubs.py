"""The checked-in stubs describe the compiled module: same names, same methods."""

import ast
from pathlib import Path

import rustrnn._native as native

STUB = Path(__file__).resolve().parents[1] / "python" / "rustrnn" / "_native.pyi"


def _stub_names():
    tree = ast.parse(STUB.read_text())
    top, classes = set(), {}
    for node in tree.body:
        if isinstance(node, ast.FunctionDef):
            top.add(node.name)
        elif isinstance(node, ast.AnnAssign):
            top.add(node.target.id)
        elif isinstance(node, ast.ClassDef):
            top.add(node.name)
            members = set()
            for item in node.body:
                if isinstance(item, ast.FunctionDef):
                    members.add(item.name)
                elif isinstance(item, ast.AnnAssign):
                    members.add(item.target.id)
            classes[node.name] = members
    return top, classes


def test_stub_lists_exactly_the_public_native_names():
    top, _ = _stub_names()
    public = {n for n in dir(native) if not n.startswith("_")} | {"__version__"}
    assert top == public


def test_stub_classes_list_exactly_their_methods():
    _, classes = _stub_names()
    for cls_name, members in classes.items():
        cls = getattr(native, cls_name)
        public = {n for n in vars(cls) if not n.startswith("_")} | ({"__init__"} & members)
        assert members == public, cls_name
