"""The page: chat on the left, live panels on the right, rating and export below."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import gradio as gr

from app.backends.base import on_zero_gpu
from app.dialogue.transcript import Transcript
from app.ui import theme, view
from app.ui.demo import ChatPage, DemoApp, example_openers
from app.ui.fork_panel import build_fork_panel, events_of, fork_into_chat, label_at
from app.ui.goal_play import GoalPanel, GoalPlay
from app.ui.goal_watch import WatchPanel
from app.ui.theme import CSS  # noqa: F401 - app.py takes the page's CSS from here
from app.ui.workbench import Workbench, build_workbench_tabs

# A turn waiting behind others shows Gradio's queue status (position, estimated wait) on the status line.
QUEUE_STATUS = {"show_progress": "minimal"}
WAITING = "⏳ Waiting for a free turn: other people's turns run first."


def _on_zero_gpu(handler):  # noqa: ANN001, ANN202 - wraps a generator function
    """On a ZeroGPU Space, a GPU is attached for the duration of each turn; elsewhere nothing changes."""
    if not on_zero_gpu():
        return handler
    import spaces  # present on Spaces

    return spaces.GPU(duration=120)(handler)


def turns_at_once(app: DemoApp) -> int:
    """How many turns the page runs at once: a local model batches WOZ_LOCAL_CONCURRENCY of them (continuous
    batching), except on ZeroGPU, where each turn has the GPU to itself; a model server takes WOZ_REMOTE_CONCURRENCY."""
    if not app.local_model:
        return app.settings.remote_concurrency
    return 1 if on_zero_gpu() else app.settings.local_concurrency


def opener_text(selected: gr.SelectData) -> str:
    """The text of the example opener clicked in the empty chat."""
    return str(selected.value["text"])


def _copies(count: int):  # noqa: ANN202 - a handler
    """A handler giving `count` boxes the name typed in another (Gradio takes one output's value bare)."""
    return lambda name: [name] * count if count > 1 else name


def _forks_into_chat(app: DemoApp, button: gr.Button, picked: list[Any], source: Callable[..., Transcript | None],
                     number: gr.Slider, answers: gr.Radio, status: gr.Markdown, tabs: gr.Tabs, page: ChatPage
                     ) -> Any:
    """`button` forks the dialogue `source` reads from the `picked` components' values into the Chat tab
    (`fork_into_chat`); the click's event, to chain on."""

    def fork(*values: Any) -> list[Any]:
        *chosen, at, who, current = values
        line, shown_tabs, shown = fork_into_chat(app, source(*chosen), at, who, current)
        return [line, shown_tabs, *shown]

    return button.click(fork, [*picked, number, answers, page.state], [status, tabs, *page], queue=False)


def build_ui(app: DemoApp) -> gr.Blocks:
    """The whole page: the chat with its panels, rating and export, goal play and the workbench tabs, wired
    to the app's handlers."""
    respond, retry = _on_zero_gpu(app.respond), _on_zero_gpu(app.retry)
    limit = turns_at_once(app)
    with gr.Blocks(title="CoALM MultiWOZ demo") as demo:
        state = gr.State(None)
        annotator_memory = gr.BrowserState("", storage_key="coalm-woz-annotator")
        dialogue_memory = gr.BrowserState("", storage_key="coalm-woz-dialogue")  # the dialogue a reload brings back
        gr.Markdown("# CoALM finds and books: hotels, restaurants, trains, taxis, attractions", elem_id="title")
        header = gr.Markdown(app.header(), elem_id="header")
        with gr.Tabs(elem_id="tabs") as tabs:
            with gr.Tab("Chat", id="chat-tab", elem_id="tab-chat"):
                with gr.Row(elem_id="chat-row"):
                    with gr.Column(scale=3, elem_id="chat-column"):
                        # Text is escaped before it gets here (view.as_text, view.as_reply); no LaTeX, no custom tags,
                        # and no share or copy icons (share did nothing here; copy would copy the escaped text).
                        chatbot = gr.Chatbot(elem_id="chat", height=theme.CHAT_HEIGHT, label="Chat",
                                             feedback_options=view.FEEDBACK_OPTIONS, buttons=[], show_label=False,
                                             latex_delimiters=[], allow_tags=False, sanitize_html=True,
                                             examples=[{"text": text} for text in example_openers()])
                        # Right above the message box: what the agent is doing, or why nothing can answer.
                        turn_status = gr.Markdown(elem_id="turn-status")  # said as the page loads (app.restore)
                        with gr.Row(elem_id="message-row"):
                            message = gr.Textbox(elem_id="message", placeholder="Ask for a hotel, a train…",
                                                 show_label=False, scale=5, autofocus=True)
                            send = gr.Button("Send", variant="primary", elem_id="send", scale=1, min_width=80)
                        with gr.Row(elem_id="turn-buttons"):
                            new = gr.Button("New dialogue", elem_id="new-dialogue", size="sm")
                            stop = gr.Button("Stop", elem_id="stop", size="sm")
                            retry_button = gr.Button("Retry", elem_id="retry", size="sm", visible=False,
                                                     variant="secondary")
                            download = gr.DownloadButton("Download dialogue (JSON)", elem_id="download", size="sm",
                                                         interactive=False)
                        with gr.Row():
                            share = gr.Checkbox(label="Share this dialogue with the review queue (other people, the "
                                                      "raters, will read it)", value=app.settings.share_default,
                                                elem_id="share", scale=3)
                            share_status = gr.Markdown(elem_id="share-status")
                    with gr.Column(scale=2, elem_id="panels-column"):
                        gr.Markdown("### Belief state", elem_classes=["panel-title"])
                        belief = gr.HTML(view.belief_html(app.new_dialogue()), elem_id="belief")
                        gr.Markdown("### API calls (newest first)", elem_classes=["panel-title"])
                        calls = gr.HTML(view.table_html(view.api_calls(app.new_dialogue()), "api-calls-table"),
                                        elem_id="api-calls")
                        gr.Markdown("### Database results", elem_classes=["panel-title"])
                        rows = gr.HTML(view.table_html(view.database_rows(app.new_dialogue()), "db-results-table"),
                                       elem_id="db-results")
                        gr.Markdown("### Bookings", elem_classes=["panel-title"])
                        booked = gr.HTML(view.table_html(view.bookings(app.new_dialogue()), "bookings-table"),
                                         elem_id="bookings")
                goals = GoalPlay(app)  # the goals and the checker, shared by Watch a goal and Play a goal
                watch_panel = WatchPanel(goals)
                goal_panel = GoalPanel(goals)
                chat_fork = build_fork_panel("chat", "Fork this dialogue", "Go back to any event of this dialogue "
                                             "and go on differently from there, in a new dialogue (this one is kept "
                                             "as it is): the events up to there are copied, with their bookings.")
                with gr.Accordion("Rate this dialogue", open=False, elem_id="rating-panel"):
                    with gr.Row():
                        annotator = gr.Textbox(label="Your name (annotator)", elem_id="annotator")
                        completed = gr.Radio(["yes", "partly", "no"], label="Task completed?", elem_id="task-completed")
                        naturalness = gr.Radio([1, 2, 3, 4, 5], label="Naturalness (1-5)", elem_id="naturalness")
                    comment = gr.Textbox(label="Comment", lines=2, elem_id="comment")
                    submit_rating = gr.Button("Save rating", elem_id="save-rating")
                    rating_status = gr.Markdown(elem_id="rating-status")
                with gr.Accordion("Export all dialogues and ratings (admin)", open=False, elem_id="export-panel"):
                    token = gr.Textbox(label=app.admin.label(), type="password", elem_id="admin-token")
                    export = gr.Button("Export CSV and JSONL", elem_id="export")
                    export_status = gr.Markdown(elem_id="export-status")
                    export_files = gr.File(file_count="multiple", label="Export", elem_id="export-files", height=120)
            turns = {"concurrency_limit": limit, "concurrency_id": "turns", **QUEUE_STATUS}
            workbench = Workbench.of(app)
            workbench_names, fork_sources = build_workbench_tabs(workbench, turns)
            name_boxes = [annotator, *workbench_names]

        page = ChatPage(chat=chatbot, message=message, belief=belief, calls=calls, rows=rows, bookings=booked,
                        state=state, retry=retry_button, download=download, status=turn_status, share=share, send=send,
                        dialogue_id=dialogue_memory, goal_card=goal_panel.card, goal_verdict=goal_panel.verdict,
                        goal_panel=goal_panel.panel)
        outputs = list(page)
        forks: list[Any] = []  # every way a fork takes the chat (the chat's fork slider follows each)
        if workbench is not None and (runs := fork_sources.runs) is not None:
            forks.append(_forks_into_chat(app, runs.fork, [runs.run, runs.dialogue], workbench.runs.transcript,
                                          runs.event, runs.answers, runs.status, tabs, page))
        if workbench is not None and (review := fork_sources.review) is not None:
            forks.append(_forks_into_chat(app, review.controls.fork, [review.item], workbench.review.fork_parent,
                                          review.controls.event, review.controls.answers, review.controls.status,
                                          tabs, page))
        chat_fork.event.input(label_at, [state, chat_fork.event], chat_fork.label, trigger_mode="always_last",
                              queue=False)
        goal_panel.wire(demo, page)
        watch_panel.wire(demo, page)
        turn_options: dict[str, Any] = {"outputs": outputs, "concurrency_limit": limit, "concurrency_id": "turns",
                        **QUEUE_STATUS, "show_progress_on": [turn_status]}
        # A message sent while this session's turn still runs (or is winding down after Stop) runs right after it
        # (trigger_mode "always_last"; "once" dropped it): turns of one dialogue never overlap, none is lost.
        for trigger in (message.submit, send.click):  # said at once; Gradio adds the place in line and the wait
            trigger(lambda: WAITING, None, turn_status, queue=False)
        turn_events = [message.submit(respond, [message, state], trigger_mode="always_last", **turn_options),
                       send.click(respond, [message, state], trigger_mode="always_last", **turn_options),
                       retry_button.click(retry, [state], **turn_options)]
        # The example openers sit inside the empty chat, where the reply will appear (buttons under the chat sent the
        # page scrolling past it on a phone).
        turn_events.append(chatbot.example_select(opener_text, None, message, queue=False).then(
            respond, [message, state], **turn_options))
        # The chat forks itself: the dialogue shown, up to the chosen event, becomes a new one. Its events are
        # counted when the panel opens and after each turn.
        forks.append(_forks_into_chat(app, chat_fork.fork, [state], lambda shown: shown, chat_fork.event,
                                      chat_fork.answers, chat_fork.status, tabs, page))

        def fork_events(shown: Transcript | None) -> tuple[Any, str, Any]:  # rules by default where they answer
            return events_of(shown, app.no_model() is not None or (shown is not None and app.by_rules(shown)))

        fork_controls = [chat_fork.event, chat_fork.label, chat_fork.answers]
        chat_fork.panel.expand(fork_events, state, fork_controls, queue=False)
        # The slider follows the dialogue shown as it grows (also while the panel is open) and when another takes
        # its place (a fork, New dialogue, the trash icon; a reload, below).
        for changed in (*turn_events, *forks):
            changed.then(fork_events, state, fork_controls, queue=False, show_progress="hidden")
        # Stop asks the running turn to end (what was shown of its reply is kept) instead of cancelling the handler:
        # a cancelled one left the page ignoring the next message for a moment.
        stop.click(app.stop_turn, [state], None, queue=False)
        # New dialogue, and the chat's own trash icon (which empties only what is shown: the next message would bring
        # the "deleted" dialogue back), start afresh; a running turn ends and shows the fresh dialogue last.
        for fresh in (new.click(app.start_over, [state], outputs, queue=False),
                      chatbot.clear(app.start_over, [state], outputs, queue=False)):
            fresh.then(fork_events, state, fork_controls, queue=False, show_progress="hidden")
        # One rating at a time, in the order given: a like and the dislike that follows it must not overtake each
        # other (the store keeps the last one).
        chatbot.like(app.rate_message, [state, annotator], download, concurrency_limit=1, concurrency_id="ratings")
        share.input(app.share, [state, share], [state, share_status], concurrency_limit=1, concurrency_id="ratings")
        submit_rating.click(app.rate_dialogue, [state, completed, naturalness, comment, annotator],
                            [rating_status, download])
        export.click(app.export, [token], [export_status, export_files])
        # One name per browser, remembered across reloads: the chat's annotator, the queue's rater, the arena's voter.
        for box in name_boxes:
            box.change(lambda name: name, box, annotator_memory)
            # ... and the same name in the other tabs' boxes as it is typed (not only after a reload).
            others = [other for other in name_boxes if other is not box]
            box.input(_copies(len(others)), box, others, queue=False, show_progress="hidden",
                      trigger_mode="always_last")
        demo.load(lambda name: [name] * len(name_boxes), annotator_memory, name_boxes)
        # A reload brings back the dialogue this browser showed (a fresh page starts a fresh one); outside the queue,
        # so it is usually done before a person can have typed and sent anything, and when a slow machine answers it
        # later (a goal already started, a message already sent), it leaves that dialogue alone.
        demo.load(app.restore, [dialogue_memory, state], outputs, queue=False, show_progress="hidden").then(
            fork_events, state, fork_controls, queue=False, show_progress="hidden")
        timer = gr.Timer(2)
        model_state = timer.tick(lambda shown: (app.header(), gr.Timer(active=app.status.state == "loading"),
                                                *app.model_status(shown)),
                                 state, [header, timer, turn_status, send], show_progress="hidden")
        # A model found unable to load after the page loaded (it was still loading then) leaves the goal panels'
        # system choices to the rules and opens Watch a goal, as a page loaded after the failure shows them.
        model_state.then(lambda: (*watch_panel.when_no_model(), goal_panel.when_no_model()), None,
                         [watch_panel.system, watch_panel.panel, goal_panel.system], queue=False,
                         show_progress="hidden")
    return demo
