"""Hardening of the session loop, each through the door a user takes: the page's handlers and the terminal chat."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from app.dialogue.transcript import Transcript
from app.settings import REPO_ROOT, Settings
from app.tools.toolbox import Toolbox
from app.ui.demo import DemoApp
from tests.agent_helpers import run, scripted_agent
from tests.backends.test_backends import RawServer
from tests.markup import shown_text
from tests.ui.test_ui_handlers import CHAT, RETRY, STATE, STATUS, last, started


def test_stop_or_render_in_a_fresh_session_shows_an_empty_page(tmp_path, raw_db_dir):
    app = started(tmp_path, raw_db_dir, ["System: hi"])
    outputs = app.render(None)  # what Stop's follow-up (and the /render endpoint) calls before anything was said
    assert outputs[CHAT] == [] and isinstance(outputs[STATE], Transcript) and outputs[STATUS] == "✅ Ready"
    assert outputs[RETRY]["visible"] is False


def test_lone_surrogates_from_user_model_and_arguments_are_saved(tmp_path, raw_db_dir):
    app = started(tmp_path, raw_db_dir, ["Action: FindHotel(name='acorn \ud800')", "System: Found it \udcff."])
    _, final = last(app.respond("hello \ud800 world", None))
    saved = app.store.transcript(final[STATE].id)  # saving did not fail, so the whole turn is stored
    turn = saved.turns()[0]
    assert turn.user == "hello \ufffd world" and turn.reply.text == "Found it \ufffd."
    assert turn.calls()[0].called.arguments == {"name": "acorn \ufffd"}
    assert final[CHAT][-1]["content"] == "Found it \ufffd."


def chat_cli(tmp_path, raw_db_dir, outputs, stdin: bytes, *flags) -> tuple[subprocess.CompletedProcess, Transcript]:
    script = tmp_path / "script.json"
    script.write_text(json.dumps(outputs))
    saved = tmp_path / "dialogue.json"
    done = subprocess.run(
        [sys.executable, "-m", "app.chat", "--backend", "scripted", "--script", str(script), "--save", str(saved),
         *flags], input=stdin, capture_output=True, cwd=REPO_ROOT, timeout=120,
        env={"PATH": "/usr/bin:/bin", "WOZ_HOME": str(tmp_path), "WOZ_DATA_DIR": str(raw_db_dir),
             "WOZ_MAX_USER_CHARS": "100"})
    assert done.returncode == 0, done.stderr
    return done, Transcript.from_json(saved.read_text(encoding="utf-8"))


def test_terminal_bytes_that_are_not_utf8_are_saved(tmp_path, raw_db_dir):
    _, transcript = chat_cli(tmp_path, raw_db_dir, ["System: Hello!"], b"hello \xff\xfe world\n")
    assert transcript.turns()[0].user == "hello \ufffd\ufffd world" and transcript.turns()[0].reply.text == "Hello!"


def test_terminal_refuses_an_over_long_message_as_the_page_does(tmp_path, raw_db_dir):
    done, transcript = chat_cli(tmp_path, raw_db_dir, ["System: Hello!"], b"x" * 150 + b"\nhi\n")
    assert "! Your message is 150 characters long; please keep it under 100." in done.stdout.decode()
    assert [turn.user for turn in transcript.turns()] == ["hi"]


def test_a_huge_observation_is_cut_to_stay_within_the_prompt_budget(toolbox):
    generous = Toolbox(toolbox.catalogue.engine, find_limit=100)  # 100 trains: ~30,000 characters of rows
    agent, backend = scripted_agent(generous, ["Action: FindTrain(day='monday')", "System: Many trains."],
                                    max_prompt_tokens=1800)
    transcript = Transcript()
    run(agent, transcript, "trains on monday")
    assert len(transcript.calls()[0].result.rows) == 100  # the record keeps everything
    prompt = backend.requests[1].messages[0]["content"]
    assert "more characters not shown" in prompt and backend.count_tokens(backend.requests[1]) <= 1800
    assert transcript.turns()[0].reply.text == "Many trains."


def trickle(connection) -> None:
    """A server that answers one byte at a time, never slow enough for a read to time out."""
    connection.recv(65536)
    chunk = (b'data: {"id":"1","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,'
             b'"delta":{"role":"assistant","content":"System: Hello"},"finish_reason":null}]}\n\n') * 50
    connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n")
    try:
        for byte in chunk:
            connection.sendall(b"1\r\n" + bytes([byte]) + b"\r\n")
            time.sleep(0.2)
    except OSError:
        pass  # the client gave up, as it should


def test_a_trickling_server_is_stopped_at_the_turn_deadline_and_retry_is_offered(tmp_path, raw_db_dir):
    server = RawServer(trickle)
    try:
        app = DemoApp(Settings(home=tmp_path / "home", data_dir=raw_db_dir, backend="openai", base_url=server.url,
                               model="m", timeout_s=1, turn_deadline_s=1.5)).start()
        deadline = time.monotonic() + 10
        while app.status.state == "loading" and time.monotonic() < deadline:
            time.sleep(0.05)
        began = time.monotonic()
        _, final = last(app.respond("hello", None))
        took = time.monotonic() - began
    finally:
        server.close()
    assert took < 5  # not the minutes the whole answer would take
    assert final[RETRY]["visible"] is True and "WOZ_TURN_DEADLINE_S" in shown_text(final[CHAT][-1]["content"])
    assert final[STATE].turns()[0].status == "failed"


def test_terminal_chat_saves_into_a_folder_and_never_loses_the_dialogue(tmp_path, raw_db_dir):
    """`--save DIR` raised IsADirectoryError at the end and the dialogue was lost: now it goes into the folder,
    named by its id; a save that fails anyway (here a full disk) goes to a temporary file, and a --save whose
    folder does not exist is refused before the chat starts."""
    script = tmp_path / "script.json"
    script.write_text(json.dumps(["System: Hello!", "System: Hello again!"]))
    folder = tmp_path / "saved"
    folder.mkdir()

    def chat(save: Path) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "app.chat", "--backend", "scripted", "--script", str(script),
                               "--save", str(save)], input="hello\n", capture_output=True, text=True, cwd=REPO_ROOT,
                              timeout=120, env={"PATH": "/usr/bin:/bin", "WOZ_HOME": str(tmp_path),
                                                "WOZ_DATA_DIR": str(raw_db_dir), "TMPDIR": str(tmp_path)})

    done = chat(folder)
    assert done.returncode == 0, done.stderr
    [saved] = folder.glob("*.json")
    assert Transcript.from_json(saved.read_text(encoding="utf-8")).turns()[0].user == "hello"
    assert f"dialogue saved to {saved}" in done.stderr
    done = chat(Path("/dev/full"))  # writing there fails with "No space left on device"
    assert done.returncode == 0, done.stderr
    [kept] = tmp_path.glob("dialogue-*.json")
    assert f"the dialogue is saved to {kept}" in done.stderr
    assert Transcript.from_json(kept.read_text(encoding="utf-8")).turns()[0].reply.text == "Hello!"
    done = chat(tmp_path / "nowhere" / "dialogue.json")
    assert done.returncode == 2 and "the folder" in done.stderr and len(done.stderr.strip().splitlines()) == 1
