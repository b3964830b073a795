"""`python -m core.knowledge`: check, sync, edit, publish, rollback, as an operator runs it."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from core.knowledge.__main__ import main


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def test_the_operator_round_trip(merchant_db: str, knowledge_dir: Path, tmp_path: Path,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    base = ["--url", merchant_db, "--directory", str(knowledge_dir)]
    assert run(capsys, "--directory", str(knowledge_dir), "check") == (
        0, "3 entries, 15 similar questions: ok\n")
    code, out = run(capsys, *base, "sync")
    assert code == 0 and "3 added" in out
    code, out = run(capsys, *base, "sync")
    assert "3 unchanged" in out
    edit = tmp_path / "fee.yml"
    edit.write_text(yaml.safe_dump({
        "question": "费率是多少", "answer": "按合同。",
        "similar": ["手续费多少", "扣几个点", "费率怎么算", "收款手续费", "费率高不高"]},
        allow_unicode=True), encoding="utf-8")
    code, out = run(capsys, *base, "--author", "wang", "edit", "fee_rate", "--file", str(edit))
    assert code == 0 and "draft v2" in out
    code, out = run(capsys, *base, "publish", "fee_rate")
    assert code == 0 and "v2 published" in out
    code, out = run(capsys, *base, "show", "fee_rate")
    assert "按合同。" in out
    code, out = run(capsys, *base, "rollback", "fee_rate")
    assert code == 0 and "back to v1" in out
    code, out = run(capsys, *base, "history", "fee_rate")
    assert "wang" in out and "superseded" not in out.splitlines()[0]
    # after the rollback the files' answer is the one given again
    assert "3 unchanged" in run(capsys, *base, "sync")[1]
    # a later sync keeps what the team published
    assert run(capsys, *base, "publish", "fee_rate", "--revision", "2")[0] == 0
    code, out = run(capsys, *base, "sync")
    assert "kept as edited by the team (fee_rate)" in out


def test_problems_are_listed_and_nothing_changes(merchant_db: str, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "a.yml").write_text("entries:\n  - id: x\n", encoding="utf-8")
    code, out = run(capsys, "--url", merchant_db, "--directory", str(broken), "sync")
    assert code == 1 and "problem(s)" in out
    code, out = run(capsys, "--url", "sqlite:////nonexistent/dir/x.db", "list")
    assert code == 2 and "nothing changed" in out
