"""The data map: every document at its 2-D position, colored by theme, labels at topic centers.

Two renderings of the same points: an interactive plotly figure for the app
(like BERTopic's ``visualize_documents(..., custom_labels=True)``) and a
static matplotlib image for ``topictalk map`` (the reference's bonus map,
labels spread apart with adjustText). Both fade the outliers (topic -1).
"""

from __future__ import annotations

import html
import textwrap
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from topictalk.indexing.schema import OUTLIER, Topic

MAX_POINTS = 20_000  # beyond this the browser's WebGL scatter starts to lag on laptops
SEED = 42
OUTLIER_COLOR = "#CFD8DC"  # BERTopic's grey for outliers
OTHER_COLOR = "#B8BFC9"  # documents outside a filter (another period or group): a faint backdrop
OTHERS = "other documents"  # the backdrop trace's name (tests find the filtered points by it)


@dataclass(frozen=True)
class Points:
    """Map positions of (a sample of) the documents; ``total`` counts them all."""

    x: np.ndarray
    y: np.ndarray
    topic: np.ndarray
    title: list[str]
    total: int
    theme: np.ndarray | None = None  # theme per document (-1: none); None for an index without themes

    @classmethod
    def from_coordinates(cls, coords: dict) -> Points:
        """From ``store.Reader.coordinates()``; documents without a title are named by id."""
        titles = [t or i for t, i in zip(coords["title"], coords["ids"])]
        theme = np.asarray(coords["theme"], np.int32) if "theme" in coords else None
        return cls(np.asarray(coords["x"], np.float32), np.asarray(coords["y"], np.float32),
                   np.asarray(coords["topic"], np.int32), titles, len(titles),
                   theme if theme is not None and (theme >= 0).any() else None)

    def groups(self) -> np.ndarray:
        """What colors a point: its theme where the index has themes, else its topic."""
        return self.theme if self.theme is not None else self.topic

    def __len__(self) -> int:
        return len(self.title)

    def subset(self, keep: np.ndarray) -> Points:
        """The points where ``keep`` (a mask or indexes) holds; ``total`` counts the subset alone."""
        chosen = np.flatnonzero(keep) if np.asarray(keep).dtype == bool else np.asarray(keep, dtype=np.int64)
        return Points(self.x[chosen], self.y[chosen], self.topic[chosen], [self.title[i] for i in chosen],
                      len(chosen), None if self.theme is None else self.theme[chosen])

    @property
    def sampled(self) -> bool:
        return len(self) < self.total


def sample(points: Points, max_points: int = MAX_POINTS, seed: int = SEED) -> Points:
    """A reproducible sample of at most ``max_points``, every topic keeping at least one point.

    Topics keep their share of the points (largest remainders fill the last
    places), so the map's density still shows which topics are big.
    """
    n = len(points)
    if n <= max_points:
        return points
    ids, sizes = np.unique(points.topic, return_counts=True)
    exact = sizes * (max_points / n)
    quota = np.maximum(1, np.floor(exact)).astype(int)
    left = max_points - int(quota.sum())
    if left > 0:  # hand out the places floor() left over
        quota[np.argsort(-(exact - np.floor(exact)), kind="stable")[:left]] += 1
    while left < 0:  # the one-point minimums overshot: take from the biggest quotas
        quota[int(np.argmax(quota))] -= 1
        left += 1
    rng = np.random.default_rng(seed)
    keep = [rng.choice(np.flatnonzero(points.topic == t), size=q, replace=False) for t, q in zip(ids, quota)]
    chosen = np.sort(np.concatenate(keep))  # original order: stable draw order across runs
    return Points(points.x[chosen], points.y[chosen], points.topic[chosen],
                  [points.title[i] for i in chosen], points.total,
                  None if points.theme is None else points.theme[chosen])


def centers(points: Points, groups: np.ndarray | None = None) -> dict[int, tuple[float, float]]:
    """Median position of each real topic (or of each group in ``groups``, one per point: themes): robust to
    the stray points UMAP flings away."""
    groups = points.topic if groups is None else groups
    return {int(t): (float(np.median(points.x[groups == t])), float(np.median(points.y[groups == t])))
            for t in np.unique(groups) if t != OUTLIER}


# labels are placed for the narrowest screen that shows the map (a phone's plot is about 360 x 560 px): a label
# whose box would overlap a bigger topic's label there is left off (the topic is named in its points' hover)
CANVAS_PX = (360.0, 560.0)
LABEL_FONT_PX = 11
LABEL_CHARS = 40


def placed(centers_of: dict[int, tuple[float, float]], labels: dict[int, str], sizes: dict[int, int],
           span: tuple[float, float] | None = None, canvas: tuple[float, float] = CANVAS_PX,
           font: float = LABEL_FONT_PX) -> list[int]:
    """Topics whose label is drawn, biggest first: each label's box (about 0.6 of the font size per
    character, 1.5 of it high, on ``canvas`` pixels spanning the points' ``span``, their x and y ranges)
    overlaps none before it."""
    if not centers_of:
        return []
    if span is None:  # the centers' own ranges
        span = tuple(float(np.ptp([c[i] for c in centers_of.values()])) for i in (0, 1))
    # data units per pixel, as plotly fits the points' range (plus a margin) to the plot
    per_x = max(span[0], 1e-9) * 1.1 / canvas[0]
    per_y = max(span[1], 1e-9) * 1.1 / canvas[1]
    kept: list[tuple[float, float, float, float]] = []
    shown = []
    for t in sorted(centers_of, key=lambda t: (-sizes.get(t, 0), t)):
        half_w = 0.6 * font * len(_short(labels.get(t, str(t)), LABEL_CHARS)) / 2 * per_x
        half_h = 1.5 * font / 2 * per_y
        x, y = centers_of[t]
        box = (x - half_w, x + half_w, y - half_h, y + half_h)
        if all(box[1] < k[0] or box[0] > k[1] or box[3] < k[2] or box[2] > k[3] for k in kept):
            kept.append(box)
            shown.append(t)
    return shown


# zoom levels (the full view's span over the shown span) at which more labels get room; the page's script
# (ui/browser.py) shows each label from its level on, theme labels only below the second
ZOOMS = (1, 2, 4, 8)
THEME_FONT_PX = 13


def zooms(centers_of: dict[int, tuple[float, float]], labels: dict[int, str], sizes: dict[int, int],
          span: tuple[float, float] | None, first: int = 1) -> dict[int, int]:
    """The least zoom (of ``ZOOMS``, from ``first``) at which each topic's label overlaps no bigger topic's:
    at zoom z the same points spread over z times the canvas. A label with no room even at the last is left
    off (its points' hover names the topic)."""
    level: dict[int, int] = {}
    for z in (z for z in ZOOMS if z >= first):
        for t in placed(centers_of, labels, sizes, span, canvas=(CANVAS_PX[0] * z, CANVAS_PX[1] * z)):
            level.setdefault(t, z)
    return level


def _theme_centers(points: Points, theme_labels: dict[int, str] | None) -> dict[int, tuple[float, float]]:
    """Each theme's median position, where themes are a level of their own (some theme holds two topics)."""
    if points.theme is None or not theme_labels:
        return {}
    topics_of: dict[int, set[int]] = {}
    for th, t in zip(points.theme.tolist(), points.topic.tolist()):
        if th != OUTLIER and th in theme_labels:
            topics_of.setdefault(th, set()).add(t)
    if all(len(ts) <= 1 for ts in topics_of.values()):
        return {}  # one topic a theme: the theme level names nothing the topics do not
    return {th: at for th, at in centers(points, points.theme).items() if th in topics_of}


def labels_of(topics: list[Topic]) -> dict[int, str]:
    return {t.id: t.label for t in topics}


def descriptions_of(topics: list[Topic]) -> dict[int, str]:
    return {t.id: t.description for t in topics if t.description}


def _wrapped(text: str, width: int = 60) -> str:
    """Plain text broken into hover lines (plotly draws a hover label on one line otherwise)."""
    return "<br>".join(_plain(line) for line in textwrap.wrap(text, width))


def title_of(points: Points, within: str = "", of: int = 0) -> str:
    """The map's title; ``within`` names a filter (a period, a group) that ``points`` are the ``of``
    documents of."""
    shown = f"{len(points):,} documents"
    if points.sampled:
        shown = f"a reproducible sample of {len(points):,} of {points.total:,} documents (every topic kept)"
    if within:
        shown += f" in {_plain(_short(within, 60))}" + (f" (of {of:,})" if of else "")
    return f"Documents and topics: {shown}"


def _short(text: str, chars: int) -> str:
    return text if len(text) <= chars else text[: chars - 1].rstrip() + "…"


def _plain(text: str) -> str:
    # plotly reads <a href>, <b>, <span> ... in any text it draws; titles and labels are data, not markup
    return html.escape(text, quote=False)


def figure(points: Points, labels: dict[int, str], max_points: int = MAX_POINTS,
           theme_labels: dict[int, str] | None = None, descriptions: dict[int, str] | None = None,
           only: np.ndarray | None = None, within: str = ""):
    """The interactive map: one WebGL trace per theme (per topic without themes), titles on hover,
    topic labels at topic centers, a topic's description on its label's hover.

    With ``only`` (a mask over ``points``), the map shows those documents as usual and the others as
    a faint grey backdrop without hover, so a period or a group is seen where it lies in the whole;
    ``within`` names it in the title."""
    import plotly.colors
    import plotly.graph_objects as go

    fig = go.Figure()
    if only is not None:
        kept = points.subset(only)
        shown = sample(kept, max_points)
        # the backdrop takes what room the kept points leave, so the page draws at most max_points in all
        rest = sample(points.subset(~np.asarray(only, dtype=bool)), max(1, max_points - len(shown)))
        if len(rest):
            fig.add_trace(go.Scattergl(x=rest.x, y=rest.y, mode="markers", name=OTHERS, hoverinfo="skip",
                                       marker={"size": 4, "opacity": 0.3, "color": OTHER_COLOR}))
    else:
        shown = sample(points, max_points)
    palette = plotly.colors.qualitative.Dark24 + plotly.colors.qualitative.Light24
    groups = shown.groups()
    names = theme_labels if shown.theme is not None else labels
    kind = "theme " if shown.theme is not None else ""
    topic_names = {t: _plain(_short(f"{t}: {labels.get(t, '')}", 50)) for t in np.unique(shown.topic).tolist()}
    # outliers first, so topic points are drawn on top of the grey haze
    for t in sorted((int(g) for g in np.unique(groups)), key=lambda t: (t != OUTLIER, t)):
        mask = groups == t
        outlier = t == OUTLIER
        name = "outliers" if outlier else _plain(_short(f"{kind}{t}: {(names or {}).get(t, '')}", 40))
        # a point names its topic under its title: the topics whose label is left off are named here
        hover = [f"{_plain(_short(shown.title[i], 100))}<br><i>topic {topic_names[int(shown.topic[i])]}</i>"
                 if shown.topic[i] != OUTLIER else _plain(_short(shown.title[i], 100)) for i in np.flatnonzero(mask)]
        fig.add_trace(go.Scattergl(
            x=shown.x[mask], y=shown.y[mask], mode="markers", name=name, hovertext=hover, hoverinfo="text",
            marker={"size": 5, "opacity": 0.3 if outlier else 0.6,
                    "color": OUTLIER_COLOR if outlier else palette[t % len(palette)]},
        ))
    where = centers(shown)
    sizes = {t: int((shown.topic == t).sum()) for t in where}
    span = (float(np.ptp(shown.x)), float(np.ptp(shown.y))) if len(shown) else None
    themed = _theme_centers(shown, theme_labels)
    if themed:  # zoomed out, the map names its themes; a topic's label shows from the zoom that has room for it
        theme_sizes = {th: int((shown.theme == th).sum()) for th in themed}
        for th in placed(themed, theme_labels, theme_sizes, span, font=THEME_FONT_PX):
            fig.add_annotation(x=themed[th][0], y=themed[th][1], text=f"<b>{_plain(_short(theme_labels[th], LABEL_CHARS))}</b>",
                               showarrow=False, name="theme", hovertext=_plain(f"theme {th}: {theme_labels[th]}"),
                               font={"size": THEME_FONT_PX, "color": "black"}, bgcolor="rgba(255,255,255,0.8)")
    for t, zoom in zooms(where, labels, sizes, span, first=ZOOMS[1] if themed else ZOOMS[0]).items():
        cx, cy = where[t]
        label = labels.get(t, str(t))
        about = (descriptions or {}).get(t, "")
        # the description on the label's own hover: one text per topic, not one per point
        hover = _wrapped(f"{t}: {label}. {_short(about, 300)}" if about else f"{t}: {label}")
        fig.add_annotation(x=cx, y=cy, text=_plain(_short(label, LABEL_CHARS)), showarrow=False, hovertext=hover,
                           name=f"topic:{zoom}", visible=zoom == 1,
                           font={"size": LABEL_FONT_PX, "color": "black"}, bgcolor="rgba(255,255,255,0.7)")
    # the legend under the plot and the toolbar upright at its side: on a phone, a legend at the right
    # squashed the points into a strip, and the toolbar lay over the title
    fig.update_layout(
        title={"text": title_of(shown, within, points.total if only is not None else 0), "x": 0, "xanchor": "left", "font": {"size": 14}}, template="simple_white",
        height=720, margin={"l": 10, "r": 30, "t": 50, "b": 10},
        legend={"itemsizing": "constant", "orientation": "h", "x": 0, "xanchor": "left", "y": 0, "yanchor": "top",
                "font": {"size": 11}},
        modebar={"orientation": "v"},
        xaxis={"visible": False}, yaxis={"visible": False}, hoverlabel={"bgcolor": "white"},
    )
    return fig


def static_map(points: Points, labels: dict[int, str], out: Path, dpi: int = 150) -> Path:
    """A PNG (or any format matplotlib knows by the suffix) with labels spread by adjustText."""
    import matplotlib

    matplotlib.use("Agg")  # no display; also safe inside a server process
    import matplotlib.pyplot as plt
    from adjustText import adjust_text

    fig, ax = plt.subplots(figsize=(14, 14))
    try:
        # dots shrink as documents grow: a few hundred stay visible, 100k do not become one blot
        size = float(np.clip(20_000 / max(len(points), 1), 1.5, 25))
        groups = points.groups()  # colored by theme; each topic still gets its label
        outliers = groups == OUTLIER
        ax.scatter(points.x[outliers], points.y[outliers], s=size, c=OUTLIER_COLOR, alpha=0.4, linewidths=0)
        cmap = plt.get_cmap("tab20")
        real = ~outliers
        ax.scatter(points.x[real], points.y[real], s=size, c=[cmap(t % 20) for t in groups[real]], alpha=0.7,
                   linewidths=0)
        texts = [ax.text(cx, cy, textwrap.fill(_short(labels.get(t, str(t)), 60), 22), fontsize=8, ha="center",
                         va="center", bbox={"boxstyle": "round,pad=0.2", "fc": "white", "ec": "none", "alpha": 0.75})
                 for t, (cx, cy) in centers(points).items()]
        if texts:
            # Only the labels repel each other: passing every point would be slow at 100k documents.
            # avoid_self=False: a label belongs on its topic's center; pushing it off its own anchor
            # while pulling it back never settles, and adjustText then runs until time_lim.
            adjust_text(texts, ax=ax, avoid_self=False, arrowprops={"arrowstyle": "-", "color": "0.4", "lw": 0.5},
                        time_lim=20)
        ax.set_axis_off()
        ax.set_title(title_of(points), fontsize=12)
        out = Path(out)
        out.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(out, dpi=dpi, bbox_inches="tight")
    finally:
        plt.close(fig)
    return out
