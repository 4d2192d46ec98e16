"""gpu-slice.sh when a call's time limit stops it (session 29 lost slice 48's finished state to the slice's own
cleanup): the work folder stays, and a next call's --pack-kept packs it if the run finished, and refuses it if not."""
import io
import os
import signal
import subprocess
import tarfile
import time
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "gpu-slice.sh"


def _env(tmp_path: Path, **extra) -> dict:
    (tmp_path / "work").mkdir(exist_ok=True)
    return {**os.environ, "OUT": str(tmp_path / "out"), "FLOWFILL_SLICE_TMP": str(tmp_path / "work"), **extra}


def _work_folder(root: Path, name: str, finished: bool) -> Path:
    """A slice's work folder as flowfill.run leaves it: the state first, then (when it finished) the report."""
    d = root / f"flowfill-slice.{name}"
    (d / "resume-out" / "package").mkdir(parents=True)
    (d / "eval").mkdir()
    (d / "resume-out" / "extras.json").write_text('{"dit_steps": 7}')
    (d / "resume-out" / "package" / "model_index.json").write_text("{}")
    if finished:
        (d / "eval" / "train-log.txt").write_text("log")
        (d / "eval" / "report.json").write_text('{"finished": true}')
    return d


def _pack_kept(env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", str(SCRIPT), "--pack-kept"], env=env, capture_output=True, text=True, timeout=60)


def test_pack_kept_packs_a_finished_run_and_refuses_an_unfinished_one(tmp_path):
    env = _env(tmp_path)
    unfinished = _work_folder(tmp_path / "work", "unfinished", finished=False)
    refused = _pack_kept(env)
    assert refused.returncode == 2 and "nothing to pack" in refused.stdout
    assert not list((tmp_path / "out").glob("resume.tar.part*"))

    finished = _work_folder(tmp_path / "work", "finished", finished=True)
    packed = _pack_kept(env)
    assert packed.returncode == 0, packed.stdout + packed.stderr
    out = tmp_path / "out"
    archive = b"".join(p.read_bytes() for p in sorted(out.glob("resume.tar.part*")))
    with tarfile.open(fileobj=io.BytesIO(archive)) as t:
        assert t.extractfile("./extras.json").read() == b'{"dit_steps": 7}'
        assert "./package/model_index.json" in t.getnames()
    assert (out / "report.json").read_text() == '{"finished": true}'
    with tarfile.open(out / "eval.tar") as t:
        assert sorted(t.getnames()) == ["report.json", "train-log.txt"]
    assert not finished.exists() and unfinished.exists()


def _python3_shim(tmp_path: Path, body: str) -> str:
    shim = tmp_path / "bin"
    shim.mkdir()
    (shim / "python3").write_text(f"#!/bin/sh\n{body}\n")
    (shim / "python3").chmod(0o755)
    return f"{shim}:{os.environ['PATH']}"


def test_a_slice_stopped_by_a_signal_keeps_its_work_folder(tmp_path):
    # A python3 that hangs stands in for a long training step; SIGTERM to the group is how a call's limit stops it.
    env = _env(tmp_path, PATH=_python3_shim(tmp_path, "exec sleep 60"))
    slice_ = subprocess.Popen(["bash", str(SCRIPT), "100"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                              text=True, start_new_session=True)
    deadline = time.time() + 30
    while not list((tmp_path / "work").glob("flowfill-slice.*")) and time.time() < deadline:
        time.sleep(0.1)
    time.sleep(1.0)  # into the hanging python3
    os.killpg(slice_.pid, signal.SIGTERM)
    _, stderr = slice_.communicate(timeout=30)
    assert slice_.returncode == 143
    kept = list((tmp_path / "work").glob("flowfill-slice.*"))
    assert len(kept) == 1 and f"{kept[0]} is kept" in stderr


def test_a_slice_that_fails_on_its_own_still_cleans_up(tmp_path):
    env = _env(tmp_path, PATH=_python3_shim(tmp_path, "exit 3"))
    failed = subprocess.run(["bash", str(SCRIPT), "100"], env=env, capture_output=True, text=True, timeout=60)
    assert failed.returncode == 3
    assert not list((tmp_path / "work").glob("flowfill-slice.*"))
