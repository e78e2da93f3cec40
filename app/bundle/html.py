"""The bundle's index.html: a static page that lists documents with tags and notes and opens originals.

No scripts, no external resources (a Content-Security-Policy forbids both), readable in any browser offline.
"""

from __future__ import annotations

from html import escape
from typing import Any
from urllib.parse import quote

_STYLE = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem;color:#1f2328;background:#fff}
h1{font-size:1.4rem;margin:0 0 .25rem}.meta{color:#656d76;margin:0 0 1.5rem}
table{border-collapse:collapse;width:100%}th,td{text-align:left;vertical-align:top;padding:.45rem .6rem;
border-bottom:1px solid #d0d7de}th{background:#f6f8fa;position:sticky;top:0}
.tag{display:inline-block;border-radius:9px;padding:0 .5rem;margin:0 .2rem .2rem 0;color:#fff;font-size:12px}
.note{margin:.2rem 0;padding:.3rem .5rem;background:#fff8c5;border-radius:4px}.note b{font-weight:600}
.warn{background:#fff1e5;border:1px solid #f0b37e;padding:.6rem 1rem;border-radius:6px;margin-bottom:1rem}
.dim{color:#656d76;font-size:12px}code{font-size:12px}
@media (prefers-color-scheme: dark){body{background:#0d1117;color:#e6edf3}th{background:#161b22}
td,th{border-color:#30363d}.note{background:#3b2f00}.warn{background:#3d1f00;border-color:#9e6a03}}
"""


def render_index(rows: list[dict[str, Any]], *, creator: str, scrubbed: bool, report: dict[str, Any]) -> str:
    out = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; img-src 'self'\">",
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>Dossier bundle — {len(rows)} documents</title><style>{_STYLE}</style></head><body>",
        f"<h1>{len(rows)} documents</h1>",
        f'<p class="meta">Bundle by {escape(creator)}{" — publication copy (scrubbed)" if scrubbed else ""}</p>',
    ]
    if scrubbed:
        out.append('<div class="warn"><b>Not removed by scrubbing:</b><ul>')
        out += [f"<li>{escape(w)}</li>" for w in report.get("warnings", [])]
        out.append("</ul></div>")
    out.append(
        "<table><thead><tr><th>Document</th><th>Type</th><th>Date</th><th>Tags</th><th>Review</th><th>Notes</th></tr></thead><tbody>"
    )
    for r in rows:
        title = escape(r["title"] or r["file_name"] or r["sha256"][:12])
        if r.get("original"):
            link = f'<a href="{quote(r["original"])}">{title}</a>'
        else:
            link = f'{title} <span class="dim">(original not included)</span>'
        text_link = f'<a class="dim" href="{quote("documents/" + r["sha256"] + "/text.txt")}">text</a>'
        tags = "".join(f'<span class="tag" style="background:#4b5563">{escape(t)}</span>' for t in r["tags"])
        notes = "".join(
            f'<div class="note"><b>{escape(n["author"])}</b>'
            f"{' (page ' + str(n['page']) + ')' if n.get('page') else ''}{' (' + escape(n['cell']) + ')' if n.get('cell') else ''}: "
            f"{escape(n['text'])}</div>"
            for n in r["notes"]
        )
        paths = "<br>".join(f"<code>{escape(p)}</code>" for p in r["paths"][:3])
        out.append(
            f'<tr><td>{link} · {text_link}<div class="dim">{paths}</div><div class="dim">sha256 {r["sha256"]}</div></td>'
            f"<td>{escape(r['type'] or '')}</td><td>{escape(r['date'] or '')}</td><td>{tags}</td>"
            f"<td>{escape(r['review_status'])}</td><td>{notes}</td></tr>"
        )
    out.append("</tbody></table></body></html>")
    return "\n".join(out)
