"""Config loading: YAML is the single source of values, and every mistake names its key."""

from __future__ import annotations

import pytest
import yaml
from pydantic import TypeAdapter

from tracker.config import (
    CONFIG_DIR,
    TRACKERS,
    TrackerConfig,
    apply_overrides,
    load_config,
    overrides_for_tracker,
    parse_override,
)
from tracker.errors import ConfigError


def test_default_loads_botsort():
    cfg = load_config()
    assert cfg.tracker.name == "botsort"
    assert cfg.detector.name == "yolox"


@pytest.mark.parametrize("name", TRACKERS.names)
def test_every_tracker_yaml_validates(name):
    assert load_config(tracker=name).tracker.name == name


@pytest.mark.parametrize("preset", ["bytetrack_paper.yaml", "botsort_paper.yaml"])
def test_paper_presets_pin_every_tracker_key(preset):
    # A preset pins its whole tracker section, so a change of a tracker's defaults never changes it:
    # the config models have no defaults, so validating the section alone fails on any missing key.
    path = CONFIG_DIR / preset
    pinned = TypeAdapter(TrackerConfig).validate_python(yaml.safe_load(path.read_text())["tracker"])
    assert load_config(path).tracker == pinned


def test_override_switches_tracker_section():
    cfg = load_config(overrides=["tracker.name=deepsort", "tracker.nn_budget=7"])
    assert cfg.tracker.name == "deepsort" and cfg.tracker.nn_budget == 7


def test_user_file_merges_over_defaults(tmp_path):
    f = tmp_path / "mine.yaml"
    f.write_text("tracker:\n  name: bytetrack\n  max_age: 12\ndetector:\n  conf_threshold: 0.5\n")
    cfg = load_config(f)
    assert cfg.tracker.name == "bytetrack" and cfg.tracker.max_age == 12
    assert cfg.detector.conf_threshold == 0.5
    assert cfg.tracker.match_thresh == load_config(tracker="bytetrack").tracker.match_thresh


@pytest.mark.parametrize(
    "override, message",
    [
        ("tracker.max_age=-1", "tracker.max_age"),
        ("tracker.bogus=1", "unknown config key 'tracker.bogus'"),
        ("detector.name=nope", "detector.name"),
        ("detector.conf_threshold=1.5", "detector.conf_threshold"),
        ("tracker.n_init=abc", "tracker.n_init"),
        ("nosection.x=1", "'nosection' is not a section"),
        ("tracker.name=nope", "unknown tracker 'nope'"),
        ("justtext", "bad override"),
        ("batch.pin_cores=yes", "batch.pin_cores: Input should be 'auto' or False (got True)"),
        ("batch.pin_cores=always", "batch.pin_cores: Input should be 'auto' or False (got 'always')"),
    ],
)
def test_bad_values_name_the_key(override, message):
    with pytest.raises(ConfigError) as err:
        load_config(overrides=[override])
    assert message in str(err.value)
    assert "\n" not in str(err.value)


def test_invalid_yaml_names_line(tmp_path):
    f = tmp_path / "bad.yaml"
    f.write_text("tracker:\n  name: [unclosed\n")
    with pytest.raises(ConfigError, match=r"invalid YAML in .*bad.yaml at line \d+"):
        load_config(f)


def test_yaml_with_wrong_types(tmp_path):
    f = tmp_path / "types.yaml"
    f.write_text("detector:\n  classes: 5\n")
    with pytest.raises(ConfigError, match="detector.classes"):
        load_config(f)
    f.write_text("- just\n- a list\n")
    with pytest.raises(ConfigError, match="mapping"):
        load_config(f)


def test_missing_config_file():
    with pytest.raises(ConfigError, match="config file not found"):
        load_config("/nonexistent/x.yaml")


def test_parse_override_reads_yaml_values():
    assert parse_override("a.b=3") == (["a", "b"], 3)
    assert parse_override("a=[person, car]") == (["a"], ["person", "car"])
    assert parse_override("a=null") == (["a"], None)


def test_apply_overrides_revalidates():
    cfg = load_config()
    assert apply_overrides(cfg, {"tracker.max_age": 5}).tracker.max_age == 5
    with pytest.raises(ConfigError):
        apply_overrides(cfg, {"tracker.max_age": 0})


def test_resolved_config_round_trips_through_yaml(tmp_path):
    cfg = load_config(tracker="deepsort", overrides=["tracker.nn_budget=9"])
    f = tmp_path / "resolved.yaml"
    f.write_text(cfg.to_yaml())
    assert load_config(f) == cfg


@pytest.mark.parametrize("saved", TRACKERS.names)
@pytest.mark.parametrize("chosen", TRACKERS.names)
def test_a_saved_config_runs_with_another_tracker(saved, chosen, tmp_path, caplog):
    """A run's config.yaml names its tracker; --tracker (or tracker.name) picks another: the saved tracker section
    is left out with one warning, the chosen tracker starts from its own defaults, every other section is kept."""
    f = tmp_path / "config.yaml"
    f.write_text(load_config(tracker=saved, overrides=["detector.conf_threshold=0.33", "output.trail_length=4"]).to_yaml())
    for cfg in (load_config(f, tracker=chosen), load_config(f, overrides=[f"tracker.name={chosen}"])):
        assert cfg.tracker == load_config(tracker=chosen).tracker
        assert cfg.detector.conf_threshold == 0.33 and cfg.output.trail_length == 4
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    if saved == chosen:
        assert not warnings
    else:
        assert len(warnings) == 2 and f"its tracker section is for {saved}, so it is left out" in warnings[0]
    # overrides still reach the chosen tracker
    assert load_config(f, tracker=chosen, overrides=["tracker.max_age=7"]).tracker.max_age == 7


def test_every_config_error_is_reported_at_once(tmp_path):
    f = tmp_path / "bad.yaml"
    f.write_text("tracker:\n  max_agee: 3\n  n_init: 0\ndetector:\n  conf_threshold: 5\n")
    with pytest.raises(ConfigError) as err:
        load_config(f, overrides=["nosection.x=1", "output.video=maybe"])
    text = str(err.value)
    assert text.startswith("5 config errors: ") and "\n" not in text
    for fragment in (
        "unknown config key 'nosection.x' ('nosection' is not a section)",
        "detector.conf_threshold: Input should be less than or equal to 1",
        "tracker.n_init: Input should be greater than or equal to 1",
        "unknown config key 'tracker.max_agee'",
        "output.video: Input should be a valid boolean",
    ):
        assert fragment in text
    assert err.value.fix == "Fix them in your YAML or with --set"


def test_compared_trackers_take_only_the_overrides_they_have():
    names = ["sort", "botsort"]
    overrides = ["tracker.appearance_thresh=0.3", "tracker.kalman.std_position=0.2", "detector.conf_threshold=0.2"]
    sort = load_config(tracker="sort", overrides=overrides_for_tracker(overrides, "sort", names))
    botsort = load_config(tracker="botsort", overrides=overrides_for_tracker(overrides, "botsort", names))
    assert botsort.tracker.appearance_thresh == 0.3
    assert sort.tracker.kalman.std_position == botsort.tracker.kalman.std_position == 0.2
    assert sort.detector.conf_threshold == botsort.detector.conf_threshold == 0.2
    # a key no listed tracker has still fails loading, and one tracker alone keeps every override
    assert overrides_for_tracker(["tracker.nonsense=1"], "sort", names) == ["tracker.nonsense=1"]
    assert overrides_for_tracker(overrides, "sort", ["sort"]) == overrides
    with pytest.raises(ConfigError, match="tracker.appearance_thresh"):
        load_config(tracker="sort", overrides=overrides)
