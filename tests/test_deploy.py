"""Deploying to Streamlit Community Cloud: the dependency file Cloud would pick installs PyTorch's
CPU-only build and everything the app imports; .streamlit/config.toml holds only settings fit for a
hosted app. (No network here: these read the files as Cloud would.)"""

import ast
import re
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ENTRYPOINT = ROOT / "app" / "Home.py"
# Cloud's order: the entrypoint's folder first, then the repository root; in each, the first of these
CLOUD_FILES = ("uv.lock", "Pipfile", "environment.yml", "requirements.txt", "pyproject.toml")
CPU_INDEX = "https://download.pytorch.org/whl/cpu"
IMPORT_NAMES = {"torch": "torch", "streamlit": "streamlit", "altair": "altair", "pandas": "pandas",
                "sqlalchemy": "sqlalchemy", "psycopg": "psycopg", "qrcode": "qrcode",
                "confusable_homoglyphs": "confusable-homoglyphs"}  # import name -> package


def cloud_dependency_file() -> Path:
    for folder in (ENTRYPOINT.parent, ROOT):
        for name in CLOUD_FILES:
            if (folder / name).is_file():
                return folder / name
    raise AssertionError("Cloud would find no dependency file")


def requirement_lines(path: Path) -> list[str]:
    lines = [line.split("#", 1)[0].strip() for line in path.read_text().splitlines()]
    return [line for line in lines if line]


def third_party_imports() -> set[str]:
    """Top-level modules imported by the app and the package, other than their own."""
    local = ({p.stem for p in (ROOT / "app").glob("*.py")} | {p.parent.name for p in (ROOT / "app").glob("*/__init__.py")}
             | {"makemore"})
    found = set()
    for path in [*(ROOT / "app").rglob("*.py"), *(ROOT / "makemore").rglob("*.py")]:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                found |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                found.add(node.module.split(".")[0])
    return {m for m in found if m not in sys.stdlib_module_names and m not in local}


def test_cloud_picks_the_apps_own_requirements_file():
    assert cloud_dependency_file() == ROOT / "app" / "requirements.txt"


def test_the_cloud_requirements_select_the_cpu_build_of_torch():
    lines = requirement_lines(cloud_dependency_file())
    assert f"--extra-index-url {CPU_INDEX}" in lines
    (torch_line,) = [line for line in lines if re.match(r"torch\b", line)]
    # a "+cpu" local version exists only on PyTorch's CPU index: neither uv nor pip can take CUDA's
    assert re.fullmatch(r"torch==\d+\.\d+\.\d+\+cpu", torch_line), torch_line
    assert not any("download.pytorch.org/whl/cu" in line for line in lines)


def test_the_cloud_requirements_name_everything_the_app_imports():
    names = {re.split(r"[<>=!~\[; ]", line, maxsplit=1)[0].lower() for line in requirement_lines(cloud_dependency_file())
             if not line.startswith("-")}
    imported = third_party_imports() - OPTIONAL_IMPORTS
    assert imported <= set(IMPORT_NAMES), f"a new import needs its package in app/requirements.txt: {imported}"
    assert {IMPORT_NAMES[m] for m in imported} <= names


# Ray trains on a cluster when MAKEMORE_RAY_ADDRESS asks for it: an optional install of its own
OPTIONAL_IMPORTS = {"ray"}


def test_ray_is_an_optional_install_imported_only_by_its_backend():
    importers = sorted(str(path.relative_to(ROOT)) for path in [*(ROOT / "app").rglob("*.py"), *(ROOT / "makemore").rglob("*.py")]
                       if re.search(r"^\s*(import ray\b|from ray\b)", path.read_text(), re.M))
    assert importers == ["makemore/serving/ray_backend.py"]
    for install in (ROOT / "requirements.txt", cloud_dependency_file()):
        assert not any(re.match(r"ray\b", line) for line in requirement_lines(install)), install
    assert any(re.match(r"ray(\[default\])?>=2\.\d+,<3", line) for line in requirement_lines(ROOT / "requirements-ray.txt"))


def test_the_app_imports_makemore_from_beside_it_without_an_install():
    # Cloud installs app/requirements.txt only: Home.py puts the repository root on sys.path itself
    source = ENTRYPOINT.read_text()
    assert "sys.path" in source and "parent.parent" in source


def test_the_local_requirements_keep_torch_on_the_ordinary_index():
    lines = requirement_lines(ROOT / "requirements.txt")
    assert not any(line.startswith(("--index-url", "--extra-index-url", "-i ")) for line in lines)
    assert any(re.fullmatch(r"torch>=[\d.]+,<[\d.]+", line) for line in lines)


def test_streamlit_config_holds_only_settings_fit_for_a_hosted_app():
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    server = config.get("server", {})
    # Cloud sets the address and port itself, and a developer's settings would break a hosted app
    assert not {"port", "address", "headless", "runOnSave", "baseUrlPath"} & set(server)
    assert server["fileWatcherType"] == "none"  # rescanning every module after each run costs a hosted app
    # a full garbage collection after every run (torch, pandas and altair hold millions of objects):
    # a fifth of the server's CPU per page view; Python's own collector still runs
    assert config["runner"]["postScriptGC"] is False
    assert "global" not in config and "logger" not in config
    assert config["browser"]["gatherUsageStats"] is False
    assert server["maxUploadSize"] <= 16


def test_every_setting_in_the_streamlit_config_is_one_streamlit_knows():
    # Streamlit ignores a misspelled option without a word: the setting would silently not apply
    from streamlit import config as streamlit_config
    known = set(streamlit_config.get_config_options())
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    used = {f"{section}.{name}" for section, options in config.items() for name in options}
    assert used and used <= known, used - known
