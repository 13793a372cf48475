import numpy as np
import pandas as pd

from analysis import profile_columns


def test_profiles_describe_kind_range_missing_and_top_values():
    df = pd.DataFrame(
        {
            "id": ["a", "b", "c", "d"],
            "score": [0.1, 0.5, np.nan, 0.9],
            "count": [1.0, 2.0, 2.0, np.nan],
            "n": [3, 1, 3, 3],
            "flag": [True, False, True, True],
            "text": ["x", None, "x", "y"],
        }
    )
    profiles = {p.name: p for p in profile_columns(df)}
    assert profiles["id"].unique_per_row and profiles["id"].kind == "text"
    score = profiles["score"]
    assert (score.kind, score.missing, score.distinct, score.minimum, score.maximum) == ("number", 1, 3, 0.1, 0.9)
    assert score.in_unit_interval
    assert profiles["count"].kind == "integer"  # whole numbers stored as floats because of a gap
    assert profiles["n"].top_values == (("3", 3), ("1", 1))
    assert profiles["flag"].kind == "boolean"
    assert profiles["text"].to_dict() == {
        "name": "text",
        "kind": "text",
        "rows": 4,
        "missing": 1,
        "distinct": 2,
        "top_values": [["x", 2], ["y", 1]],
        "minimum": None,
        "maximum": None,
    }
