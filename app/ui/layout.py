"""The page: chat on the left, live panels on the right, rating and export below."""

from __future__ import annotations

from typing import Any

import gradio as gr

from app.backends.base import on_zero_gpu
from app.ui import theme, view
from app.ui.demo import ChatPage, DemoApp, example_openers
from app.ui.goal_play import GoalPanel
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


def build_ui(app: DemoApp) -> gr.Blocks:
    """The whole page: the chat with its panels, rating and export, goal play and the workbench tabs, wired
    to the app's handlers."""
    respond, retry = _on_zero_gpu(app.respond), _on_zero_gpu(app.retry)
    limit = turns_at_once(app)
    with gr.Blocks(title="CoALM MultiWOZ demo") as demo:
        state = gr.State(None)
        annotator_memory = gr.BrowserState("", storage_key="coalm-woz-annotator")
        gr.Markdown("# CoALM finds and books: hotels, restaurants, trains, taxis, attractions", elem_id="title")
        header = gr.Markdown(app.header(), elem_id="header")
        with gr.Tabs(elem_id="tabs"):
            with gr.Tab("Chat", id="chat-tab", elem_id="tab-chat"):
                with gr.Row():
                    with gr.Column(scale=3):
                        chatbot = gr.Chatbot(elem_id="chat", height=560, label="Chat",
                                             feedback_options=view.FEEDBACK_OPTIONS)
                        with gr.Row():
                            message = gr.Textbox(elem_id="message", placeholder="Ask for a hotel, a train, a table…",
                                                 show_label=False, scale=5, autofocus=True)
                            send = gr.Button("Send", variant="primary", elem_id="send", scale=1)
                        turn_status = gr.Markdown("✅ Ready", elem_id="turn-status")
                        with gr.Row():
                            new = gr.Button("New dialogue", elem_id="new-dialogue", size="sm")
                            stop = gr.Button("Stop", elem_id="stop", size="sm")
                            retry_button = gr.Button("Retry", elem_id="retry", size="sm", visible=False,
                                                     variant="secondary")
                            download = gr.DownloadButton("Download dialogue (JSON)", elem_id="download", size="sm")
                        with gr.Row():
                            share = gr.Checkbox(label="Share this dialogue with the review queue (other people, the "
                                                      "raters, will read it)", value=app.settings.share_default,
                                                elem_id="share", scale=3)
                            share_status = gr.Markdown(elem_id="share-status")
                        gr.Markdown("**Try:**")
                        with gr.Row():
                            openers = [gr.Button(text, size="sm", elem_id=f"opener-{i}")
                                       for i, text in enumerate(example_openers())]
                    with gr.Column(scale=2):
                        gr.Markdown("### Belief state")
                        belief = gr.HTML(view.belief_html(app.new_dialogue()), elem_id="belief")
                        gr.Markdown("### API calls")
                        calls = gr.Dataframe(headers=view.CALL_COLUMNS, elem_id="api-calls", wrap=True,
                                             interactive=False, column_widths=theme.CALL_WIDTHS,
                                             max_height=300)
                        gr.Markdown("### Database results")
                        rows = gr.Dataframe(view.database_rows(app.new_dialogue()), elem_id="db-results", wrap=True,
                                            interactive=False, max_height=300)
                        gr.Markdown("### Bookings")
                        booked = gr.Dataframe(headers=view.BOOKING_COLUMNS, elem_id="bookings", wrap=True,
                                              interactive=False, column_widths=theme.BOOKING_WIDTHS)
                goal_panel = GoalPanel(app, state)
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
            name_boxes = [annotator, *build_workbench_tabs(Workbench.of(app), turns)]

        outputs = list(ChatPage(chat=chatbot, message=message, belief=belief, calls=calls, rows=rows, bookings=booked,
                                state=state, retry=retry_button, download=download, status=turn_status,
                                share=share))
        goal_panel.wire(demo, outputs, download)
        turn_options: dict[str, Any] = {"outputs": outputs, "concurrency_limit": limit, "concurrency_id": "turns",
                        **QUEUE_STATUS, "show_progress_on": [turn_status]}
        # A message sent while this session's turn still runs (or is winding down after Stop) runs right after it
        # (trigger_mode "always_last"; "once" dropped it): turns of one dialogue never overlap, none is lost.
        for trigger in (message.submit, send.click):  # said at once; Gradio adds the place in line and the wait
            trigger(lambda: WAITING, None, turn_status, queue=False)
        message.submit(respond, [message, state], trigger_mode="always_last", **turn_options)
        send.click(respond, [message, state], trigger_mode="always_last", **turn_options)
        retry_button.click(retry, [state], **turn_options)
        for button in openers:
            button.click(lambda text=button.value: text, None, message, queue=False).then(
                respond, [message, state], **turn_options)
        # Stop asks the running turn to end (it records "Stopped." and its handler returns as usual) instead of
        # cancelling the handler: a cancelled one left the page ignoring the next message for a moment.
        stop.click(app.stop_turn, [state], None, queue=False)
        # New dialogue ends a running turn the same way (its handler then leaves the page alone), so a message
        # typed into the new dialogue right away runs in it instead of being dropped with a cancelled handler.
        new.click(app.start_over, [state], outputs, queue=False)
        # The chat's own trash icon empties only what is shown: make it start a new dialogue too, or the next
        # message would bring the whole "deleted" dialogue back.
        chatbot.clear(app.start_over, [state], outputs, queue=False)
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
        demo.load(lambda name: [name] * len(name_boxes), annotator_memory, name_boxes)
        timer = gr.Timer(2)
        timer.tick(lambda: (app.header(), gr.Timer(active=app.status.state == "loading")), None, [header, timer])
    return demo
