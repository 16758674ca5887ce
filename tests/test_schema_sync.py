"""The config schema and the stages' parameter dataclasses agree, key for key and default for default."""

import dataclasses
import importlib
from pathlib import Path

import pytest
import yaml

SCHEMA = yaml.safe_load((Path(__file__).resolve().parent.parent / "workflow/schemas/config.schema.yaml").read_text())

SECTIONS = {
    ("svd",): "pipeline.analysis.voicing:SvdParams",
    ("tempo",): "pipeline.analysis.tempo:TempoParams",
    ("key",): "pipeline.analysis.key_params:KeyParams",
    ("mashup",): "pipeline.mashup.mix:MashupParams",
    ("features",): "pipeline.dataset.features:FeatureParams",
    ("train",): "pipeline.train.params:TrainParams",
    ("evaluate",): "pipeline.evaluate.protocol:EvalParams",
    ("songs",): "pipeline.evaluate.songs:SongsParams",
    ("split",): "pipeline.sources.split:SplitParams",
    ("shards",): "pipeline.sources.ingest:ShardParams",
    ("sources", "accompaniments"): "pipeline.sources.accompaniments:AccompanimentSource",
}


def _schema_section(path):
    node = SCHEMA
    for key in path:
        node = node["properties"][key]
    return node


def _default(field):
    value = field.default if field.default is not dataclasses.MISSING else field.default_factory()
    return list(value) if isinstance(value, tuple) else value


@pytest.mark.parametrize("path, target", SECTIONS.items(), ids=[".".join(p) for p in SECTIONS])
def test_schema_matches_dataclass(path, target):
    module, name = target.split(":")
    cls = getattr(importlib.import_module(module), name)
    node = _schema_section(path)
    props = node["properties"]
    fields = {f.name: _default(f) for f in dataclasses.fields(cls)}
    assert set(props) == set(fields), f"{'.'.join(path)}: schema vs {name}"
    for key, default in fields.items():
        assert props[key]["default"] == default, f"{'.'.join(path)}.{key}"
        assert props[key].get("description"), f"{'.'.join(path)}.{key} has no description"
    assert node.get("additionalProperties") is False


def test_every_schema_key_has_description_and_default():
    def walk(node, path):
        for key, sub in node.get("properties", {}).items():
            assert "description" in sub and "default" in sub, ".".join(path + [key])
            walk(sub, path + [key])

    walk(SCHEMA, [])
