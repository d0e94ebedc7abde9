"""One look for every tab: a theme built from local fonts (a Space or a laptop may be offline) and the CSS."""

from __future__ import annotations

import gradio as gr

SYSTEM_FONTS = ("ui-sans-serif", "system-ui", "-apple-system", "Segoe UI", "Roboto", "sans-serif")
MONO_FONTS = ("ui-monospace", "SFMono-Regular", "Menlo", "Consolas", "monospace")


def theme() -> gr.themes.Base:
    """The Gradio theme of every tab, with local fonts only."""
    return gr.themes.Soft(primary_hue="indigo", secondary_hue="amber", neutral_hue="slate", radius_size="md",
                          font=SYSTEM_FONTS, font_mono=MONO_FONTS).set(
        block_title_text_weight="600", button_primary_text_color="white")


# Column widths of the API-call and booking tables: the short columns get what their one-line header needs.
CALL_WIDTHS: list[str | int] = ["14%", "46%", "28%", "12%"]
BOOKING_WIDTHS: list[str | int] = ["22%", "15%", "19%", "26%", "18%"]

CSS = """
.gradio-container { max-width: 1480px !important; }
#title h1 { font-size: 1.45rem !important; margin: .2em 0 !important; }
#header p { margin: 0; font-size: .92em; opacity: .85; }
.tab-intro p { margin: 0 0 .4em; opacity: .8; font-size: .92em; }
.panel-title h3, .panel-title h4 { margin: .5em 0 .2em !important; font-size: 1em !important; }

/* Tables: headers never break inside a word; cells wrap at spaces only. */
table th, table th * { white-space: nowrap !important; word-break: keep-all !important; }
table td { word-break: normal !important; overflow-wrap: anywhere; }

/* What matters in the side panels stands out: booking references, and the slots this turn changed. */
#bookings tbody td:first-child, #review-bookings tbody td:first-child, [id^="arena-bookings"] tbody td:first-child {
  font-family: var(--font-mono); font-weight: 700; letter-spacing: .04em; color: var(--color-accent); }
#belief-state .belief-domain { margin-bottom: .6em; }
#belief-state table { width: 100%; border-collapse: collapse; font-size: .9em; }
#belief-state td { padding: 2px 6px; border-bottom: 1px solid var(--border-color-primary); }
#belief-state tr.changed td { background: rgba(255, 196, 0, .30); font-weight: 650; }
#belief-state tr.changed td:first-child::before { content: "● "; color: #d97706; }
.belief-empty { opacity: .6; margin: .2em 0; font-size: .9em; }

/* Phones: one column, a chat that fits the screen, big enough tap targets. */
@media (max-width: 640px) {
  .gradio-container { padding: 6px !important; }
  #title h1 { font-size: 1.1rem !important; line-height: 1.3 !important; }
  #header p { font-size: .8em; }
  #chat, #review-chat, [id^="arena-chat"] { height: 58vh !important; }
  .message-wrap .message { font-size: 15px; }
  button { min-height: 40px; }
}
"""
