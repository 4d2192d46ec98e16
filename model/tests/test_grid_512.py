"""flowfill.grid_512: the evaluation's 512² grid for any state, at the sampler its package recommends."""
import json

from PIL import Image

from flowfill.grid_512 import main
from test_average_states import smoke_state


def test_grid_of_a_state_at_its_recommended_sampler(data, data_dir, tmp_path):
    smoke_state(data, data_dir, tmp_path / "state", seed=1)
    main([str(tmp_path / "state"), str(tmp_path / "grid"), "--n", "3", "--data", str(data_dir), "--device", "cpu"])
    written = json.loads((tmp_path / "grid" / "grid-512-prompts.json").read_text())
    # The evaluation's prompts: held-out v1_emoji and icons captions, interleaved.
    assert written["prompts"] == [data.eval_sets["v1_emoji"][0]["text"], data.eval_sets["icons"][0]["text"],
                                  data.eval_sets["v1_emoji"][1]["text"]]
    assert written["sampling"] == {"steps": 5, "guidance": 2.0, "shift": 3.0} and written["int8_products"] is False
    assert Image.open(tmp_path / "grid" / "grid-512-0.png").size == (4 * 516 - 4, 512)  # 16 a file, 4 a row
    assert Image.open(tmp_path / "grid" / "grid-512-small.png").size == (8 * 258 - 2, 256)  # all, half size, 8 a row
