"""Parameter models: validation before any kernel starts, and the parameters cell contract."""

from __future__ import annotations

import json
from datetime import date

import pytest
from pydantic import BaseModel

from quantlib import parameters as P
from quantlib.parameters import (
    NotebookParameters,
    ParameterError,
    check_parameters_cell,
    load_parameter_file,
    parameters_cell,
    parameters_model,
    register_parameters,
    validate_parameters,
)
from tests.publish.conftest import FIXTURE_NB, FixtureReportParameters, make_notebook


def test_validate_fills_defaults_and_returns_json_values():
    values = validate_parameters(FIXTURE_NB, {"company": "seasonal_outdoor", "as_of": date(2024, 12, 31),
                                              "months": "4"})
    assert values == {"company": "seasonal_outdoor", "lake": "data/demo/seasonal_outdoor/lake",
                      "as_of": "2024-12-31", "months": 4, "region": "North"}
    json.dumps(values)  # what papermill injects and run.json stores


def test_unknown_company_names_the_known_ones():
    with pytest.raises(ParameterError) as err:
        validate_parameters(FIXTURE_NB, {"company": "x"})
    assert err.value.problems == ["company: unknown company 'x'; known: mixed_trades, seasonal_outdoor"]


def test_every_problem_is_listed_as_field_message():
    with pytest.raises(ParameterError) as err:
        validate_parameters(FIXTURE_NB, {"months": "many", "colour": "red", "as_of": "yesterday"})
    problems = err.value.problems
    fields = sorted(p.split(":")[0] for p in problems)
    assert fields == ["as_of", "colour", "company", "months"]
    assert "colour: unknown parameter" in problems
    assert any(p.startswith("company: Field required") for p in problems)
    assert isinstance(err.value, ValueError)


def test_a_string_field_stays_a_string():
    # -p region=2024 is parsed by YAML to an int; the model must not turn it into a region 2024.
    with pytest.raises(ParameterError, match="region"):
        validate_parameters(FIXTURE_NB, {"company": "mixed_trades", "region": 2024})


def test_project_root_from_quant_home(tmp_path, monkeypatch):
    (tmp_path / "parameters" / "companies").mkdir(parents=True)
    (tmp_path / "parameters" / "companies" / "acme.yaml").write_text("name: Acme\n")
    monkeypatch.setenv("QUANT_HOME", str(tmp_path))
    assert P.project_root() == tmp_path.resolve()
    assert NotebookParameters(company="acme").lake == "data/demo/acme/lake"
    with pytest.raises(ParameterError, match="known: acme"):
        validate_parameters(FIXTURE_NB, {"company": "mixed_trades"})


def test_register_parameters_directly_and_as_decorator(tmp_path):
    class A(NotebookParameters):
        n: int = 1

    assert register_parameters("nb_a", A) is A

    @register_parameters("nb_b")
    class B(NotebookParameters):
        pass

    assert parameters_model(tmp_path / "nb_a.ipynb") is A
    assert parameters_model(tmp_path / "nb_b.ipynb") is B
    assert parameters_model(FIXTURE_NB) is FixtureReportParameters


def test_model_named_in_notebook_metadata(tmp_path):
    import nbformat

    path = make_notebook(tmp_path / "meta_nb.ipynb", "x = 1", parameters='company = "mixed_trades"')
    nb = nbformat.read(path, as_version=4)
    nb.metadata["quant"] = {"parameters": "tests.publish.conftest:FixtureReportParameters"}
    nbformat.write(nb, path)
    assert parameters_model(path) is FixtureReportParameters


def test_unregistered_notebook_gets_a_model_from_its_cell(tmp_path):
    path = make_notebook(tmp_path / "draft.ipynb", parameters='company = "mixed_trades"\nn = 3\nlabel = "a"')
    model = parameters_model(path)
    assert issubclass(model, NotebookParameters)
    assert validate_parameters(path, {"company": "mixed_trades", "n": 5})["n"] == 5
    with pytest.raises(ParameterError) as err:
        validate_parameters(path, {"company": "mixed_trades", "n": "five", "nn": 1})
    assert sorted(p.split(":")[0] for p in err.value.problems) == ["n", "nn"]
    free = make_notebook(tmp_path / "free.ipynb", parameters="k = 2.5")
    assert issubclass(parameters_model(free), BaseModel)
    with pytest.raises(ParameterError, match="zz: unknown parameter"):
        validate_parameters(free, {"zz": 1})


def test_load_parameter_file(tmp_path):
    f = tmp_path / "p.yaml"
    f.write_text("company: mixed_trades\nas_of: 2024-06-30\nmonths: 3\n")
    assert load_parameter_file(f) == {"company": "mixed_trades", "as_of": date(2024, 6, 30), "months": 3}
    (tmp_path / "empty.yaml").write_text("")
    assert load_parameter_file(tmp_path / "empty.yaml") == {}
    (tmp_path / "list.yaml").write_text("- 1\n")
    with pytest.raises(ParameterError):
        load_parameter_file(tmp_path / "list.yaml")


def test_parameters_cell_is_parsed_not_run(tmp_path):
    assert parameters_cell(FIXTURE_NB) == {"company": "mixed_trades", "lake": None, "as_of": None,
                                           "months": 6, "region": "North"}
    bad = make_notebook(tmp_path / "bad.ipynb", parameters="n = compute()")
    with pytest.raises(ParameterError, match="not a literal"):
        parameters_cell(bad)
    with pytest.raises(ParameterError, match="no cell tagged"):
        parameters_cell(make_notebook(tmp_path / "none.ipynb", "x = 1"))


def test_check_parameters_cell_passes_for_a_mirroring_cell():
    check_parameters_cell(FIXTURE_NB)


@pytest.mark.parametrize("cell, message", [
    ('company = "mixed_trades"\nlake = None\nas_of = None\nmonths = 7\nregion = "North"', "months: cell default 7"),
    ('company = "mixed_trades"\nlake = None\nas_of = None\nmonths = 6', "region: in the model but not"),
    ('company = "mixed_trades"\nlake = None\nas_of = None\nmonths = 6\nregion = "North"\nextra = 1',
     "extra: in the parameters cell"),
    ('company = "nope"\nlake = None\nas_of = None\nmonths = 6\nregion = "North"', "unknown company 'nope'"),
])
def test_check_parameters_cell_catches_drift(tmp_path, cell, message):
    path = make_notebook(tmp_path / "fixture_report.ipynb", parameters=cell)
    with pytest.raises(AssertionError, match=message):
        check_parameters_cell(path)


# -- company slugs and lake locations (issue 11, security) ---------------------------------------

@pytest.mark.parametrize("company", ["../reports/x", "/tmp/abs", "mixed_trades/../x", "Mixed", ".hidden", ""])
def test_company_must_be_a_slug(company):
    with pytest.raises(ParameterError, match="not a company slug") as info:
        validate_parameters(FIXTURE_NB, {"company": company})
    assert len(info.value.problems) == 1 and "\n" not in str(info.value)


@pytest.mark.parametrize("lake", ["/etc", "../outside/lake", "data/../../outside"])
def test_lake_from_a_file_or_notebook_must_stay_under_the_allowed_roots(lake, monkeypatch):
    monkeypatch.delenv(P.DATA_ROOTS_ENV, raising=False)
    with pytest.raises(ParameterError, match=r"^lake: .* is outside the project root and \$QUANT_DATA_ROOTS"):
        validate_parameters(FIXTURE_NB, {"company": "mixed_trades", "lake": lake})


def test_lake_under_the_project_or_a_data_root_is_accepted(tmp_path, monkeypatch):
    monkeypatch.delenv(P.DATA_ROOTS_ENV, raising=False)
    values = validate_parameters(FIXTURE_NB, {"company": "mixed_trades", "lake": "data/acme/lake"})
    assert values["lake"] == "data/acme/lake"
    outside = str(tmp_path / "lake")
    with pytest.raises(ParameterError, match="outside the project root"):
        validate_parameters(FIXTURE_NB, {"company": "mixed_trades", "lake": outside})
    monkeypatch.setenv(P.DATA_ROOTS_ENV, f"/nonexistent:{tmp_path}")
    assert validate_parameters(FIXTURE_NB, {"company": "mixed_trades", "lake": outside})["lake"] == outside


def test_a_lake_given_by_the_user_may_be_anywhere(tmp_path, monkeypatch):
    monkeypatch.delenv(P.DATA_ROOTS_ENV, raising=False)
    values = validate_parameters(FIXTURE_NB, {"company": "mixed_trades", "lake": str(tmp_path)}, trusted_lake=True)
    assert values["lake"] == str(tmp_path)


def test_app_parameters_trust_quant_lake_but_not_the_notebook(tmp_path, monkeypatch):
    monkeypatch.delenv(P.DATA_ROOTS_ENV, raising=False)
    params, root = P.app_parameters(NotebookParameters, {"company": "mixed_trades"},
                                    environ={"QUANT_LAKE": str(tmp_path)})
    assert root == tmp_path
    with pytest.raises(ParameterError, match="lake: .*outside the project root"):
        P.app_parameters(NotebookParameters, {"company": "mixed_trades", "lake": str(tmp_path)}, environ={})
