"""Render the dashboard data as one self-contained HTML file with inline SVG charts.

No scripts, no external fonts, styles or images: a Content-Security-Policy meta tag
(``default-src 'none'; style-src 'unsafe-inline'; img-src data:``) makes the browser refuse any
request should one slip in. Every panel shows an SVG chart whose data points are ``class="pt"``
elements with a ``<title>`` tooltip, or an explicit "no data: <reason>" text. The grid is
responsive (two columns at 1280 px, one on a narrow screen).
"""

from __future__ import annotations

import html
import math
from datetime import UTC, datetime
from typing import Any

from ff_utils.ff_analytics_exposition.ff_dashboard_data import FFDashboardDataDTO, FFPanelDTO, FFSeriesDTO

CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
COLORS = ("#2563eb", "#dc2626", "#059669", "#d97706", "#7c3aed", "#0891b2")
SEVERITY_COLORS = {"critical": "#b91c1c", "error": "#dc2626", "warning": "#d97706", "info": "#2563eb"}
STATUS_COLORS = {"healthy": "#059669", "degraded": "#d97706", "unhealthy": "#b91c1c"}
W, H = 600, 240
ML, MR, MT, MB = 52, 14, 26, 34

_CSS = """
*{box-sizing:border-box}
body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;color:#111827;background:#f3f4f6}
header{padding:16px 20px;background:#111827;color:#f9fafb}
header h1{margin:0 0 4px;font-size:20px}
header p{margin:0;color:#d1d5db;font-size:12px;word-break:break-all}
main{display:grid;grid-template-columns:repeat(auto-fit,minmax(min(100%,540px),1fr));gap:14px;padding:14px;max-width:1600px;margin:0 auto}
.panel{background:#fff;border:1px solid #e5e7eb;border-radius:8px;padding:12px 14px;min-width:0}
.panel h2{margin:0 0 6px;font-size:16px}
.panel .src{color:#6b7280;font-size:11px;margin:0 0 6px}
.summary{display:flex;flex-wrap:wrap;gap:6px 14px;margin:0 0 8px;padding:0;list-style:none;font-size:12px;color:#374151}
.summary b{font-weight:600}
svg.chart{width:100%;height:auto;display:block}
svg text{font-size:11px;fill:#4b5563}
.legend{display:flex;flex-wrap:wrap;gap:10px;font-size:12px;margin:4px 0 0;padding:0;list-style:none}
.legend i{display:inline-block;width:10px;height:10px;border-radius:2px;margin-right:4px;vertical-align:-1px}
.nodata{color:#92400e;background:#fffbeb;border:1px dashed #f59e0b;border-radius:6px;padding:14px;margin:6px 0}
table{border-collapse:collapse;width:100%;font-size:12px;margin-top:8px}
th,td{text-align:left;padding:3px 6px;border-bottom:1px solid #f3f4f6;vertical-align:top}
.tablewrap{overflow-x:auto;max-height:260px;overflow-y:auto}
.badge{display:inline-block;padding:0 6px;border-radius:9px;color:#fff;font-size:11px}
ul.items{margin:8px 0 0;padding-left:18px;font-size:12px}
ul.items li{margin:2px 0;overflow-wrap:anywhere}
footer{padding:10px 20px 20px;color:#6b7280;font-size:11px;text-align:center}
@media (max-width:600px){main{padding:8px;gap:10px}header h1{font-size:17px}.panel{padding:10px}svg text{font-size:15px}}
"""


def _e(v: Any) -> str:
    return html.escape(str(v), quote=True)


def _fmt(v: float) -> str:
    if v is None:
        return ""
    a = abs(v)
    if a >= 1e6:
        return f"{v / 1e6:.1f}M"
    if a >= 1e4:
        return f"{v / 1e3:.0f}k"
    if a >= 100 or float(v).is_integer():
        return f"{v:.0f}"
    if a >= 10:
        return f"{v:.1f}"
    return f"{v:.2f}"


def _ts(t: float, fmt: str = "%m-%d %H:%M") -> str:
    return datetime.fromtimestamp(t, tz=UTC).strftime(fmt)


def _nice_max(v: float) -> float:
    if v <= 0:
        return 1.0
    exp = 10 ** math.floor(math.log10(v))
    for m in (1, 1.2, 1.6, 2, 2.4, 3, 4, 5, 6, 8, 10):  # quarters stay round numbers
        if v <= m * exp:
            return m * exp
    return 10 * exp


def _y_axis(out: list[str], ymax: float, unit: str) -> None:
    ph = H - MT - MB
    for i in range(5):
        v = ymax * i / 4
        y = MT + ph - ph * i / 4
        out.append(f'<line x1="{ML}" y1="{y:.1f}" x2="{W - MR}" y2="{y:.1f}" stroke="#e5e7eb"/>')
        out.append(f'<text x="{ML - 6}" y="{y + 4:.1f}" text-anchor="end">{_e(_fmt(v))}</text>')
    if unit:
        out.append(f'<text x="4" y="12">{_e(unit)}</text>')


def _svg_open(label: str, h: int = H) -> str:
    return (f'<svg class="chart" viewBox="0 0 {W} {h}" role="img" aria-label="{_e(label)}" '
            f'xmlns="http://www.w3.org/2000/svg" preserveAspectRatio="xMidYMid meet">')


def _legend(series: list[FFSeriesDTO]) -> str:
    items = "".join(f'<li><i style="background:{COLORS[i % len(COLORS)]}"></i>{_e(s.name)}</li>' for i, s in enumerate(series))
    return f'<ul class="legend">{items}</ul>'


def render_line_chart(panel: FFPanelDTO, *, time_axis: bool = True) -> str:
    """Multi-series line chart; x is epoch seconds (or an index when ``time_axis`` is false)."""
    series = [s for s in panel.series if s.points]
    xs = [float(x) for s in series for x, _ in s.points]
    ys = [y for s in series for _, y in s.points]
    x0, x1 = min(xs), max(xs)
    if x1 == x0:  # a single x: centre it, pad by an hour (time) or 1 (index)
        pad = 3600.0 if time_axis else 1.0
        x0, x1 = x0 - pad, x1 + pad
    ymax = _nice_max(max(ys))
    if panel.unit == "%" and max(ys) <= 100:
        ymax = min(ymax, 100.0)
    pw, ph = W - ML - MR, H - MT - MB
    out = [_svg_open(panel.title)]
    _y_axis(out, ymax, panel.unit)
    for i in range(3):
        t = x0 + (x1 - x0) * i / 2
        x = ML + pw * i / 2
        anchor = ("start", "middle", "end")[i]
        label = _ts(t) if time_axis else _fmt(t)
        out.append(f'<text x="{x:.1f}" y="{H - 10}" text-anchor="{anchor}">{_e(label)}</text>')
    for si, s in enumerate(series):
        color = COLORS[si % len(COLORS)]
        pts = [(ML + (float(x) - x0) / (x1 - x0) * pw, MT + ph - min(y, ymax) / ymax * ph, x, y) for x, y in s.points]
        poly = " ".join(f"{px:.1f},{py:.1f}" for px, py, _, _ in pts)
        out.append(f'<polyline fill="none" stroke="{color}" stroke-width="1.6" points="{poly}"/>')
        r = 2.4 if len(pts) <= 60 else 1.4
        for px, py, x, y in pts:
            xl = _ts(float(x), "%Y-%m-%d %H:%M") if time_axis else _fmt(float(x))
            out.append(f'<circle class="pt" cx="{px:.1f}" cy="{py:.1f}" r="{r}" fill="{color}">'
                       f'<title>{_e(s.name)} {_e(xl)}: {_e(_fmt(y))}{_e(panel.unit)}</title></circle>')
    out.append("</svg>")
    return "".join(out) + _legend(series)


def render_bar_chart(panel: FFPanelDTO) -> str:
    """Grouped vertical bars over the categories of the first series."""
    series = [s for s in panel.series if s.points]
    cats = [c for c, _ in series[0].points]
    vals = {(si, c): v for si, s in enumerate(series) for c, v in s.points}
    ymax = _nice_max(max(vals.values()))
    pw, ph = W - ML - MR, H - MT - MB
    out = [_svg_open(panel.title)]
    _y_axis(out, ymax, panel.unit)
    slot = pw / max(1, len(cats))
    bw = max(1.0, slot * 0.8 / len(series))
    step = max(1, math.ceil(len(cats) / 12))
    for ci, c in enumerate(cats):
        for si in range(len(series)):
            v = vals.get((si, c))
            if v is None:
                continue
            h = v / ymax * ph
            x = ML + ci * slot + slot * 0.1 + si * bw
            out.append(f'<rect class="pt" x="{x:.1f}" y="{MT + ph - h:.1f}" width="{bw:.1f}" height="{max(h, 0.5):.1f}" '
                       f'fill="{COLORS[si % len(COLORS)]}"><title>{_e(series[si].name)} {_e(c)}: {_e(_fmt(v))}</title></rect>')
        if ci % step == 0:
            label = str(c)[5:] if len(str(c)) == 10 and str(c)[4] == "-" else str(c)
            out.append(f'<text x="{ML + ci * slot + slot / 2:.1f}" y="{H - 14}" text-anchor="middle">{_e(label)}</text>')
    out.append("</svg>")
    return "".join(out) + (_legend(series) if len(series) > 1 else "")


def render_hbar_chart(panel: FFPanelDTO) -> str:
    """Horizontal bars with category labels on the left (long feature names stay readable)."""
    s = panel.series[0]
    rows = s.points
    bar_h, gap, left = 18, 6, 170
    h = MT + len(rows) * (bar_h + gap) + 24
    vmax = 100.0 if panel.unit.startswith("%") and max(v for _, v in rows) <= 100 else _nice_max(max(v for _, v in rows))
    pw = W - left - 60
    out = [_svg_open(panel.title, h)]
    for i in range(5):
        x = left + pw * i / 4
        out.append(f'<line x1="{x:.1f}" y1="{MT}" x2="{x:.1f}" y2="{h - 22}" stroke="#e5e7eb"/>')
        out.append(f'<text x="{x:.1f}" y="{h - 8}" text-anchor="middle">{_e(_fmt(vmax * i / 4))}</text>')
    for i, (c, v) in enumerate(rows):
        y = MT + i * (bar_h + gap)
        name = str(c) if len(str(c)) <= 26 else str(c)[:25] + "\u2026"
        out.append(f'<text x="{left - 6}" y="{y + bar_h - 5}" text-anchor="end">{_e(name)}</text>')
        wv = v / vmax * pw
        out.append(f'<rect class="pt" x="{left}" y="{y}" width="{max(wv, 0.5):.1f}" height="{bar_h}" fill="{COLORS[0]}">'
                   f'<title>{_e(c)}: {_e(_fmt(v))}{_e(panel.unit)}</title></rect>')
        out.append(f'<text x="{left + wv + 4:.1f}" y="{y + bar_h - 5}">{_e(_fmt(v))}</text>')
    out.append("</svg>")
    return "".join(out)


def render_timeline(panel: FFPanelDTO) -> str:
    """One row per alert: raised -> resolved (or now), markers at acknowledge and resolve."""
    rows = panel.rows
    now = float(panel.summary.get("now") or max(a["raised"] for a in rows))
    t0 = min(a["raised"] for a in rows)
    t1 = max(max(a["resolved"] or now, a["raised"]) for a in rows)
    if t1 <= t0:
        t1 = t0 + 60
    row_h = 22 if len(rows) <= 12 else (14 if len(rows) <= 24 else 8)
    left = 12
    h = MT + len(rows) * row_h + 36
    pw = W - left - MR

    def X(t: float) -> float:
        return left + (t - t0) / (t1 - t0) * pw

    out = [_svg_open(panel.title, h)]
    for i in range(3):
        t = t0 + (t1 - t0) * i / 2
        out.append(f'<line x1="{X(t):.1f}" y1="{MT}" x2="{X(t):.1f}" y2="{h - 24}" stroke="#e5e7eb"/>')
        out.append(f'<text x="{X(t):.1f}" y="{h - 10}" text-anchor="{("start", "middle", "end")[i]}">{_e(_ts(t))}</text>')
    for i, a in enumerate(rows):
        y = MT + i * row_h + row_h / 2
        color = SEVERITY_COLORS.get(str(a.get("severity", "")).lower(), "#6b7280")
        end = a["resolved"] if a["resolved"] is not None else now
        dash = "" if a["resolved"] is not None else ' stroke-dasharray="4 3"'
        x_end = max(X(max(end, a["raised"])), X(a["raised"]) + 4)  # a short alert stays visible
        out.append(f'<line x1="{X(a["raised"]):.1f}" y1="{y:.1f}" x2="{x_end:.1f}" y2="{y:.1f}" '
                   f'stroke="{color}" stroke-width="{max(2, row_h - 8)}" stroke-linecap="round"{dash}/>')
        label = a.get("title") or a.get("metric_name") or a["alert_id"]
        out.append(f'<circle class="pt" cx="{X(a["raised"]):.1f}" cy="{y:.1f}" r="3.2" fill="{color}">'
                   f'<title>{_e(a.get("severity", ""))} {_e(label)} raised {_e(_ts(a["raised"], "%Y-%m-%d %H:%M"))}</title></circle>')
        if a["acknowledged"] is not None:
            x = X(a["acknowledged"])
            out.append(f'<path class="pt" d="M{x:.1f} {y - 4:.1f} l4 4 l-4 4 l-4 -4 z" fill="#111827">'
                       f'<title>acknowledged after {_e(_dur(a["ack_seconds"]))}</title></path>')
        if a["resolved"] is not None:
            x = X(a["resolved"])
            out.append(f'<rect class="pt" x="{x - 3:.1f}" y="{y - 3:.1f}" width="6" height="6" fill="#059669">'
                       f'<title>resolved after {_e(_dur(a["resolve_seconds"]))}</title></rect>')
    out.append("</svg>")
    legend = ('<ul class="legend"><li><i style="background:#dc2626;border-radius:6px"></i>raised (by severity)</li>'
              '<li><i style="background:#111827;transform:rotate(45deg)"></i>acknowledged</li>'
              '<li><i style="background:#059669"></i>resolved</li><li>dashed: still open</li></ul>')
    trs = "".join(
        f"<tr><td>{_e(_ts(a['raised'], '%Y-%m-%d %H:%M'))}</td><td>{_badge(a.get('severity', ''), SEVERITY_COLORS)}</td>"
        f"<td>{_e(a.get('title') or a.get('metric_name') or a['alert_id'])}</td>"
        f"<td>{_e(_dur(a['ack_seconds']) if a['ack_seconds'] is not None else '-')}</td>"
        f"<td>{_e(_dur(a['resolve_seconds']) if a['resolve_seconds'] is not None else 'open')}</td></tr>"
        for a in reversed(rows)
    )
    table = ('<div class="tablewrap"><table><thead><tr><th>raised (UTC)</th><th>severity</th><th>alert</th>'
             f'<th>ack after</th><th>resolved after</th></tr></thead><tbody>{trs}</tbody></table></div>')
    return "".join(out) + legend + table


def _dur(s: float | None) -> str:
    if s is None:
        return ""
    s = float(s)
    if s < 90:
        return f"{s:.0f}s"
    if s < 5400:
        return f"{s / 60:.0f}m"
    if s < 172800:
        return f"{s / 3600:.1f}h"
    return f"{s / 86400:.1f}d"


def _badge(status: str, colors: dict[str, str]) -> str:
    c = colors.get(str(status).lower(), "#6b7280")
    return f'<span class="badge" style="background:{c}">{_e(status)}</span>'


def _summary(panel: FFPanelDTO) -> str:
    skip = {"now"}
    items = []
    for k, v in panel.summary.items():
        if k in skip or v in (None, "", [], {}):
            continue
        if isinstance(v, float):
            v = _fmt(v)
        elif isinstance(v, list):
            v = ", ".join(str(x) for x in v)
        items.append(f"<li>{_e(k.replace('_', ' '))}: <b>{_e(v)}</b></li>")
    return f'<ul class="summary">{"".join(items)}</ul>' if items else ""


def render_panel(panel: FFPanelDTO) -> str:
    parts = [f'<section class="panel" id="panel-{_e(panel.key)}" data-panel="{_e(panel.key)}" '
             f'data-has-data="{"true" if panel.has_data else "false"}"><h2>{_e(panel.title)}</h2>']
    if panel.source:
        parts.append(f'<p class="src">source: {_e(panel.source)}</p>')
    parts.append(_summary(panel))
    if panel.has_data:
        if panel.kind == "timeline":
            parts.append(render_timeline(panel))
        elif panel.kind == "bar" and panel.key == "features":
            parts.append(render_hbar_chart(panel))
        elif panel.kind == "bar":
            parts.append(render_bar_chart(panel))
        else:
            parts.append(render_line_chart(panel, time_axis=panel.kind != "line_index"))
    else:
        parts.append(f'<p class="nodata">no data: {_e(panel.reason)}</p>')
    if panel.key == "health" and panel.rows:
        trs = "".join(f"<tr><td>{_e(r['component'])}</td><td>{_badge(r['status'], STATUS_COLORS)}</td>"
                      f"<td>{_e(r.get('reason', ''))}</td></tr>" for r in panel.rows)
        parts.append('<div class="tablewrap"><table><thead><tr><th>component</th><th>status</th><th>reason</th></tr>'
                     f'</thead><tbody>{trs}</tbody></table></div>')
    if panel.items:
        parts.append('<ul class="items">' + "".join(f"<li>{_e(i)}</li>" for i in panel.items) + "</ul>")
    elif panel.key == "bi" and panel.has_data:
        parts.append('<p class="src">the latest BI run lists no insights (no rule fired)</p>')
    parts.append("</section>")
    return "".join(parts)


def ff_render_dashboard(data: FFDashboardDataDTO, title: str = "FF analytics dashboard") -> str:
    """The whole HTML document."""
    if not isinstance(data, FFDashboardDataDTO):
        raise TypeError(f"data: expected FFDashboardDataDTO, got {type(data).__name__}")
    rng = f"{data.start or 'first record'} \u2192 {data.end or 'last record'}"
    read = sum(data.records_read.values())
    head = (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<link rel="icon" href="data:,">'
        f"<title>{_e(title)}</title><style>{_CSS}</style></head><body>"
        f"<header><h1>{_e(title)}</h1><p>generated {_e(data.generated_at)} \u00b7 store {_e(data.analytics_path)} "
        f"\u00b7 range {_e(rng)} \u00b7 {read} records read"
        + (f" \u00b7 {data.unparseable_lines} unparseable lines skipped" if data.unparseable_lines else "")
        + "</p></header><main>"
    )
    body = "".join(render_panel(p) for p in data.panels)
    foot = ("</main><footer>Static file: no scripts, no network requests. Hover a point for its value. "
            "Times are UTC.</footer></body></html>\n")
    return head + body + foot
