"""build_lock: two processes building in one folder take turns (make test runs the tests in two workers)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# Each child takes the lock, writes "enter <t>", holds it 0.3 s, writes "exit <t>".
CHILD = """
import sys, time
from pathlib import Path
from linrep_edge.runtime.build_lock import build_lock
folder, log = Path(sys.argv[1]), Path(sys.argv[2])
with build_lock(folder):
    log.write_text(f"{time.monotonic()} ")
    time.sleep(0.3)
    log.write_text(log.read_text() + f"{time.monotonic()}")
"""


def test_two_processes_take_turns(tmp_path: Path) -> None:
    folder = tmp_path / "build"
    logs = [tmp_path / f"log{i}" for i in range(3)]
    procs = [subprocess.Popen([sys.executable, "-c", CHILD, str(folder), str(log)], cwd=ROOT) for log in logs]
    assert all(p.wait(timeout=60) == 0 for p in procs)
    spans = sorted(tuple(map(float, log.read_text().split())) for log in logs)
    assert len(spans) == 3 and all(b - a >= 0.3 for a, b in spans)
    for (_, end), (start, _) in zip(spans, spans[1:]):
        assert start >= end, f"two holders at once: {spans}"
    assert (folder / ".build.lock").is_file()


def test_lock_is_released_when_the_holder_dies(tmp_path: Path) -> None:
    """A process killed while holding the lock does not block the next build (flock dies with the process)."""
    folder = tmp_path / "build"
    holder = subprocess.Popen([sys.executable, "-c", CHILD.replace("0.3", "60"), str(folder), str(tmp_path / "a")],
                              cwd=ROOT)
    try:
        for _ in range(200):  # wait until it holds the lock
            if (tmp_path / "a").exists():
                break
            subprocess.run(["sleep", "0.05"])
        holder.kill()
        holder.wait(timeout=30)
        done = subprocess.run([sys.executable, "-c", CHILD, str(folder), str(tmp_path / "b")], cwd=ROOT, timeout=60)
        assert done.returncode == 0 and len((tmp_path / "b").read_text().split()) == 2
    finally:
        holder.kill()


def test_bench_firmware_waits_for_its_folder(tmp_path: Path, monkeypatch) -> None:
    """Two `mcu-bench` runs (two terminals, two test workers) build in one folder (runtime_c/build/mcu/<target>-...):
    build_firmware writes its model header, builds and runs only while it holds that folder's lock, so the one that
    comes second finds the first one's header, firmware and run already done. Here another process holds the lock,
    writes its own header and a marker, then lets go: build_firmware must build from its own header, after it."""
    from linrep_edge.runtime import mcu

    folder = tmp_path / "cortex-m4-int8-bench" / "auto"
    marker = tmp_path / "released"
    holder_code = CHILD.replace("time.sleep(0.3)", "(folder / 'lr_bench_model.h').write_text('other'); "
                                "time.sleep(1.0); Path(sys.argv[2] + '.done').write_text('')")
    holder = subprocess.Popen([sys.executable, "-c", holder_code, str(folder), str(marker)], cwd=ROOT)
    try:
        for _ in range(400):  # until it holds the lock
            if marker.exists():
                break
            subprocess.run(["sleep", "0.05"])
        assert marker.exists()
        seen: dict[str, object] = {}

        def fake_build(drv, target, opt, srcs, out, defines, run, timeout, what, profile, repeat):
            seen["other_done"] = Path(str(marker) + ".done").exists()
            seen["header"] = srcs[1].read_text()
            return {"instructions": 1}

        monkeypatch.setattr(mcu, "_build_firmware", fake_build)
        rep = mcu.build_firmware(None, "cortex-m4", "-O2", Path("model_workload_i8.c"), "mine", folder, None, True,
                                 60.0, "int8 firmware")
        assert rep == {"instructions": 1}
        assert seen == {"other_done": True, "header": "mine"}, seen
    finally:
        holder.kill()
        holder.wait(timeout=30)
