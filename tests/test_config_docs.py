"""config/README.md documents every config key of the schema.

Every top-level property of ``workflow/schemas/config.schema.yaml`` has a ``## <name>`` section,
and every key below it is mentioned inside that section: a second-level key as `` `key` ``,
a deeper one by its dotted path from the section (`` `vocals.columns.id` `` under ``sources``).
A new config key without docs fails here.
"""

import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
SCHEMA = yaml.safe_load((ROOT / "workflow/schemas/config.schema.yaml").read_text())
README = (ROOT / "config/README.md").read_text()


def sections(text: str) -> dict[str, str]:
    """``## name`` heading -> the text up to the next ``## `` heading."""
    parts = re.split(r"^## +(\S+)[ \t]*$", text, flags=re.M)
    return {name: body for name, body in zip(parts[1::2], parts[2::2])}


def nested_keys(node: dict, prefix: str = "") -> list[str]:
    """Dotted paths of every property below ``node`` (the section itself excluded)."""
    out = []
    for key, sub in (node.get("properties") or {}).items():
        path = f"{prefix}{key}"
        out.append(path)
        out.extend(nested_keys(sub, f"{path}."))
    return out


def missing_docs(schema: dict, text: str) -> list[str]:
    """Config keys of ``schema`` that ``text`` does not document, as dotted paths."""
    docs = sections(text)
    missing = []
    for top, node in schema["properties"].items():
        if top not in docs:
            missing.append(top)
            continue
        body = docs[top]
        for path in nested_keys(node):
            if f"`{path}`" not in body:
                missing.append(f"{top}.{path}")
    return missing


def test_every_schema_key_is_documented():
    assert missing_docs(SCHEMA, README) == []


def test_sections_in_schema_order():
    documented = [name for name in sections(README) if name in SCHEMA["properties"]]
    assert documented == list(SCHEMA["properties"])


@pytest.mark.parametrize("section", [name for name, node in SCHEMA["properties"].items()
                                     if node.get("properties")])
def test_second_level_keys_named_in_their_section(section):
    body = sections(README)[section]
    for key in SCHEMA["properties"][section]["properties"]:
        assert f"`{key}`" in body, f"{section}.{key} is not mentioned under ## {section}"


def test_check_fires_on_an_undocumented_key():
    import copy

    fake = copy.deepcopy(SCHEMA)
    fake["properties"]["svd"]["properties"]["brand_new_key"] = {"type": "number", "default": 1}
    fake["properties"]["sources"]["properties"]["vocals"]["properties"]["columns"][
        "properties"]["brand_new_column"] = {"type": "string", "default": "x"}
    fake["properties"]["brand_new_section"] = {"type": "object", "properties": {}}
    assert missing_docs(fake, README) == [
        "sources.vocals.columns.brand_new_column",
        "svd.brand_new_key",
        "brand_new_section",
    ]


def test_check_is_per_section():
    """A key documented only under another section does not count."""
    features = sections(README)["features"]
    text = README.replace(features, features.replace("`batch_size`", "`batchsize`"))
    assert "`batch_size`" in text  # still there under train and evaluate
    assert missing_docs(SCHEMA, text) == ["features.batch_size"]


def test_data_sections_are_the_ones_named_in_the_readme():
    from pipeline.core.config import DATA_SECTIONS

    intro = README.split("\n## ", 1)[0]
    named = re.search(r"The\s+sections (.*?) are \*data sections\*", intro, flags=re.S)
    assert named, "the intro lists the data sections"
    assert re.findall(r"`(\w+)`", named.group(1)) == list(DATA_SECTIONS)


def _node(section: str, path: str) -> dict:
    node = SCHEMA["properties"][section]
    if path == section and "properties" not in node:
        return node
    for key in path.split("."):
        node = node["properties"][key]
    return node


def _same(cell: str, default) -> bool:
    value = yaml.safe_load(cell)
    if isinstance(default, float) and not isinstance(default, bool):
        return float(value) == default
    return value == default


def test_table_defaults_match_the_schema():
    """Each table row's default is the schema's, and every leaf key has a row."""
    rows = set()
    for section, body in sections(README).items():
        for path, cell in re.findall(r"^\| `([\w.]+)` \| `([^`]*)` \|", body, flags=re.M):
            node = _node(section, path)
            assert _same(cell, node.get("default")), (
                f"{section}: {path} documented with default {cell!r}, schema has {node.get('default')!r}")
            rows.add(f"{section}.{path}" if path != section else section)
    leaves = {top if "properties" not in node else f"{top}.{path}"
              for top, node in SCHEMA["properties"].items()
              for path in (nested_keys(node) or [top])
              if "properties" not in node or "properties" not in _node(top, path)}
    assert leaves - rows == set()
