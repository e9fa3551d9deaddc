"""Run a .lre blob through the C runtime (runtime_c/) via ctypes.

`CRuntime(blob)` verifies the blob with `lr_init` (every offset, size, index and shape, plus the
CRC-32) and then runs images with `lr_run`, one image at a time in one arena, exactly as firmware
would. Errors from the C side become `LinRepError` carrying the C status name, code and text.

The shared library is the file named by the environment variable LINREP_RUNTIME_LIB, else the
checkout's `runtime_c/build/host/liblinrep.so`, which is built with `make -C runtime_c` the first time
it is needed (set-up builds it too); with LR_KERNELS=ref in the environment (runtime.mk: the reference
kernels only) the checkout's `runtime_c/build/host-ref/liblinrep.so`, built the same way. What the binding knows of linrep.h (constants, status codes,
lr_conv_cost) comes from `abi.py`, generated from the header by tools/gen_schema.py. This module
needs numpy and ctypes only: the format layer asks it for the verifier's verdict.
"""

from __future__ import annotations

import ctypes
import os
import shutil
import subprocess
import threading
from pathlib import Path
from typing import Callable

import numpy as np

from linrep_edge.errors import LinRepError
from linrep_edge.runtime import abi

RUNTIME_DIR = Path(__file__).resolve().parent.parent.parent / "runtime_c"
DEFAULT_LIB = RUNTIME_DIR / "build" / "host" / "liblinrep.so"
REF_LIB = RUNTIME_DIR / "build" / "host-ref" / "liblinrep.so"  # LR_KERNELS=ref (runtime.mk's LR_BUILD_TAG)
# the same two with a DSP core's cost model (runtime_c/Makefile's COSTDSP: -DLR_COST_DSP=1)
DSP_LIB = RUNTIME_DIR / "build" / "host-costdsp" / "liblinrep.so"
DSP_REF_LIB = RUNTIME_DIR / "build" / "host-costdsp-ref" / "liblinrep.so"
CONV_PATHS = abi.CONV_PATHS
PATH_NAMES = {0: "-", **{v: k for k, v in CONV_PATHS.items() if v}}
_CTYPES = {"uint32_t": ctypes.c_uint32, "uint64_t": ctypes.c_uint64}


class ConvCost(ctypes.Structure):
    """lr_conv_cost in linrep.h (the cost model of one conv op and the path it runs)."""

    _fields_ = [(name, _CTYPES[ctype]) for name, ctype in abi.CONV_COST_FIELDS]


_libs: dict[Path, ctypes.CDLL] = {}
# cost models of the host library builds: "host" the portable one (as a Cortex-M3's), "dsp" a DSP core's
# (Cortex-M4/M7/M33: -DLR_COST_DSP=1, build/host-costdsp), whose AUTO plans are what those cores compute
COST_MODELS = ("host", "dsp")
_build_lock = threading.Lock()


def library_path(cost: str = "host") -> Path:
    """Where the shared library is looked for: $LINREP_RUNTIME_LIB, else the in-repo build of the kernels
    $LR_KERNELS asks for (runtime.mk: opt, the default, or ref); with cost "dsp", the in-repo build with a DSP
    core's cost model."""
    env = os.environ.get("LINREP_RUNTIME_LIB")
    if cost not in COST_MODELS:
        raise LinRepError(f"cost model must be one of {', '.join(COST_MODELS)}, not {cost!r}")
    return Path(env) if env and cost == "host" else _checkout_lib(cost)


_tags: dict[str, str] = {"opt": ""}  # runtime.mk's default build has no folder suffix


def build_tag(kernels: str) -> str:
    """The build folders' suffix of the kernel build `kernels` (runtime.mk's LR_KERNELS: opt, ref or a '+'-list
    of conv, linear, add, linrep, act), asked of runtime_c's Makefile (`make print-build-tag`, the one place the rule
    is written) once per value; an unknown value is one LinRepError with make's reason."""
    if kernels not in _tags:
        if shutil.which("make") is None or not (RUNTIME_DIR / "Makefile").is_file():
            raise LinRepError(f"kernel build {kernels!r}: needs the checkout's runtime_c/Makefile and make")
        proc = subprocess.run(["make", "-s", "-C", str(RUNTIME_DIR), "print-build-tag", f"LR_KERNELS={kernels}"],
                              capture_output=True, text=True)
        if proc.returncode != 0:
            why = proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else "refused"
            raise LinRepError(f"kernel build {kernels!r}: {why.split('*** ')[-1].removesuffix('.  Stop.')}")
        _tags[kernels] = proc.stdout.strip()
    return _tags[kernels]


def _checkout_lib(cost: str = "host") -> Path:
    """The checkout's host library of the kernel build in $LR_KERNELS (and the cost model `cost`)."""
    tag = build_tag(os.environ.get("LR_KERNELS") or "opt")
    return RUNTIME_DIR / "build" / f"{'host' if cost == 'host' else 'host-costdsp'}{tag}" / "liblinrep.so"


def _stale(path: Path) -> bool:
    """Whether the library is missing or older than a source it is built from (a checkout after a pull)."""
    if not path.is_file():
        return True
    built = path.stat().st_mtime
    sources = [RUNTIME_DIR / "Makefile", RUNTIME_DIR / "runtime.mk"]
    for sub in ("src", "include"):
        sources += [p for p in (RUNTIME_DIR / sub).rglob("*") if p.suffix in (".c", ".h")]
    return any(p.stat().st_mtime > built for p in sources if p.is_file())


def _build_in_checkout(path: Path) -> None:
    """Build the host library of a checkout (`make -C runtime_c all`) when it is missing or stale."""
    if path not in (_checkout_lib(), _checkout_lib("dsp")) or not (RUNTIME_DIR / "Makefile").is_file() or \
            not _stale(path):
        return
    if shutil.which("make") is None or shutil.which(os.environ.get("CC", "cc")) is None:
        raise LinRepError(f"the C runtime library {path} is not built and there is no C compiler to build it: "
                          "install make and a C compiler (apt-get install build-essential), then `make -C runtime_c`")
    from linrep_edge.runtime.build_lock import build_lock

    with _build_lock, build_lock(RUNTIME_DIR / "build"):
        proc = subprocess.run(["make", "-s", "-C", str(RUNTIME_DIR), "all"], capture_output=True, text=True)
    if proc.returncode != 0 or not path.is_file():
        raise LinRepError(f"building the C runtime library failed (make -C {RUNTIME_DIR} all):\n"
                          f"{(proc.stdout + proc.stderr).strip()[-2000:]}")


def load_library(cost: str = "host") -> ctypes.CDLL:
    """Load (once per path) the C runtime (the build with cost model `cost`, COST_MODELS) and declare its
    function signatures."""
    path = library_path(cost)
    if path in _libs:
        return _libs[path]
    _build_in_checkout(path)
    if not path.is_file():
        raise LinRepError(f"C runtime library not found at {path}; build it with `make -C runtime_c`")
    try:
        lib = ctypes.CDLL(str(path))
    except OSError as exc:
        raise LinRepError(f"cannot load the C runtime library {path}: {exc}") from None
    p, sz, i32p = ctypes.c_void_p, ctypes.c_size_t, ctypes.POINTER(ctypes.c_int32)
    szp, up = ctypes.POINTER(ctypes.c_size_t), ctypes.POINTER(ctypes.c_uint)
    sigs: dict[str, tuple[object, list[object]]] = {
        "lr_status_str": (ctypes.c_char_p, [ctypes.c_int]),
        "lr_model_sizeof": (sz, []),
        "lr_init": (ctypes.c_int, [p, p, sz]),
        "lr_error_location": (ctypes.c_int, [p, i32p, i32p]),
        "lr_arena_size": (ctypes.c_int, [p, szp]),
        "lr_activation_lower_bound": (ctypes.c_int, [p, szp]),
        "lr_input_size": (ctypes.c_int, [p, szp]),
        "lr_output_size": (ctypes.c_int, [p, szp]),
        "lr_input_shape": (ctypes.c_int, [p, i32p, up]),
        "lr_output_shape": (ctypes.c_int, [p, i32p, up]),
        "lr_output_count": (ctypes.c_int, [p, up]),
        "lr_output_size_at": (ctypes.c_int, [p, ctypes.c_uint, szp]),
        "lr_output_shape_at": (ctypes.c_int, [p, ctypes.c_uint, i32p, up]),
        "lr_op_count": (ctypes.c_int, [p, up]),
        "lr_op_info": (ctypes.c_int, [p, ctypes.c_uint, up, ctypes.POINTER(ctypes.c_char_p)]),
        "lr_set_conv_path": (ctypes.c_int, [p, ctypes.c_int]),
        "lr_set_ram_limit": (ctypes.c_int, [p, sz]),
        "lr_op_conv_info": (ctypes.c_int, [p, ctypes.c_uint, ctypes.POINTER(ConvCost)]),
        "lr_run": (ctypes.c_int, [p, p, sz, p, sz, p, sz]),
        "lr_run_hooked": (ctypes.c_int, [p, p, sz, p, sz, p, sz, p, p]),
        "lr_run_i8": (ctypes.c_int, [p, p, sz, p, sz, p, sz]),
        "lr_input_quant": (ctypes.c_int, [p, ctypes.POINTER(ctypes.c_float), i32p]),
        "lr_plan_export": (ctypes.c_int, [p, p, sz, ctypes.POINTER(ctypes.c_uint32), sz, szp]),
        "lr_set_plan": (ctypes.c_int, [p, ctypes.POINTER(ctypes.c_uint32), sz]),
        "lr_output_quant_at": (ctypes.c_int, [p, ctypes.c_uint, ctypes.POINTER(ctypes.c_float), i32p]),
    }
    for name, (res, args) in sigs.items():
        fn = getattr(lib, name)
        fn.restype = res
        fn.argtypes = args
    _libs[path] = lib
    return lib


def status_name(code: int) -> str:
    """The LR_... name of a C status code."""
    return abi.STATUS.get(code, ("LR_?", ""))[0]


def status_text(code: int) -> str:
    """lr_status_str of a C status code."""
    return load_library().lr_status_str(code).decode()


def fits_input(shape: tuple[int, ...], input_shape: tuple[int, ...]) -> bool:
    """A sample of `shape` is the model's input up to size-1 dimensions (a 1-D model's [C, L] is [C, 1, L])."""
    return tuple(d for d in shape if d != 1) == tuple(d for d in input_shape if d != 1)


class InitError(LinRepError):
    """lr_init refused a blob: `status` is the LR_ERR_... name, `op`/`tensor` lr_error_location's answer."""

    def __init__(self, where: str, code: int, op: int, tensor: int) -> None:
        self.code, self.status, self.op, self.tensor = code, status_name(code), op, tensor
        self.text = status_text(code)
        loc = "".join([f", op {op}" if op >= 0 else "", f", tensor {tensor}" if tensor >= 0 else ""])
        super().__init__(f"{where}: C runtime rejected the blob: {self.text} ({self.status} = {code}){loc}")


class CRuntime:
    """A blob verified and ready to run in the C runtime.

    The blob is copied once into a ctypes buffer that lives as long as this object (the C side
    reads it in place). `run` takes a batch (N, *input_shape) and returns (N, *output_shape).
    A model with several outputs (format version 3) is run with `run_all`, which returns one array
    (N, *shape) per output in order (`output_shapes`); `run` refuses such a model rather than
    silently returning one head (for a one-output model, run_all(x) == [run(x)]).
    conv_path: how LinRep convs run ("auto": per op by the cost model, "direct", "reuse"; see
    lr_set_conv_path in linrep.h). cost: the library's cost model (COST_MODELS: "host", or "dsp" for the
    AUTO choices and plans of a Cortex-M4/M7/M33; outputs are the same bit for bit).
    """

    def __init__(self, blob: bytes, where: str = "blob", conv_path: str = "auto", cost: str = "host") -> None:
        self._lib = load_library(cost)
        self.where = where
        self._blob = (ctypes.c_ubyte * max(len(blob), 1)).from_buffer_copy(blob if blob else b"\0")
        n_words = (self._lib.lr_model_sizeof() + 7) // 8
        self._model = (ctypes.c_uint64 * n_words)()
        code = self._lib.lr_init(ctypes.byref(self._model), ctypes.byref(self._blob), len(blob))
        if code != 0:
            op, tensor = ctypes.c_int32(), ctypes.c_int32()
            self._lib.lr_error_location(ctypes.byref(self._model), ctypes.byref(op), ctypes.byref(tensor))
            raise InitError(where, code, op.value, tensor.value)
        self.set_conv_path(conv_path)
        self.activation_lower_bound_bytes = self._query("lr_activation_lower_bound")
        self.input_size = self._query("lr_input_size")
        self.output_size = self._query("lr_output_size")  # all outputs together
        self.input_shape = self._shape("lr_input_shape")
        self.output_shape = self._shape("lr_output_shape")  # the first output
        count = ctypes.c_uint()
        self._check(self._lib.lr_output_count(ctypes.byref(self._model), ctypes.byref(count)))
        self.output_shapes = [self._shape("lr_output_shape_at", k) for k in range(count.value)]
        count = ctypes.c_uint()
        self._check(self._lib.lr_op_count(ctypes.byref(self._model), ctypes.byref(count)))
        self.num_ops = count.value
        # int8 models (format version 4): (scale, zero point) of the input and of each output; fp32: None
        self.input_quant = self._quant("lr_input_quant")
        self.output_quants = [self._quant("lr_output_quant_at", k) for k in range(len(self.output_shapes))]
        self.is_int8 = self.input_quant is not None

    def _quant(self, fn: str, *index: int) -> tuple[float, int] | None:
        scale, zp = ctypes.c_float(), ctypes.c_int32()
        self._check(getattr(self._lib, fn)(ctypes.byref(self._model), *index, ctypes.byref(scale), ctypes.byref(zp)))
        return None if scale.value == 0.0 else (float(scale.value), int(zp.value))

    def set_conv_path(self, path: str) -> None:
        """lr_set_conv_path: "auto", "direct" or "reuse" for every LinRep conv; re-sizes the arena."""
        if path not in CONV_PATHS:
            raise LinRepError(f"conv path must be one of {', '.join(CONV_PATHS)}, not {path!r}")
        self._check(self._lib.lr_set_conv_path(ctypes.byref(self._model), CONV_PATHS[path]))
        self.conv_path = path
        self.arena_bytes = self._query("lr_arena_size")
        # Arena with room to align its start to abi.ARENA_ALIGN (lr_run aligns it internally anyway).
        self._arena = np.zeros(self.arena_bytes + abi.ARENA_ALIGN, dtype=np.uint8)

    def set_ram_limit(self, arena_bytes: int) -> None:
        """lr_set_ram_limit: let the plan use up to `arena_bytes` of arena for speed (0: the least arena, the
        default; -1: no limit, every op its preferred path and scratch); re-sizes the arena."""
        limit = ctypes.c_size_t(arena_bytes).value  # -1 -> SIZE_MAX
        self._check(self._lib.lr_set_ram_limit(ctypes.byref(self._model), limit))
        self.arena_bytes = self._query("lr_arena_size")
        self._arena = np.zeros(self.arena_bytes + abi.ARENA_ALIGN, dtype=np.uint8)

    def export_plan(self) -> np.ndarray:
        """lr_plan_export: the memory plan this model runs on (its path and RAM limit in force), as the uint32
        words a build without the planner (-DLR_PLANNER=0) takes with lr_set_plan (linrep.h's layout)."""
        n = ctypes.c_size_t()
        self._check(self._lib.lr_plan_export(ctypes.byref(self._model), None, 0, None, 0, ctypes.byref(n)))
        words = (ctypes.c_uint32 * n.value)()
        self._check(self._lib.lr_plan_export(ctypes.byref(self._model), self._arena.ctypes.data, self._arena.nbytes,
                                             words, n.value, ctypes.byref(n)))
        return np.frombuffer(bytes(words), dtype=np.uint32).copy()

    def set_plan(self, plan: np.ndarray) -> None:
        """lr_set_plan: run on the offline plan `plan` (uint32 words; checked against the model, LinRepError
        naming LR_ERR_BAD_PLAN if it does not hold it); re-sizes the arena to the plan's region."""
        words = np.ascontiguousarray(plan, dtype=np.uint32)
        self._plan = (ctypes.c_uint32 * max(len(words), 1)).from_buffer_copy(words.tobytes() or b"\0\0\0\0")
        self._check(self._lib.lr_set_plan(ctypes.byref(self._model), self._plan, len(words)))
        self.arena_bytes = self._query("lr_arena_size")
        self._arena = np.zeros(self.arena_bytes + abi.ARENA_ALIGN, dtype=np.uint8)

    def op_conv_info(self, index: int) -> dict[str, int | str]:
        """lr_op_conv_info: the cost model of op `index` and the path it runs ("-" if not a conv)."""
        info = ConvCost()
        self._check(self._lib.lr_op_conv_info(ctypes.byref(self._model), index, ctypes.byref(info)))
        out: dict[str, int | str] = {name: int(getattr(info, name)) for name, _ in ConvCost._fields_}
        out["path"] = PATH_NAMES.get(int(info.path), "?")
        return out

    def _error(self, code: int) -> str:
        return f"{status_text(code)} ({status_name(code)} = {code})"

    def _check(self, code: int) -> None:
        if code != 0:
            raise LinRepError(f"{self.where}: C runtime error: {self._error(code)}")

    def _query(self, fn: str) -> int:
        out = ctypes.c_size_t()
        self._check(getattr(self._lib, fn)(ctypes.byref(self._model), ctypes.byref(out)))
        return int(out.value)

    def _shape(self, fn: str, *index: int) -> tuple[int, ...]:
        dims = (ctypes.c_int32 * abi.MAX_RANK)()
        rank = ctypes.c_uint()
        self._check(getattr(self._lib, fn)(ctypes.byref(self._model), *index, dims, ctypes.byref(rank)))
        return tuple(int(d) for d in dims[: rank.value])

    def op_info(self, index: int) -> tuple[int, str]:
        """(OpType value, name) of op `index`."""
        t = ctypes.c_uint()
        name = ctypes.c_char_p()
        self._check(self._lib.lr_op_info(ctypes.byref(self._model), index, ctypes.byref(t), ctypes.byref(name)))
        return int(t.value), (name.value or b"").decode()

    def run(self, x: np.ndarray, arena_bytes: int | None = None,
            hook: Callable[[int], None] | None = None) -> np.ndarray:
        """Outputs for a batch `x` of shape (N, *input_shape), as float32 (N, *output_shape).

        arena_bytes: pass fewer bytes than `arena_bytes` to exercise the C side's size check
        (raises LinRepError). hook: called with the op index after each op (lr_run_hooked).
        A model with several outputs raises LinRepError: use run_all.
        """
        if len(self.output_shapes) != 1:
            raise LinRepError(f"{self.where}: the model has {len(self.output_shapes)} outputs "
                              f"({', '.join(str(list(s)) for s in self.output_shapes)}): use run_all(x), which "
                              "returns one array per output")
        flat = self._run_flat(x, arena_bytes, hook)
        return flat.reshape(flat.shape[0], *self.output_shape)

    def run_all(self, x: np.ndarray, arena_bytes: int | None = None,
                hook: Callable[[int], None] | None = None) -> list[np.ndarray]:
        """Every output for a batch `x` (N, *input_shape): a list of float32 arrays (N, *output_shapes[k]),
        split from the concatenated output lr_run writes. Same arguments as `run`."""
        flat = self._run_flat(x, arena_bytes, hook)
        outs, at = [], 0
        for shape in self.output_shapes:
            size = int(np.prod(shape))
            outs.append(np.ascontiguousarray(flat[:, at:at + size]).reshape(flat.shape[0], *shape))
            at += size
        return outs

    def _run_flat(self, x: np.ndarray, arena_bytes: int | None,
                  hook: Callable[[int], None] | None) -> np.ndarray:
        """lr_run on each image of the batch: (N, output_size), the outputs concatenated per image."""
        x = np.ascontiguousarray(x, dtype=np.float32)
        if x.shape[1:] != self.input_shape and fits_input(x.shape[1:], self.input_shape):
            x = x.reshape(x.shape[0], *self.input_shape)  # e.g. a 1-D model's [C, L] input is [C, 1, L] here
        if x.shape[1:] != self.input_shape:
            raise LinRepError(f"{self.where}: input batch shape {x.shape} does not match the model input "
                              f"(N, {', '.join(map(str, self.input_shape))})")
        n = x.shape[0]
        out = np.empty((n, self.output_size), dtype=np.float32)
        base = self._arena.ctypes.data
        arena = base + (-base) % abi.ARENA_ALIGN
        size = self.arena_bytes if arena_bytes is None else arena_bytes
        model = ctypes.byref(self._model)
        cb = None
        if hook is not None:
            cb = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_uint)(lambda _ctx, k: hook(int(k)))
        xp, op = x.ctypes.data, out.ctypes.data
        xs, os_ = self.input_size * 4, self.output_size * 4
        for i in range(n):
            if cb is None:
                code = self._lib.lr_run(model, arena, size, xp + i * xs, self.input_size,
                                        op + i * os_, self.output_size)
            else:
                code = self._lib.lr_run_hooked(model, arena, size, xp + i * xs, self.input_size,
                                               op + i * os_, self.output_size, ctypes.cast(cb, ctypes.c_void_p), None)
            if code != 0:
                self._check(code)
        return out

    def run_int8(self, x: np.ndarray, arena_bytes: int | None = None) -> list[np.ndarray]:
        """lr_run_i8 on an int8 model: `x` int8 of the input shape (one image) or (N, *input_shape); returns
        one int8 array per output in order, (*shape) or (N, *shape) as `x` was given."""
        if not self.is_int8:
            raise LinRepError(f"{self.where}: run_int8 needs an int8 model (format version 4); this one is fp32")
        x = np.asarray(x)
        if x.dtype != np.int8:
            raise LinRepError(f"{self.where}: run_int8 takes int8 inputs, not {x.dtype}")
        single = x.shape == self.input_shape
        xb = np.ascontiguousarray(x.reshape(1, *x.shape) if single else x)
        if xb.shape[1:] != self.input_shape:
            raise LinRepError(f"{self.where}: input shape {x.shape} does not match the model input "
                              f"{self.input_shape} (or (N, {', '.join(map(str, self.input_shape))}))")
        n = xb.shape[0]
        out = np.empty((n, self.output_size), dtype=np.int8)
        base = self._arena.ctypes.data
        arena = base + (-base) % abi.ARENA_ALIGN
        size = self.arena_bytes if arena_bytes is None else arena_bytes
        for i in range(n):
            self._check(self._lib.lr_run_i8(ctypes.byref(self._model), arena, size, xb.ctypes.data + i * self.input_size,
                                            self.input_size, out.ctypes.data + i * self.output_size, self.output_size))
        outs, at = [], 0
        for shape in self.output_shapes:
            k = int(np.prod(shape))
            o = np.ascontiguousarray(out[:, at:at + k]).reshape(n, *shape)
            outs.append(o[0] if single else o)
            at += k
        return outs

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return self.run(x)
