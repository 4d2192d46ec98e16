"""A built-in package's release version, and the display name that carries it ("… v2.10" for 2.10.0):

  python3 -m flowfill.release_version <package>/flowfill.json <version>

Each built-in release gets its own version and name (flowfill.json, outside the package hash), so a layer's "Made
with …" names it apart from the release before it. Both ways a release ships write them here:
install-package.sh --ship-candidate (new weights) and flowfill.ship_sampler (the same weights, a new sampler).
"""
import json
import re
import sys
from pathlib import Path

VERSION = re.compile(r"[0-9]+\.[0-9]+\.[0-9]+")


def set_release_version(manifest: dict, version: str) -> None:
    """Sets `manifest`'s version (and the training record's copy of it) and its name's " v<major>[.<minor>]"."""
    if not VERSION.fullmatch(version):
        raise ValueError(f"version {version} is not major.minor.patch")
    major, minor, _ = version.split(".")
    manifest["name"] = re.sub(r" v[0-9.]+$", "", manifest["name"]) + f" v{major}" + (f".{minor}" if minor != "0" else "")
    manifest["version"] = version
    if "version" in manifest.get("training", {}):  # the export copies the package version there too
        manifest["training"]["version"] = version


def write_manifest(path: Path, manifest: dict) -> None:
    path.write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")


def main(argv=None):
    path, version = (argv if argv is not None else sys.argv[1:])
    path = Path(path)
    manifest = json.loads(path.read_text())
    set_release_version(manifest, version)
    write_manifest(path, manifest)
    print(f"{path}: {manifest['name']}, version {version}")


if __name__ == "__main__":
    main()
