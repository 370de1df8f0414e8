"""The oracle itself answers with Segment's behaviour (guards the harness every other differential test uses)."""


def test_oracle_parses_like_segment(oracle):
    reply = oracle.call("fql.parse", text='type = "track"')
    assert reply["ast"] == {
        "type": "group",
        "operator": "and",
        "children": [{"type": "event-type", "operator": "=", "value": "track"}],
    }
    assert "error" in oracle.call("fql.parse", text="userId!=null")


def test_oracle_transforms_like_segment(oracle):
    assert oracle.call("mapping.transform", mapping={"x": {"@path": "$.a.b"}}, event={"a": None}) == {
        "output": {"x": None}
    }
    reply = oracle.call("mapping.transform", mapping={"x": {"@template": {}}}, event={})
    assert reply["error"]["kind"] == "validation"
    assert reply["error"]["messages"] == ["/x/@template should be a string or a mapping directive but it is an object."]
