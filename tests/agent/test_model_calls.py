"""The agent records one ModelCalled per step: from a script (no tokenizer: "not reported", times measured), from a
backend that fails (recorded as not ok before the turn fails), and from the tiny local model (its tokenizer's
exact counts)."""

from __future__ import annotations

from app.agent.agent import Agent, Limits
from app.agent.formats import make_format
from app.backends.base import BackendError, ModelRequest
from app.dialogue.transcript import ModelCalled, ToolCalled, Transcript, TurnFailed
from tests.agent_helpers import run, scripted_agent


def model_calls(transcript: Transcript) -> list[ModelCalled]:
    return [e for e in transcript.events if isinstance(e, ModelCalled)]


def test_each_step_of_a_scripted_turn_is_one_call_with_no_guessed_tokens(toolbox):
    agent, _backend = scripted_agent(toolbox, ["Action: FindHotel(area='east')", "System: 7 hotels."])
    dialogue = Transcript()
    run(agent, dialogue, "hotels in the east")
    calls = model_calls(dialogue)
    assert [(c.turn, c.step, c.side) for c in calls] == [(0, 1, "agent"), (0, 2, "agent")]
    assert all(c.counted_by == "not reported" and c.prompt_tokens is None and c.ok for c in calls)
    assert all(c.backend.startswith("scripted") and c.total_s >= (c.first_token_s or 0) > 0 for c in calls)
    first_call = next(e for e in dialogue.events if isinstance(e, ToolCalled))
    assert dialogue.events.index(calls[0]) < dialogue.events.index(first_call)  # the call, then what it did


def test_a_failed_call_is_recorded_before_the_turn_fails(toolbox):
    class Down:
        label = "down"

        def stream(self, request: ModelRequest):
            raise BackendError("the model server went away")
            yield  # a generator, as backends are

        def count_tokens(self, request: ModelRequest) -> int:
            return 1

    dialogue = Transcript()
    events = run(Agent(Down(), make_format("coalm", toolbox.tools), toolbox), dialogue, "hi")
    assert [type(e).__name__ for e in events] == ["UserSaid", "ModelCalled", "TurnFailed"]
    recorded = events[1]
    assert not recorded.ok and recorded.first_token_s is None and recorded.counted_by == "not reported"
    assert isinstance(dialogue.turns()[0].failure, TurnFailed)


def test_the_tiny_local_model_records_its_tokenizers_exact_counts(toolbox, tiny_model_dir):
    from app.backends.transformers_backend import TransformersBackend

    class Kept(TransformersBackend):
        """Keeps the requests it streams, to count them again."""

        def __init__(self, *args, **kwargs) -> None:
            super().__init__(*args, **kwargs)
            self.streamed: list[ModelRequest] = []

        def stream(self, request: ModelRequest):
            self.streamed.append(request)
            return super().stream(request)

    backend = Kept(str(tiny_model_dir), concurrency=1, context_tokens=2048)
    agent = Agent(backend, make_format("coalm", toolbox.tools), toolbox, Limits(max_steps=2, max_new_tokens=16))
    dialogue = Transcript()
    run(agent, dialogue, "I need a hotel in the north")
    calls = model_calls(dialogue)
    assert len(calls) == len(backend.streamed) > 0
    for recorded, request in zip(calls, backend.streamed, strict=True):
        assert recorded.counted_by == "tokenizer" and recorded.model == str(tiny_model_dir)
        assert recorded.prompt_tokens == backend.count_tokens(request)
        assert 0 < recorded.generated_tokens <= 16


def test_a_turn_left_in_the_middle_of_a_call_records_the_call_as_not_ok(toolbox):
    agent, _backend = scripted_agent(toolbox, ["System: " + "a long reply " * 20])
    dialogue = Transcript()
    dialogue.append(dialogue.user_said("hi"))
    turn = agent.run_turn(dialogue)
    next(turn)  # the first piece of the reply is on the page
    turn.close()  # and the page goes away
    calls = model_calls(dialogue)
    assert len(calls) == 1 and not calls[0].ok and calls[0].first_token_s is not None
    assert dialogue.turns()[0].status == "stopped"
