"""`roam-emp tokens failed|redrive|resync|import` against local mode (issue 12): the CLI, the
admin routes behind it and the real consumer pushing to the simulator."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from roam_emp import config, topology
from roam_emp.cli import main
from roam_emp.domain.tokens import dead_letter_queue_url
from roam_emp.handlers import admin_tokens
from roam_emp.local.runtime import LocalRuntime
from roam_emp.polling import wait_for
from roam_emp.simulator import RoamSimulator
from roam_emp.store import aws
from roam_emp.store.tokens import TokenStore
from tests.helpers import calm_and_registered
from tests.test_tokens import new_uid, pushed, sim_post, sim_tokens, state_of, token

Local = tuple[LocalRuntime, RoamSimulator]


@pytest.fixture
def fresh(local: Local) -> Iterator[Local]:
    calm_and_registered(*local)
    yield local
    sim_post(local[1], "chaos", {})


def cli(rt: LocalRuntime, *args: str) -> int:
    return main(["tokens", args[0], "--api", rt.url, *args[1:]])


def test_failed_lists_plugsurfings_error_and_redrive_pushes_after_the_fix(
    fresh: Local, capsys: pytest.CaptureFixture[str]
) -> None:
    rt, sim = fresh
    uid = new_uid()
    sim_post(sim, "chaos", {"route": f"PUT /ocpi/cpo/2.2.1/tokens/NL/EMP/{uid}", "fail_next": [400]})
    rt.admin("POST", "/admin/tokens", token(uid)).raise_for_status()
    assert pushed(rt, uid)["push_state"] == "FAILED"
    capsys.readouterr()

    assert cli(rt, "failed", "--json") == 0
    listed = {t["uid"]: t for t in json.loads(capsys.readouterr().out)}
    assert "HTTP 400" in listed[uid]["push_error"]

    assert cli(rt, "redrive") == 0  # Plugsurfing accepts it now (the chaos was one answer)
    assert "queued again" in capsys.readouterr().out
    assert wait_for(lambda: state_of(rt, uid)["push_state"] == "PUSHED")
    assert f"NL/EMP/RFID/{uid}" in sim_tokens(sim)["tokens"]
    assert cli(rt, "failed", "--json") == 0
    assert uid not in {t["uid"] for t in json.loads(capsys.readouterr().out)}


def test_redrive_moves_the_dead_letter_queues_messages_back(
    fresh: Local, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    rt, sim = fresh
    # Two per admin call (the handler runs in this process): five messages take three calls.
    monkeypatch.setattr(admin_tokens, "DEAD_LETTERS_PER_CALL", 2)
    uids = [new_uid() for _ in range(5)]
    sqs = aws.client("sqs")
    dlq = dead_letter_queue_url(rt.env[topology.TOKEN_PUSH_QUEUE.env_var])
    for uid in uids:  # what the queue moved there after their last delivery
        sqs.send_message(
            QueueUrl=dlq,
            MessageBody=json.dumps(token(uid)),
            MessageGroupId=f"RFID#{uid}",
            MessageDeduplicationId=uid,
        )
    assert cli(rt, "redrive") == 0
    assert "5 dead-letter message(s) moved back" in capsys.readouterr().out
    wait_for(lambda: all(f"NL/EMP/RFID/{u}" in sim_tokens(sim)["tokens"] for u in uids))
    assert not sqs.receive_message(QueueUrl=dlq, WaitTimeSeconds=0).get("Messages")


def test_resync_pushes_every_token_plugsurfing_holds_another_version_of(
    fresh: Local, capsys: pytest.CaptureFixture[str]
) -> None:
    rt, sim = fresh
    uid, in_sync = new_uid(), new_uid()
    for u in (uid, in_sync):
        rt.admin("POST", "/admin/tokens", token(u, visual_number="CARD-1")).raise_for_status()
        assert pushed(rt, u)["push_state"] == "PUSHED"
    # A change stored but whose message never reached the consumer (e.g. a purged queue).
    store = TokenStore(config.settings().tokens_table)
    stored = store.get("RFID", uid)
    assert stored is not None
    store.save_queued({**stored.token, "visual_number": "CARD-2"})
    before = len(sim_tokens(sim)["log"])

    assert cli(rt, "resync") == 0
    assert "token(s) queued" in capsys.readouterr().out
    assert wait_for(lambda: state_of(rt, uid)["push_state"] == "PUSHED")
    assert sim_tokens(sim)["tokens"][f"NL/EMP/RFID/{uid}"]["visual_number"] == "CARD-2"
    assert not [e for e in sim_tokens(sim)["log"][before:] if e["key"] == f"NL/EMP/RFID/{in_sync}"]


def test_import_queues_a_csv_with_the_admin_rules_and_names_refused_lines(
    fresh: Local, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rt, sim = fresh
    ok1, ok2, bad_prefix, ad_hoc = (new_uid() for _ in range(4))
    (tmp_path / "cards.csv").write_text(
        "uid,type,contract_id,valid,visual_number\n"
        f"{ok1},RFID,NLEMPC00000101,true,CARD-101\n"
        f"{bad_prefix},RFID,XXBADC00000102,true,\n"
        "\n"
        f"{ok2},RFID,NLEMPC00000103,false,CARD-103\n"
        f"{ad_hoc},AD_HOC_USER,NLEMPC00000104,true,\n"
        "ZZ1,RFID,NLEMPC00000105,true,x,one-cell-too-many\n"
    )
    assert cli(rt, "import", str(tmp_path / "cards.csv"), "--chunk", "2") == 1  # some refused
    captured = capsys.readouterr()
    assert "cards.csv:3: refused: contract_id prefix XXBAD" in captured.out
    assert "cards.csv:6: refused: type AD_HOC_USER is not supported" in captured.out
    assert "cards.csv:7: refused: 1 more cell(s) than the header has columns" in captured.out
    assert "2 token(s) queued, 3 line(s) refused" in captured.out
    assert "/min" in captured.err and "ETA" in captured.err and "done in >=" in captured.err
    wait_for(lambda: all(f"NL/EMP/RFID/{u}" in sim_tokens(sim)["tokens"] for u in (ok1, ok2)))
    assert sim_tokens(sim)["tokens"][f"NL/EMP/RFID/{ok2}"]["valid"] is False  # "false" read as a boolean
    assert state_of(rt, ok1)["token"]["visual_number"] == "CARD-101"
    assert rt.admin("GET", f"/admin/tokens/{bad_prefix}?type=RFID").status_code == 404  # nothing stored


def test_import_jsonl_reports_unreadable_lines(
    fresh: Local, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rt, sim = fresh
    good = new_uid()
    (tmp_path / "cards.jsonl").write_text(
        json.dumps(token(good)) + "\n" + "{not json\n" + json.dumps(["a", "list"]) + "\n"
    )
    assert cli(rt, "import", str(tmp_path / "cards.jsonl")) == 1
    out = capsys.readouterr().out
    assert "cards.jsonl:2: refused: not JSON" in out
    assert "cards.jsonl:3: refused: a token must be a JSON object" in out
    wait_for(lambda: f"NL/EMP/RFID/{good}" in sim_tokens(sim)["tokens"])
