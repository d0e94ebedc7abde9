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


# Column widths of the API-call and booking tables (view.CALL_COLUMNS, view.BOOKING_COLUMNS), for the tabs that set
# them: the short columns get what their one-line header needs.
CALL_WIDTHS: list[str | int] = ["44%", "32%", "11%", "13%"]
BOOKING_WIDTHS: list[str | int] = ["24%", "20%", "15%", "24%", "17%"]
CHAT_HEIGHT = 520

CSS = """
.gradio-container { max-width: 1480px !important; }
#title h1 { font-size: 1.45rem !important; margin: .2em 0 !important; }
#header p { margin: 0; font-size: .92em; opacity: .85; }
.tab-intro p { margin: 0 0 .4em; opacity: .8; font-size: .92em; }
.panel-title h3, .panel-title h4 { margin: .5em 0 .2em !important; font-size: 1em !important; }
#turn-status p { margin: .1em 0; }
#header details { display: inline; } #header summary { cursor: pointer; }

/* Tables: headers never break; cells wrap at spaces, and inside a word only where that one word is wider than its
   column could ever be ("anywhere" let columns shrink to a letter: "res/tau/ran/t"). */
table th, table th * { white-space: nowrap !important; word-break: keep-all !important; }
table td { word-break: normal !important; overflow-wrap: break-word; }

/* The chat tab's read-only tables (view.table_html): as wide as their words, scrolling sideways on a phone. */
.table-wrap { overflow-x: auto; max-width: 100%; }
#api-calls .table-wrap, #db-results .table-wrap { max-height: 300px; overflow-y: auto; }
table.woz-table { border-collapse: collapse; width: 100%; font-size: .85em; border: 0 !important; }
table.woz-table th { position: sticky; top: 0; background: var(--background-fill-secondary); font-weight: 600; }
table.woz-table tr, #belief-state tr { border: 0 !important; }
table.woz-table th, table.woz-table td, #belief-state td { padding: 4px 8px; text-align: left; vertical-align: top;
  border: 0 !important; border-bottom: 1px solid var(--border-color-primary) !important; }
table.woz-table td { overflow-wrap: normal; hyphens: none; }
#api-calls-table th:nth-child(n+3), #api-calls-table td:nth-child(n+3) { text-align: right; white-space: nowrap;
  font-variant-numeric: tabular-nums; }
#api-calls-table td:first-child { font-family: var(--font-mono); font-size: .95em; }

/* What matters in the side panels stands out: booking references, and the slots this turn changed. */
#bookings tbody td:nth-child(2), #review-bookings tbody td:nth-child(2), [id^="arena-bookings"] tbody td:nth-child(2) {
  font-family: var(--font-mono); font-weight: 700; letter-spacing: .04em; color: var(--color-accent);
  white-space: nowrap; }
#belief-state .belief-domain { margin-bottom: .6em; }
#belief-state table { width: 100%; border-collapse: collapse; font-size: .9em; border: 0 !important; }
#belief-state td { padding: 2px 6px; }
#belief-state tr.changed td { background: rgba(255, 196, 0, .30); font-weight: 650; }
#belief-state tr.changed td:first-child::before { content: "● "; color: #d97706; }
.belief-empty { opacity: .6; margin: .2em 0; font-size: .9em; }
#chat .example { border: 1px solid var(--border-color-primary); border-radius: var(--radius-lg); }
/* The goal verdict's table scrolls sideways on a phone instead of being cut off at the screen's edge. */
#goal-verdict table { display: block; overflow-x: auto; max-width: 100%; }
/* The review queue's and the Runs tab's chats are read-only: no trash icon (it would only empty the screen). */
#review-chat button[aria-label='Clear'], #runs-chat button[aria-label='Clear'],
[id^="runs-compare-"] button[aria-label='Clear'] { display: none !important; }
/* The chat's trash icon sits at its top right: the messages keep clear of it instead of scrolling under it. */
#chat .message-wrap { padding-right: 36px; }

/* Phones: one column, a chat and its message box that fit the screen together, every tab's name in the bar
   (no "..." menu), big enough tap targets. */
@media (max-width: 640px) {
  .gradio-container { padding: 6px !important; }
  #title h1 { font-size: .98rem !important; line-height: 1.3 !important; }
  #header p { font-size: .78em; }
  #tabs .tab-container button { padding: 4px 6px !important; font-size: 14px !important; }
  #chat .example { padding: 6px 8px !important; font-size: 14px; }
  #chat, #review-chat, [id^="arena-chat"] { height: 44vh !important; }
  #message-row { flex-wrap: nowrap !important; gap: 6px; }
  /* A 1-5 scale on one line, as a scale reads (it wrapped into a grid). */
  #naturalness .wrap, #review-naturalness .wrap { flex-wrap: nowrap !important; gap: 4px !important; }
  #naturalness label, #review-naturalness label { padding: 6px 9px !important; min-width: 0 !important; flex: 1 1 0; }
  .message-wrap .message { font-size: 15px; }
  button { min-height: 40px; }
}
"""
