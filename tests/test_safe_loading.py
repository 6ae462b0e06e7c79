"""No unsafe loading anywhere in the shipped code (issue 9, item 3).

An AST scan of ``unihm_core/``, ``app/``, ``bench/`` and ``app.py``:

* ``torch.load`` must pass ``weights_only=True``;
* ``numpy.load`` must pass ``allow_pickle=False`` explicitly (uploads are ``.npy`` files);
* a transformers model's ``from_pretrained`` must pass ``use_safetensors=True`` (no pickled ``.bin`` weights;
  tokenizers load no weights and are exempt);
* no ``pickle`` / ``dill`` / ``cloudpickle`` / ``joblib`` / ``marshal`` / ``shelve`` imports, no
  ``yaml.load`` / ``yaml.unsafe_load`` / ``yaml.full_load`` (``yaml.safe_load`` only), no
  builtin ``eval`` / ``exec``, and no ``allow_pickle=True`` or ``trust_remote_code=True``.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCANNED = ("unihm_core", "app", "bench", "app.py")
PICKLING_MODULES = {"pickle", "cPickle", "_pickle", "dill", "cloudpickle", "joblib", "marshal", "shelve"}
FORBIDDEN_CALLS = {"yaml.load": "use yaml.safe_load", "yaml.unsafe_load": "use yaml.safe_load",
                   "yaml.full_load": "use yaml.safe_load", "eval": "no eval of strings", "exec": "no exec of strings"}
REQUIRED_KEYWORD = {"torch.load": ("weights_only", True), "numpy.load": ("allow_pickle", False)}
FORBIDDEN_KEYWORDS = {"allow_pickle": True, "trust_remote_code": True}


def _aliases(tree: ast.AST) -> dict[str, str]:
    """Local name -> dotted module path (``np`` -> ``numpy``, ``load`` -> ``torch.load``)."""
    names: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                names[a.asname or a.name.split(".")[0]] = a.name if a.asname else a.name.split(".")[0]
        elif isinstance(node, ast.ImportFrom) and node.module:
            for a in node.names:
                names[a.asname or a.name] = f"{node.module}.{a.name}"
    return names


def _dotted(func: ast.expr, aliases: dict[str, str]) -> str | None:
    parts = []
    while isinstance(func, ast.Attribute):
        parts.append(func.attr)
        func = func.value
    if not isinstance(func, ast.Name):
        return None
    parts.append(aliases.get(func.id, func.id))
    return ".".join(reversed(parts))


def unsafe_loading(source: str, name: str = "<string>") -> list[str]:
    """Violations in one Python source, as ``name:line: what``."""
    tree = ast.parse(source, filename=name)
    aliases = _aliases(tree)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            mods = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
            for mod in mods:
                if mod.split(".")[0] in PICKLING_MODULES:
                    found.append(f"{name}:{node.lineno}: imports {mod} (pickle-based loading)")
        if not isinstance(node, ast.Call):
            continue
        call = _dotted(node.func, aliases)
        kw = {k.arg: k.value for k in node.keywords if k.arg}
        for key, bad in FORBIDDEN_KEYWORDS.items():
            if key in kw and isinstance(kw[key], ast.Constant) and kw[key].value is bad:
                found.append(f"{name}:{node.lineno}: {key}={bad}")
        if call is None:
            continue
        if call in FORBIDDEN_CALLS:
            found.append(f"{name}:{node.lineno}: {call}() - {FORBIDDEN_CALLS[call]}")
        if call in REQUIRED_KEYWORD:
            key, want = REQUIRED_KEYWORD[call]
            if not (key in kw and isinstance(kw[key], ast.Constant) and kw[key].value is want):
                found.append(f"{name}:{node.lineno}: {call}() without {key}={want}")
        if call.startswith("transformers.") and call.endswith(".from_pretrained") and "Tokenizer" not in call:
            v = kw.get("use_safetensors")
            if not (isinstance(v, ast.Constant) and v.value is True):
                found.append(f"{name}:{node.lineno}: {call}() without use_safetensors=True")
    return found


def _sources():
    for entry in SCANNED:
        path = ROOT / entry
        yield from ([path] if path.is_file() else sorted(path.rglob("*.py")))


def test_scanner_catches_each_kind_of_violation():
    bad = """
import pickle
import numpy as np
import torch, yaml
from torch import load as tload
from transformers import AutoModel
np.load("d.npy")
np.load("d.npy", allow_pickle=True)
torch.load("w.pt")
tload("w.pt", weights_only=False)
yaml.load(open("c.yaml"))
eval("1 + 1")
AutoModel.from_pretrained("folder", trust_remote_code=True)
"""
    found = unsafe_loading(bad)
    lines = sorted({int(f.split(":")[1]) for f in found})
    assert lines == [2, 7, 8, 9, 10, 11, 12, 13], found
    good = """
import numpy as np
import torch, yaml
np.load("d.npy", allow_pickle=False)
torch.load("w.pt", weights_only=True, map_location="cpu")
yaml.safe_load("a: 1")
model.eval()
"""
    assert unsafe_loading(good) == []


def test_shipped_code_loads_nothing_unsafely():
    files = list(_sources())
    assert len(files) > 50 and any(p.name == "rgbd.py" for p in files)
    violations = [v for p in files for v in unsafe_loading(p.read_text(encoding="utf-8"), str(p.relative_to(ROOT)))]
    assert violations == [], "\n".join(violations)
