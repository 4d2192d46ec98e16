"""gpu-slice.sh when a call's time limit stops it (session 29 lost slice 48's finished state to the slice's own
cleanup): the work folder stays, and a next call's --pack-kept packs it if the run finished, and refuses it if not.
And its check call (--check, session 46): every check that finished comes back, named as sampler-checks/ keeps it."""
import io
import json
import os
import signal
import subprocess
import sys
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


def _check_call_root(tmp_path: Path) -> Path:
    """A repository root holding this gpu-slice.sh, the real flowfill (check_name names the JSONs) and a dataset's
    manifest, so that --check runs as on a machine; sampler_check itself is the python3 shim's."""
    root = tmp_path / "repo"
    (root / "model" / ".cache" / "data").mkdir(parents=True)
    (root / "model" / ".cache" / "data" / "manifest.json").write_text("{}")
    (root / "model" / "gpu-slice.sh").write_bytes(SCRIPT.read_bytes())
    (root / "model" / "flowfill").symlink_to(SCRIPT.parent / "flowfill")
    return root


# sampler_check as the shim plays it: "--hang" runs past any timeout, "--fail" fails, anything else writes the JSON
# a check of 4 images would, with the arguments it was given.
_SAMPLER_CHECK = """
import json, sys
a = sys.argv[1:]
json.dump({"set": a[a.index("--set") + 1] if "--set" in a else "v1_emoji", "size": 256, "steps": 10, "seed_index": 5,
           "sampler": {"shift": 6.0, "guidance": 2.0}, "scores": {"n": 4}, "argv": a,
           **({"products": "int8"} if "--int8-products" in a else {})}, open(a[a.index("--json") + 1], "w"))
"""


def _check_shim(tmp_path: Path) -> str:
    real = sys.executable
    (tmp_path / "sampler_check.py").write_text(_SAMPLER_CHECK)
    return _python3_shim(tmp_path, f"""case "$*" in
  -) cat >/dev/null; echo "python3 (shim)" ;;
  *flowfill.sampler_check*--hang*) exec sleep 60 ;;
  *flowfill.sampler_check*--fail*) exit 1 ;;
  *flowfill.sampler_check*) shift 2; exec {real} {tmp_path / 'sampler_check.py'} "$@" ;;
  *) exec {real} "$@" ;;
esac""")


def test_a_check_call_runs_each_set_on_a_carried_state_and_returns_every_check_that_finished(tmp_path):
    root = _check_call_root(tmp_path)
    parts = tmp_path / "carried"
    (tmp_path / "state").mkdir()
    (tmp_path / "state" / "extras.json").write_text('{"dit_steps": 24}')
    parts.mkdir()
    subprocess.run(f"tar -C {tmp_path / 'state'} -cf - . | split -b 10 -d - {parts}/resume.tar.part", shell=True, check=True)
    assert len(list(parts.glob("resume.tar.part*"))) > 1
    env = _env(tmp_path, PATH=_check_shim(tmp_path), CHECK_TIMEOUT_S="2", CHECK_ARGS="--steps 10 --seed-index 5",
               CHECKS="--seeds 5; --hang; --fail; --set icons --seeds 5 --int8-products")
    run = subprocess.run(["bash", str(root / "model" / "gpu-slice.sh"), "--check", str(parts), "call24"], env=env,
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.stdout.count("failed or ran past CHECK_TIMEOUT_S") == 2
    with tarfile.open(tmp_path / "out" / "checks.tar") as t:
        names = sorted(n for n in t.getnames() if n.endswith(".json"))
        assert names == ["checks/call24-icons-t256-sh6-g2-n4-s5-steps10-int8.json",
                         "checks/call24-t256-sh6-g2-n4-s5-steps10.json"]
        argv = json.loads(t.extractfile(names[0]).read())["argv"]
    # The state handed to sampler_check is the carried parts put together; CHECK_ARGS follow every set's own.
    assert Path(argv[0]).name == "checked" and argv[1:6] == ["--set", "icons", "--seeds", "5", "--int8-products"]
    assert argv[6:10] == ["--steps", "10", "--seed-index", "5"]
    assert not list((tmp_path / "work").glob("flowfill-slice.*"))


def test_a_check_call_refuses_a_folder_without_a_state(tmp_path):
    root = _check_call_root(tmp_path)
    (tmp_path / "empty").mkdir()
    env = _env(tmp_path, PATH=_check_shim(tmp_path), CHECKS="--seeds 5")
    run = subprocess.run(["bash", str(root / "model" / "gpu-slice.sh"), "--check", str(tmp_path / "empty"), "call24"],
                         env=env, capture_output=True, text=True, timeout=60)
    assert run.returncode == 2 and "holds no state" in run.stdout
    assert not (tmp_path / "out" / "checks.tar").exists()
    no_label = subprocess.run(["bash", str(root / "model" / "gpu-slice.sh"), "--check", str(tmp_path / "empty")],
                              env=env, capture_output=True, text=True, timeout=60)
    assert no_label.returncode != 0 and "name the checked state" in no_label.stderr
