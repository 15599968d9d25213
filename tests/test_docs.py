"""Generated documentation stays in step with the code."""

from pathlib import Path

from projections.read_model_docs import markdown


def test_read_model_schema_doc_is_current():
    assert (Path(__file__).parent.parent / "docs" / "read-models.md").read_text(encoding="utf-8") == markdown()
