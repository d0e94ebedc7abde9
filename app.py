"""Launch the demo: `python app.py [--backend ...] [--format ...] [--model ...] [--base-url ...] [--port N]`."""

from __future__ import annotations

import logging

from app.assembly import CommandParser, add_model_flags, check_page_choices, settings_from
from app.settings import BadSetting


def main() -> None:
    """Read flags and settings (a wrong one ends here with status 2 and one line), then serve the page."""
    parser = CommandParser(prog="python app.py", description=__doc__)
    add_model_flags(parser)
    parser.add_argument("--port", type=int, help="(WOZ_PORT, default 7860)")
    parser.add_argument("--host", help="(WOZ_HOST, default 127.0.0.1)")
    args = parser.parse_args()
    try:
        settings = settings_from(args, **{k: v for k in ("port", "host") if (v := getattr(args, k)) is not None})
        check_page_choices(settings)  # the page's model and both arena sides: a wrong name would fail every action
    except BadSetting as error:
        parser.exit(2, f"{error}\n")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    from app.ui.demo import DemoApp  # Gradio takes seconds to import: a wrong setting is told before that
    from app.ui.layout import CSS, build_ui
    from app.ui.theme import theme

    app = DemoApp(settings).start()
    demo = build_ui(app)
    demo.queue(default_concurrency_limit=settings.remote_concurrency).launch(
        server_name=settings.host, server_port=settings.port, show_error=False, css=CSS, theme=theme())


if __name__ == "__main__":
    main()
