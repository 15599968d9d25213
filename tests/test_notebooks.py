"""Every notebook in notebooks/ runs top to bottom on a fresh store (nbclient).

Each notebook gets its own empty temporary SQLite store through JEJAK_DB, so it first fills it with the demo
dataset itself (as on a fresh machine), then asserts its key facts in its cells: a failing cell, including a
failing assert, fails the test, and so does any output on stderr (a warning, a progress bar). Plots use the inline backend, as in Jupyter, and each notebook must show at least one. The notebooks run two at a time
(each in its own kernel); outputs are not written back (the notebooks are kept without outputs in git).
"""

from __future__ import annotations

import os
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nbclient
import nbformat
import pytest

NOTEBOOKS_DIR = Path(__file__).resolve().parent.parent / "notebooks"
NOTEBOOKS = sorted(NOTEBOOKS_DIR.glob("*.ipynb"))


def _run(path: Path, store: Path) -> tuple[object, str | None, float]:
    """Execute a notebook on `store`; returns (executed notebook, failure or None, seconds)."""
    from eventsourcing.cryptography import AESCipher

    env = {**os.environ, "JEJAK_DB": f"sqlite:///{store}", "MPLBACKEND": "module://matplotlib_inline.backend_inline",
           "JEJAK_MASTER_KEY": AESCipher.create_key(32)}  # as a real deployment: no warning that it is missing
    env.pop("JEJAK_CIPHER_KEY", None)
    env.pop("JEJAK_MASTER_KEY_FILE", None)
    nb = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(nb, timeout=300, kernel_name="python3",
                                     resources={"metadata": {"path": str(NOTEBOOKS_DIR)}})
    started = time.perf_counter()
    try:
        client.execute(env=env)
        failure = None
    except nbclient.exceptions.CellExecutionError as error:  # carries the cell's source and traceback
        failure = str(error)
    return nb, failure, time.perf_counter() - started


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    stores = {path.name: tmp_path_factory.mktemp(path.stem) / "jejak.db" for path in NOTEBOOKS}  # empty
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = {path.name: pool.submit(_run, path, stores[path.name]) for path in NOTEBOOKS}
        return {name: future.result() for name, future in futures.items()}


def test_there_are_four_notebooks_without_outputs():
    assert [p.name for p in NOTEBOOKS] == ["01_replay_a_case.ipynb", "02_ppk_responsiveness.ipynb",
                                           "03_funnel_and_curve.ipynb", "04_integrity_audit.ipynb"]
    for path in NOTEBOOKS:
        nb = nbformat.read(path, as_version=4)
        for cell in nb.cells:
            if cell.cell_type == "code":
                assert not cell.outputs and cell.execution_count is None, f"{path.name}: strip the outputs"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_clean(path, executed):
    nb, failure, seconds = executed[path.name]
    if failure:
        pytest.fail(f"{path.name}: a cell failed after {seconds:.0f} s\n{failure}", pytrace=False)
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    stderr = [o.get("text", "") for o in outputs if o.output_type == "stream" and o.get("name") == "stderr"]
    assert not stderr, f"{path.name} wrote to stderr (a warning?):\n" + "".join(stderr)[:2000]
    assert any("image/png" in o.get("data", {}) for o in outputs), f"{path.name} shows no plot"
    assert any("is empty: generating" in o.get("text", "") for o in outputs if o.output_type == "stream"), \
        "the notebook should have filled its empty store with the demo data"
