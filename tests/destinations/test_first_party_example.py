"""examples/first-party.yaml loads, and routes as docs/segment.md says: 1Flow in the page, every type forwarded."""

from pathlib import Path

from actions_1flow.config import load_config, parse_config

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "first-party.yaml"
ENV = {
    "ONEFLOW_PROJECT_KEY": "1f_live_example_key_0000",
    "SEGMENT_WRITE_KEY": "wk_segment_example",
    "WEBHOOK_SECRET": "s",
}


def test_the_first_party_example_loads_and_forwards_every_type():
    web, segment = load_config(EXAMPLE, env=ENV).destinations
    assert (web.mode, segment.mode, segment.definition.type) == ("device", "cloud", "segment")
    assert segment.settings.api_base_url() == "https://api.segment.io/v1"
    names = [c.name for c in segment.compiled]
    assert names == [
        "Forward Track",
        "Forward Identify",
        "Forward Page",
        "Forward Screen",
        "Forward Group",
        "Forward Alias",
    ]


def test_the_commented_webhook_loads_once_uncommented():
    lines = EXAMPLE.read_text(encoding="utf-8").splitlines()
    start = lines.index("  # - name: warehouse-hook")
    text = "\n".join([*lines[:start], *(line.replace("  # ", "  ", 1) for line in lines[start:])])
    hook = parse_config(text, EXAMPLE, env=ENV).destinations[2]
    assert hook.definition.type == "webhook" and [c.name for c in hook.compiled] == ["Orders"]
