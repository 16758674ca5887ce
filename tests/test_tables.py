"""docs/tables.md describes every table of ``pipeline.core.tables``, column by column."""

import re
from pathlib import Path

import pytest

from pipeline.core import tables

DOCS = (Path(__file__).resolve().parent.parent / "docs" / "tables.md").read_text()
DTYPES = {"str", "int64", "float64", "bool", "object"}


def documented_columns(pattern: str) -> str:
    """The paragraph of docs/tables.md that describes table ``pattern`` (up to the next file)."""
    name = pattern.split("/")[-1].replace("embed ", "")
    start = DOCS.find(f"`{pattern}`") if f"`{pattern}`" in DOCS else DOCS.find(name)
    assert start >= 0, f"docs/tables.md does not mention {pattern}"
    end = DOCS.find("\n\n", start)
    return DOCS[start:end if end > 0 else None]


@pytest.mark.parametrize("pattern", sorted(tables.TABLES))
def test_docs_name_every_column(pattern):
    text = documented_columns(pattern)
    missing = [c for c in tables.TABLES[pattern] if not re.search(rf"\b{re.escape(c)}\b", text)]
    assert missing == [], f"docs/tables.md, {pattern}: columns not described: {missing}"


def test_schemas_use_known_dtypes():
    for pattern, schema in tables.TABLES.items():
        assert set(schema.values()) <= DTYPES, pattern


def test_the_docs_check_fires_on_an_undocumented_column(monkeypatch):
    monkeypatch.setitem(tables.TABLES, "pairs.parquet",
                        dict(tables.RECIPE, brand_new_column="str"))
    with pytest.raises(AssertionError, match="brand_new_column"):
        test_docs_name_every_column("pairs.parquet")
