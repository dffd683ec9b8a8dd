"""What the browser runs and how the page looks: the app's CSS, the page's script (links, citations,
scrolling, a cut paste) and the login page's script (the throttle's wait). Plain strings that
``ui.app`` hands to gradio (``css``, ``js``) and to ``ui.page_head``."""

CSS = """
.tt-footer { font-size: 0.92em; }
.tt-footer b { font-size: 1em; font-weight: 600; }
.tt-sources { margin-top: 0.6em; border-top: 1px solid var(--border-color-primary); padding-top: 0.4em; }
.tt-source { margin: 0.35em 0; }
.tt-pending { opacity: 0.75; }
.tt-topics-used { margin-top: 0.4em; }
.tt-source details summary { cursor: pointer; }
/* gradio draws a bot message at opacity 0.8: its grey came out 4.4:1 on the message background, under WCAG AA */
#tt-chat .tt-topics-used, #tt-chat .tt-source details summary, #tt-chat .tt-stopped { color: #374151 !important; }
.tt-source.tt-cited { outline: 2px solid #c2410c; outline-offset: 2px; border-radius: 4px; }
a.tt-cite { text-decoration: none; font-weight: 600; color: #9a3412; }
.tt-stopped { font-style: italic; }
#tt-notice { color: #7c2d12; }
/* WCAG AA (4.5:1): gradio's orange primary is 2.8:1 with white text, its red Stop 3.8:1, a selected tab 2.8:1 */
#tt-send { background: #c2410c; border-color: #c2410c; color: #fff; }
#tt-send:hover { background: #9a3412; }
button.selected { color: #9a3412 !important; }
/* The topic table is a tree (a theme's heading row over its topics, biggest first): the column menu's sort
   and filter would scatter the headings among the topics. The search box above it filters the tree whole. */
#tt-topics .cell-menu-button { display: none; }
"""
# The map names its themes zoomed out and its topics zoomed in (issue 27). Each label carries its level in its
# plotly name (ui.map.figure): "theme", or "topic:Z", Z the least zoom (full view's x span over the shown one)
# at which it overlaps no bigger topic's label. On every zoom, pan or reset, the labels of the reached level
# are shown: themes below zoom 2, each topic from its Z on. A page without this script keeps the full view's.
MAP_LEVELS_JS = """() => {
  const show = (plot) => {
    const notes = (plot.layout && plot.layout.annotations) || [], x = plot._fullLayout && plot._fullLayout.xaxis;
    if (!window.Plotly || !x || !notes.some(a => String(a.name || "").startsWith("topic:"))) return;
    const span = x.range[1] - x.range[0];
    if (x.autorange || !plot._ttFull) plot._ttFull = span;
    const zoom = plot._ttFull / span, themed = notes.some(a => a.name === "theme"), change = {};
    notes.forEach((a, i) => {
      const [kind, at] = String(a.name || "").split(":");
      const want = kind === "theme" ? zoom < 2 : kind === "topic" ? zoom >= Number(at) && (!themed || zoom >= 2)
                                                                  : a.visible !== false;
      if ((a.visible !== false) !== want) change[`annotations[${i}].visible`] = want;
    });
    if (Object.keys(change).length) window.Plotly.relayout(plot, change);
  };
  const watch = () => document.querySelectorAll(".js-plotly-plot").forEach(plot => {
    if (plot.dataset.ttLevels || !plot.on) return;
    plot.dataset.ttLevels = "1";
    // the full view, what zoom is measured against: the x span whenever plotly fits the axes itself
    const full = () => { const x = plot._fullLayout && plot._fullLayout.xaxis;
                         if (x && x.autorange) plot._ttFull = x.range[1] - x.range[0]; };
    full();
    plot.on("plotly_afterplot", full);
    plot.on("plotly_relayout", (event) => {
      if (Object.keys(event || {}).some(k => k.startsWith("xaxis") || k.startsWith("yaxis") || k === "autosize"))
        show(plot);
    });
  });
  new MutationObserver(watch).observe(document.body, {subtree: true, childList: true});
  watch();
}"""


# gradio's Markdown gives every link rel="noopener noreferrer" (and target=_blank) when it renders,
# replacing ours; links in answers come from model or document text, so they also get nofollow
PAGE_JS = """() => {
  const rel = "noopener noreferrer nofollow";
  const fix = () => document.querySelectorAll("a[href]").forEach(a => { if (a.rel !== rel) a.rel = rel; });
  new MutationObserver(fix).observe(document.body,
    {subtree: true, childList: true, attributes: true, attributeFilter: ["rel", "href"]});
  fix();
  // a citation [n] opens its source card under the same answer (gradio opens links in a new tab)
  document.addEventListener("click", (event) => {
    const cite = event.target.closest && event.target.closest("a.tt-cite");
    if (!cite) return;
    event.preventDefault();
    event.stopPropagation();
    const n = [...cite.classList].find(c => c.startsWith("tt-n-"));
    const message = cite.closest(".message") || document;
    const card = n && message.querySelector(`.tt-source.tt-src-${n.slice(5)}`);
    if (!card) return;
    document.querySelectorAll(".tt-cited").forEach(c => c.classList.remove("tt-cited"));
    card.classList.add("tt-cited");
    const full = card.querySelector("details");
    if (full) full.open = true;
    card.scrollIntoView({block: "nearest", behavior: "smooth"});
  }, true);
  // a new question goes to the top of the chat, so that its answer is read from its start as it grows
  // (gradio's autoscroll, off, kept the bottom in view: the sources, with the answer scrolled away above)
  // until the reader scrolls themselves: the chat cannot scroll that far before the answer below has grown
  let questions = 0, pinned = false;
  const unpin = () => { pinned = false; };
  new MutationObserver(() => {
    const rows = document.querySelectorAll("#tt-chat .message-row.user-row");
    if (rows.length !== questions) { questions = rows.length; pinned = rows.length > 0; }
    const last = rows[rows.length - 1];
    const view = last && last.closest(".bubble-wrap");
    if (!view || !pinned) return;
    if (!view.dataset.ttWatched) {
      view.dataset.ttWatched = "1";
      ["wheel", "touchmove", "keydown", "mousedown"].forEach(e => view.addEventListener(e, unpin, {passive: true}));
    }
    const top = last.getBoundingClientRect().top - view.getBoundingClientRect().top + view.scrollTop - 8;
    if (Math.abs(view.scrollTop - top) > 2) view.scrollTo({top: Math.max(0, top)});
  }).observe(document.body, {subtree: true, childList: true, characterData: true});
  // the box stops a paste at its limit; say so rather than cut it silently
  document.addEventListener("paste", (event) => {
    const box = event.target;
    if (!box.closest || !box.closest("#tt-question") || !box.maxLength || box.maxLength < 0) return;
    const pasted = (event.clipboardData || window.clipboardData).getData("text") || "";
    const room = box.maxLength - (box.value.length - (box.selectionEnd - box.selectionStart));
    if (pasted.length <= room) return;
    const note = document.querySelector("#tt-notice");
    if (note) note.innerText = `✂️ The pasted text has ${pasted.length.toLocaleString("en")} characters; ` +
      `questions are limited to ${box.maxLength.toLocaleString("en")}, so it was cut to ${room.toLocaleString("en")}.`;
  }, true);
  (""" + MAP_LEVELS_JS + """)();
}"""


# gradio's login form reacts to 400 (wrong password: it clears the form) and 200 only; a try inside the wait
# after a failure gets 429 from the throttle and the form said nothing, its last "Incorrect Credentials" still
# shown (issue 33, item 10): in the login page's head (ui.page_head), before gradio's code runs, say why and keep
# the form
LOGIN_HEAD = """<script>
(() => {
  const send = window.fetch;
  window.fetch = async (...args) => {
    const response = await send(...args);
    const url = String((args[0] && args[0].url) || args[0]).split("?")[0];
    if (!url.endsWith("/login")) return response;
    let note = document.getElementById("tt-login-wait");
    if (response.status !== 429) { if (note) note.remove(); return response; }
    const button = [...document.querySelectorAll("button")].find(b => /log ?in/i.test(b.textContent));
    if (!note && button) {
      note = document.createElement("p");
      note.id = "tt-login-wait";
      note.setAttribute("role", "alert");
      note.style.color = "#9a3412";
      button.parentElement.insertBefore(note, button);
    }
    const wait = response.headers.get("Retry-After") || "a few";
    document.querySelectorAll(".form p, .wrap p").forEach(p => {
      if (/incorrect credentials/i.test(p.textContent) && p !== note) p.style.display = "none"; });
    if (note) note.textContent = `Too many tries: wait ${wait} s, then log in again. This try was not checked.`;
    return response;
  };
})();
</script>"""
