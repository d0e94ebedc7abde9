"""What the chat shows of text it did not write: people's, tools' and files' text exactly as written; the model's
replies with their Markdown but never HTML or an image (checked on a CommonMark renderer, as the page's is)."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from app.dialogue.transcript import (
    AgentSaid,
    ModelCalled,
    Thought,
    ToolAnswered,
    ToolCalled,
    ToolError,
    Transcript,
    TurnFailed,
    UserSaid,
)
from app.ui.view import as_reply, as_text, chat_messages
from tests.markup import rendered, shown_text

# Text made mostly of what Markdown and HTML treat specially, with some letters and line breaks.
MARKUP = st.text(alphabet=st.sampled_from(list("<>&!*_`[]()#-+.=|~\\/:;\"' \n\tabcx0123\u00a0$^{}")), max_size=60)
REPLY_TAGS = {"p", "br", "em", "strong", "ul", "ol", "li", "code", "pre", "a", "blockquote", "hr", "h1", "h2", "h3",
              "h4", "h5", "h6"}
TAG = re.compile(r"<(/?)([a-zA-Z0-9]+)")


def tags(html: str) -> set[str]:
    return {name.lower() for _slash, name in TAG.findall(html)}


def words(text: str) -> str:
    return " ".join(text.replace("\u00a0", " ").split())


@settings(max_examples=400, deadline=None)
@given(MARKUP)
def test_text_shown_as_text_reads_exactly_as_written(text):
    html = rendered(as_text(text))
    assert tags(html) <= {"p", "br"}, html  # no emphasis, list, heading, code, link, image or HTML of its own
    assert words(shown_text(as_text(text))) == words(text)


@settings(max_examples=400, deadline=None)
@given(MARKUP)
def test_a_reply_keeps_markdown_but_never_html_or_an_image(text):
    html = rendered(as_reply(text))
    assert tags(html) <= REPLY_TAGS, html


def test_a_reply_keeps_emphasis_lists_and_links_and_shows_html_and_images_as_text():
    html = rendered(as_reply("**Cheap** and *near*:\n\n- one\n- two\n\n<b>x</b> <img src=x onerror=alert(1)> "
                             "![pixel](http://host/tracking-pixel) [site](http://example.com) &amp;"))
    assert "<strong>Cheap</strong>" in html and "<em>near</em>" in html and html.count("<li>") == 2
    assert '<a href="http://example.com">site</a>' in html and "<img" not in html and "<b>" not in html
    shown = shown_text(as_reply("<b>x</b> ![pixel](http://host/p) &amp;"))
    assert shown == "<b>x</b> ![pixel](http://host/p) &amp;"


def test_the_chat_shows_people_tools_thoughts_and_failures_as_text_and_replies_as_markdown():
    transcript = Transcript()
    hostile = "<img src=x onerror=alert(1)> **not bold**"
    transcript.append(transcript.user_said(hostile))
    transcript.append(Thought(turn=0, text="<script>alert(1)</script>"))
    transcript.append(ToolCalled(turn=0, call_id="c", name="FindRestaurant", arguments={"food": "<img src=x>"}))
    transcript.append(ToolAnswered(turn=0, call_id="c", result=ToolError(message="food '<img src=x>' has '<'"),
                                   elapsed_ms=1))
    transcript.append(AgentSaid(turn=0, text="<b>bold</b> **strong**"))
    user = transcript.user_said("again <i>")
    transcript.append(user)
    transcript.append(TurnFailed(turn=1, message="server said <img src=http://host/p>"))
    messages, _ids = chat_messages(transcript)
    assert shown_text(messages[0]["content"]) == hostile and "<strong>" not in rendered(messages[0]["content"])
    assert shown_text(messages[1]["content"]) == "<script>alert(1)</script>"
    assert shown_text(messages[2]["metadata"]["title"]) == "🔧 FindRestaurant(food='<img src=x>')"
    assert shown_text(messages[2]["content"]) == "Error: food '<img src=x>' has '<'"
    assert "<strong>strong</strong>" in rendered(messages[3]["content"])
    assert shown_text(messages[3]["content"]) == "<b>bold</b> strong"
    assert "server said <img src=http://host/p>" in shown_text(messages[-1]["content"])
    every = " ".join(rendered(m["content"]) + rendered(m.get("metadata", {}).get("title", "")) for m in messages)
    assert "<img" not in every and "<script" not in every and "<b>" not in every and "<i>" not in every


def test_a_replys_model_calls_fold_into_one_step_with_their_counts_and_seconds():
    """What a reply cost, in the chat's step details: the agent's calls with the counts as counted (a server's or
    the tokenizer's; "not reported" where none came), never a model name (the review queue hides the system)."""
    transcript = Transcript(events=[
        UserSaid(turn=0, text="a hotel"),
        ModelCalled(turn=0, step=1, backend="openai", model="secret-model", prompt_tokens=1200, generated_tokens=30,
                    counted_by="server", first_token_s=0.25, total_s=1.5),
        ModelCalled(turn=0, step=2, backend="openai", model="secret-model", total_s=0.5),
        ModelCalled(turn=0, step=0, side="user", backend="openai", model="simulator", prompt_tokens=9,
                    generated_tokens=9, counted_by="server", total_s=9.0),
        AgentSaid(turn=0, step=2, text="Here.")])
    messages, _ids = chat_messages(transcript)
    cost = next(m for m in messages if m.get("metadata", {}).get("title", "").startswith("🧮"))
    assert cost["metadata"]["title"] == "🧮 2 model calls · 1,200 prompt + 30 generated tokens"  # the agent's only
    assert cost["metadata"]["duration"] == 2.0 and messages[-1]["content"] == "Here."
    assert "call 1: 1,200 prompt + 30 generated tokens (server), first token after 0.25 s, 1.50 s" in cost["content"]
    assert "call 2: tokens not reported, 0.50 s" in cost["content"] and "secret-model" not in str(messages)
