"""The README's walkthroughs run as written."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

README = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")


def blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", README, flags=re.DOTALL)


def test_python_walkthroughs_run(tmp_path, monkeypatch):
    """The write-side walkthrough, then the auditor's lines on the same store."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("JEJAK_DB", "sqlite:///walkthrough.db")
    walkthrough, auditor = [block for block in blocks("python") if "Client(" not in block]  # not the server's
    namespace: dict = {}
    exec(compile(walkthrough, "README.md", "exec"), namespace)
    assert namespace["case"].state == "sanctioned" and namespace["then"].state == "under_review"
    assert namespace["case"].sanction["sanction"] == "written_reprimand" and "mark_overdue" in namespace["case"].milestones
    assert namespace["before"].version == 1
    exec(compile(auditor, "README.md", "exec"), namespace)
    assert namespace["a"].history(namespace["case_id"])["trigger"].tolist() == [
        "report", "begin_review", "register", "forward", "begin_examination", "recommend", "mark_overdue",
        "impose_sanction"]


def test_cli_walkthrough_runs(tmp_path):
    walkthrough = next(b for b in blocks("bash") if "jejak report" in b)
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    result = subprocess.run(["bash", "-euo", "pipefail", "-c", walkthrough], cwd=tmp_path, env=env,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "1 case(s) marked overdue" in result.stdout
    assert "stateDiagram-v2" in result.stdout
    assert "impose_sanction" in result.stdout and "sanctioned" in result.stdout


def test_every_report_field_is_documented():
    from workflow.fields import REPORT_FIELDS
    missing = [key for key in REPORT_FIELDS if f"`{key}`" not in README]
    assert not missing


def test_authorization_matrix_is_the_generated_one():
    from workflow.matrix import markdown
    embedded = README.split("<!-- matrix:start -->\n", 1)[1].split("<!-- matrix:end -->", 1)[0]
    assert embedded == markdown()
