"""The built-in model's new sampler, shipped without new bytes:

  python3 -m flowfill.ship_sampler <state folder> ../models/default --version 2.10.0

`flowfill.set_sampler` re-chooses a state's sampler. When only the guidance or the steps change, the package's files
are the same bytes (both live in flowfill.json, outside the package hash), so the built-in model keeps its hash and
every layer made with it still regenerates from it at the sampler its provenance records. Retiring the old version
into models/v<major.minor> (install-package.sh --ship-candidate) would then keep a second copy of identical weights,
~25 MB a release; this writes the new recommendation, version and name into the built-in package's flowfill.json
instead, after checking that the state's package is the built-in model's weights, file by file.

A new shift is refused here: it changes scheduler_config.json and with it the hash, so the old package must stay
where its layers can find it (install-package.sh --ship-candidate). The judged counts (flowfill.vocabulary --checks)
were drawn at the old sampler and are dropped; count again with checks made at the new one.
"""
import argparse
import json
from pathlib import Path

from .release_version import set_release_version, write_manifest
from .set_sampler import without_judged_counts

TRANSFORMER = "transformer/model.onnx"


def _weights_differ(state_files: dict, built_in: dict) -> list[str]:
    """The files where the state's package is not the built-in model's bytes (its transformer is rebuilt: the
    rebuild records the sha256 it was made from)."""
    shipped = {name: entry["sha256"] for name, entry in built_in["files"].items()}
    if "transformer_rebuilt" in built_in:
        shipped[TRANSFORMER] = built_in["transformer_rebuilt"]["from_sha256"]
    return sorted(name for name in set(state_files) | set(shipped) if state_files.get(name, {}).get("sha256") != shipped.get(name))


def _reason_for(state: Path, changes: list[dict], recommended: dict) -> str:
    """The why of the state's last sampler change, which must be the change to the sampler it now recommends: a line's
    state carries its ancestors' changes too, and an older one's reason would be recorded against this release."""
    if not changes or not changes[-1].get("why"):
        raise ValueError(f"{state}/extras.json records no sampler change (flowfill.set_sampler --why …)")
    last = changes[-1]
    drawn_at = {k: recommended.get(k) for k in last["to"]}
    if drawn_at != last["to"]:
        raise ValueError(f"{state}/extras.json's last sampler change is to {last['to']}, but its package recommends "
                         f"{drawn_at}: record this change with flowfill.set_sampler --why …")
    return last["why"]


def ship_sampler(state: Path, built_in: Path, version: str) -> dict:
    """Writes the state's recommended sampler into `built_in`/flowfill.json as version `version`; returns the change."""
    state_manifest = json.loads((state / "package" / "flowfill.json").read_text())
    extras = json.loads((state / "extras.json").read_text())
    path = built_in / "flowfill.json"
    manifest = json.loads(path.read_text())
    if manifest["version"] == version:
        raise ValueError(f"{built_in} is {version} already")
    differ = _weights_differ(state_manifest["files"], manifest)
    if differ:
        raise ValueError(f"{state}/package is not {built_in}'s weights ({', '.join(differ)} differ): "
                         "ship new bytes with install-package.sh --ship-candidate")
    old, new = manifest.get("recommended", {}), state_manifest.get("recommended", {})
    if new.get("shift") != old.get("shift"):
        raise ValueError(f"the shift changes ({old.get('shift')} -> {new.get('shift')}), and with it the package hash: "
                         "ship with install-package.sh --ship-candidate")
    if new == old:
        raise ValueError(f"{state} recommends {old}, as {built_in} does already")
    reason = _reason_for(state, extras.get("sampler_changes") or [], new)

    change = {"version": version, "from": {"version": manifest["version"], **old}, "to": new, "why": reason}
    set_release_version(manifest, version)
    manifest["recommended"] = new
    if "vocabulary" in manifest:
        manifest["vocabulary"] = without_judged_counts(manifest["vocabulary"])
    manifest["sampler_changes"] = [*manifest.get("sampler_changes", []), change]
    write_manifest(path, manifest)
    return change


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("state", help="a state folder (package/ + extras.json) whose sampler flowfill.set_sampler changed")
    ap.add_argument("built_in", help="the built-in package holding the same weights (e.g. ../models/default)")
    ap.add_argument("--version", required=True, help="the release's version, e.g. 2.10.0 (its name becomes '… v2.10')")
    a = ap.parse_args(argv)
    try:
        change = ship_sampler(Path(a.state), Path(a.built_in), a.version)
    except ValueError as e:
        ap.error(str(e))
    print(f"{a.built_in}/flowfill.json: version {change['from']['version']} -> {a.version}, sampler "
          f"{ {k: v for k, v in change['from'].items() if k != 'version'} } -> {change['to']} (package hash unchanged); "
          "count the vocabulary again from checks at the new sampler (flowfill.vocabulary --checks)")


if __name__ == "__main__":
    main()
