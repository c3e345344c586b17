"""Typed YAML files: every problem named with its file."""

from pathlib import Path

import pytest
from pydantic import BaseModel, ConfigDict

import quantlib
from quantlib.config import load_yaml_model, project_root


class Sample(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    size: int


@pytest.mark.parametrize("text,message", [
    ("name: a\nsize: x\n", "size: Input should be a valid integer"),
    ("name: a\nsize: 1\ncolour: red\n", "colour: unknown key"),
    ("- a\n- b\n", "a sample is a YAML mapping"),
    ("name: [unclosed\n", "cannot read sample"),
])
def test_problems_name_the_file_and_field(tmp_path, text, message):
    path = tmp_path / "s.yaml"
    path.write_text(text)
    with pytest.raises(ValueError, match="s.yaml: ") as info:
        load_yaml_model(path, Sample, "sample")
    assert message in str(info.value)


def test_missing_file_and_custom_error(tmp_path):
    class SpecError(Exception):
        pass

    with pytest.raises(SpecError, match="sample file not found"):
        load_yaml_model(tmp_path / "none.yaml", Sample, "sample", error=SpecError)


def test_valid_file(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text("name: a\nsize: 3\n")
    assert load_yaml_model(path, Sample, "sample") == Sample(name="a", size=3)


def test_project_root_is_quant_home_else_the_folder_holding_the_package(monkeypatch, tmp_path):
    monkeypatch.delenv("QUANT_HOME", raising=False)
    assert project_root() == Path(quantlib.__file__).resolve().parents[1]
    monkeypatch.setenv("QUANT_HOME", str(tmp_path))
    assert project_root() == tmp_path.resolve()
