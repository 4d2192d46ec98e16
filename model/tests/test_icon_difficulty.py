"""flowfill.icon_difficulty: icons' shape measures from the SDF atlas, related to their judged rates, without torch."""
import gzip
import json

import numpy as np
import pytest

from flowfill.icon_difficulty import icon_fields, main, relation, shape_measures


def disc(cx, cy, r, size=8):
    y, x = np.mgrid[:size, :size]
    return np.clip(128 + (r - np.hypot(x - cx, y - cy)) * 32, 0, 255).astype(np.uint8)


def dataset(tmp_path):
    """Three icons, line style: 0 drawn twice alike, 1 drawn twice unalike, 2 once, the same as one of 1's renders."""
    fields = [disc(3, 3, 2), disc(3, 3, 2), disc(1, 1, 1), disc(6, 5, 2), disc(6, 5, 2)]
    (tmp_path / "icons.u8.gz").write_bytes(gzip.compress(np.stack(fields).tobytes()))
    sprites = [{"subject": s, "style": 1, "atlas": "icons-sdf", "index": i, "source": src}
               for i, (s, src) in enumerate([(0, "a"), (0, "b"), (1, "a"), (1, "b"), (2, "a")])]
    manifest = {"atlases": {"icons-sdf": {"file": "icons.u8.gz", "size": 8}},
                "styles": [{"name": "flat", "atlas": "emoji-flat"}, {"name": "line", "atlas": "icons-sdf"}],
                "sprites": sprites,
                "subjects": [{"kind": "icon", "names": [n]} for n in ("bus", "cart", "cpu")],
                "eval_sets": {"icons": [{"subject": 0}, {"subject": 1}, {"subject": 2}]}}
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    return manifest


def test_own_and_nearest_similarity(tmp_path):
    manifest = dataset(tmp_path)
    shapes = shape_measures(manifest, icon_fields(tmp_path, manifest), [0, 1, 2])
    assert shapes[0]["own"] == pytest.approx(1.0)
    assert shapes[1]["own"] < 0.9  # its two sets draw it apart
    assert shapes[2]["own"] is None  # one render: nothing to agree with
    assert shapes[2]["nearest"] == pytest.approx(1.0)  # the same drawing as one of cart's
    assert shapes[0]["nearest"] < 1.0


def test_relation_bins_by_quantile_and_correlates():
    r = relation({1: 0.1, 2: 0.2, 3: 0.3, 4: 0.4, 5: None}, {1: 1.0, 2: 0.5, 3: 0.5, 4: 0.0, 5: 1.0}, bins=2)
    assert r["n"] == 4 and r["correlation"] < -0.9
    assert [b["n"] for b in r["bins"]] == [2, 2] and [b["rate"] for b in r["bins"]] == [0.75, 0.25]


def test_cli_relates_judged_counts_and_checks(tmp_path):
    dataset(tmp_path)
    flowfill = {"vocabulary": {"kinds": [{"kind": "icon", "subjects": [
        {"name": "bus", "judged": [0, 5]}, {"name": "cart", "judged": [4, 5]}, {"name": "cpu", "judged": [2, 5]}]}]}}
    (tmp_path / "flowfill.json").write_text(json.dumps(flowfill))
    check = {"set": "icons", "seeds": 2, "scores": {"per_image": {"subject_top1_vocab": [0, 1, 1, 0, 1, 0]}}}
    (tmp_path / "check.json").write_text(json.dumps(check))
    result = main(["--data", str(tmp_path), "--judged", str(tmp_path / "flowfill.json"), "--check",
                   str(tmp_path / "check.json"), "--json", str(tmp_path / "out.json")])
    assert result["icons"] == 3
    assert result["by_source"][str(tmp_path / "check.json")]["nearest"]["n"] == 3
    assert result["by_source"][str(tmp_path / "flowfill.json")]["own"]["n"] == 2  # cpu has one render
    assert result["between_sources"][0]["n"] == 3
    assert json.loads((tmp_path / "out.json").read_text())["style"] == "line"
    with pytest.raises(SystemExit):
        main(["--data", str(tmp_path)])
