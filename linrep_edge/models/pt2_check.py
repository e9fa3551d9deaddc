"""Is a .pt2 archive safe to hand to `torch.export.load`? Checked before torch reads a byte of it.

`torch.export.load` runs code from the file in several places (torch 2.13, torch/export/pt2_archive/
_package.py and torch/_export/serde/serialize.py): a weight or constant with `use_pickle: true` is
`torch.load(..., weights_only=False)`; custom objects (`custom_obj_*`, `opaque_obj_*`) are unpickled;
legacy `data/weights/<model>.pt` / `data/constants/<model>.pt` files and sample inputs that the
restricted unpickler refuses fall back to `weights_only=False`; `data/aotinductor/` holds shared
libraries that are loaded; a symbolic shape's `expr_str` goes through `sympy.sympify`, which
evaluates Python; `guards_code` becomes Python source that is compiled. So `check_pt2_archive`
accepts only what a plain exported CNN needs, by allowlist:

- entries: under one root folder, only `archive_format` (= pt2), `archive_version`, `byteorder`,
  `.data/*`, `models/<m>.json`, `data/weights/<m>_weights_config.json`, `data/weights/weight_<n>`,
  `data/constants/<m>_constants_config.json`, `data/constants/tensor_<n>`,
  `data/sample_inputs/<m>.pt` and `extra/*` (read as text); nothing else (no AOTInductor, no
  legacy pickles, no custom objects), and their declared sizes add up to at most MAX_ARCHIVE_BYTES;
- weights and constants configs: every entry raw (`use_pickle: false`), a `weight_<n>` / `tensor_<n>`
  file that exists, with its tensor metadata;
- the program JSON: every node target an ATen op (`torch.ops.aten.<op>.<overload>`) or
  `_operator.getitem`; no symbolic expression, guard code, custom object or subgraph; every
  parameter / buffer name a dotted identifier;
- sample inputs: loadable by `torch.load(weights_only=True)` (the restricted unpickler), so torch's
  own load never falls back to full unpickling.

The caller reads the archive into memory once and passes the same bytes to torch, so the file cannot
change between the check and the load. `--trust-pt2` skips the check: such a file is then exactly as
trusted as Python code.
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from typing import Any, Callable

from linrep_edge.errors import LinRepError

MAX_ARCHIVE_BYTES = 1 << 30
TRUST_HINT = "pass --trust-pt2 only if you trust this file as you would trust Python code"
_MODEL = r"[A-Za-z0-9_.-]+"
ALLOWED = [re.compile(p + r"\Z") for p in (
    r"archive_format", r"archive_version", r"byteorder", r"\.data/[A-Za-z0-9_.]+",
    rf"models/{_MODEL}\.json", rf"data/weights/{_MODEL}_weights_config\.json", r"data/weights/weight_\d+",
    rf"data/constants/{_MODEL}_constants_config\.json", r"data/constants/tensor_\d+",
    rf"data/sample_inputs/{_MODEL}\.pt", r"extra/[^\x00]+")]
TARGET = re.compile(r"torch\.ops\.aten\.[A-Za-z0-9_]+\.[A-Za-z0-9_]+\Z")
FQN = re.compile(r"[A-Za-z0-9_]+(\.[A-Za-z0-9_]+)*\Z")
FQN_KEYS = ("parameter_name", "buffer_name", "tensor_constant_name", "custom_obj_name", "fqn")
FORBIDDEN_KEYS = {"expr_str": "a symbolic shape expression (parsed by sympy, which evaluates Python)",
                  "as_graph": "a subgraph (higher-order op)", "as_custom_obj": "a custom object argument"}


class UnsafePt2(LinRepError):
    """A .pt2 archive that needs code execution (or something this tool cannot vet) to load."""


def _refuse(where: str, why: str) -> UnsafePt2:
    return UnsafePt2(f"{where}: refused to load: {why}; loading it would run code from the file ({TRUST_HINT})")


def check_pt2_archive(data: bytes, where: str, load_restricted: Callable[[bytes], Any] | None = None) -> None:
    """Raise UnsafePt2 unless the archive bytes pass every rule of the module docstring.

    `load_restricted(bytes)` must unpickle with a restricted unpickler (torch.load weights_only=True)
    and raise on anything else; it checks the sample inputs (None: they are refused if present)."""
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
        infos = zf.infolist()
    except (zipfile.BadZipFile, ValueError, OSError) as exc:
        raise LinRepError(f"{where}: not a torch.export program (not a .pt2 zip archive: {exc})") from None
    if not infos:
        raise LinRepError(f"{where}: not a torch.export program (empty zip archive)")
    if sum(i.file_size for i in infos) > MAX_ARCHIVE_BYTES:
        raise _refuse(where, f"its entries declare more than {MAX_ARCHIVE_BYTES >> 20} MiB")
    root = infos[0].filename.split("/", 1)[0]
    names: dict[str, zipfile.ZipInfo] = {}
    for info in infos:
        head, sep, rel = info.filename.partition("/")
        if head != root or not sep:
            raise _refuse(where, f"entry {info.filename!r} is outside the archive's root folder {root!r}")
        if info.is_dir():
            continue
        if not any(p.match(rel) for p in ALLOWED):
            raise _refuse(where, f"unexpected entry {rel!r} (pickled, native or unknown content)")
        names[rel] = info

    def read(rel: str) -> bytes:
        return zf.read(names[rel])

    if rel_missing := [n for n in ("archive_format", "archive_version") if n not in names]:
        raise LinRepError(f"{where}: not a torch.export program (no {rel_missing[0]} entry)")
    if read("archive_format").strip() != b"pt2":
        raise LinRepError(f"{where}: not a torch.export program (archive_format is not pt2)")
    models = [n[len("models/"):-len(".json")] for n in names if n.startswith("models/")]
    if not models:
        raise LinRepError(f"{where}: not a torch.export program (no models/*.json)")
    for model in models:
        for kind, prefix in (("weights", "weight_"), ("constants", "tensor_")):
            cfg = f"data/{kind}/{model}_{kind}_config.json"
            if cfg not in names:
                raise _refuse(where, f"no {cfg} (a legacy archive: its {kind} are pickled)")
            config = _json(read(cfg), where, cfg)
            entries = config.get("config") if isinstance(config, dict) else None
            if not isinstance(entries, dict):
                raise LinRepError(f"{where}: {cfg}: malformed")
            for fqn, meta in entries.items():
                if not isinstance(meta, dict) or meta.get("use_pickle") is not False:
                    raise _refuse(where, f"{kind[:-1]} {fqn!r} is pickled (use_pickle)")
                path = meta.get("path_name")
                if not isinstance(path, str) or not re.fullmatch(rf"{prefix}\d+", path) or \
                        f"data/{kind}/{path}" not in names or not isinstance(meta.get("tensor_meta"), dict):
                    raise _refuse(where, f"{kind[:-1]} {fqn!r} is not a raw tensor ({str(path)[:40]!r}: a custom "
                                  "object or a missing file)")
        _check_program(_json(read(f"models/{model}.json"), where, f"models/{model}.json"), where)
        sample = f"data/sample_inputs/{model}.pt"
        if sample in names:
            if load_restricted is None:
                raise _refuse(where, f"{sample} cannot be vetted")
            try:
                load_restricted(read(sample))
            except Exception as exc:  # anything the restricted unpickler refuses
                raise _refuse(where, f"its sample inputs need full unpickling ({type(exc).__name__})") from None


def _json(raw: bytes, where: str, name: str) -> Any:
    try:
        return json.loads(raw)
    except (ValueError, RecursionError, UnicodeDecodeError) as exc:
        raise LinRepError(f"{where}: {name}: not valid JSON ({type(exc).__name__})") from None


def _check_program(program: Any, where: str) -> None:
    if not isinstance(program, dict) or not isinstance(program.get("graph_module"), dict):
        raise LinRepError(f"{where}: not a torch.export program (models/*.json has no graph_module)")
    if program.get("guards_code"):
        raise _refuse(where, "it carries guard code (compiled as Python)")
    graph = program["graph_module"].get("graph")
    if not isinstance(graph, dict) or not isinstance(graph.get("nodes"), list):
        raise LinRepError(f"{where}: not a torch.export program (no graph nodes)")
    if graph.get("custom_obj_values"):
        raise _refuse(where, "it holds custom objects")
    for node in graph["nodes"]:
        target = node.get("target") if isinstance(node, dict) else None
        if not isinstance(target, str) or not (TARGET.match(target) or target == "_operator.getitem"):
            raise _refuse(where, f"node target {str(target)[:80]!r} is not an ATen operator")
    stack: list[Any] = [program]
    while stack:  # iterative: no recursion on a deep document
        v = stack.pop()
        if isinstance(v, dict):
            for k, x in v.items():
                if k in FORBIDDEN_KEYS:
                    raise _refuse(where, f"it holds {FORBIDDEN_KEYS[k]}")
                if k in FQN_KEYS and isinstance(x, str) and x and not FQN.match(x):
                    raise _refuse(where, f"{k} {x[:80]!r} is not a dotted identifier")
                if k == "target" and isinstance(x, str) and x and not (TARGET.match(x) or FQN.match(x)
                                                                       or x == "_operator.getitem"):
                    raise _refuse(where, f"target {x[:80]!r} is neither an ATen operator nor a dotted identifier")
                stack.append(x)
        elif isinstance(v, list):
            stack.extend(v)
