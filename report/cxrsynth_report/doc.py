"""The report as a list of sections of blocks, written both as index.html and report.md.
No timestamps or absolute paths, so the same inputs give the same bytes."""
import html

CSS = """
body { font-family: DejaVu Sans, Arial, sans-serif; max-width: 1150px; margin: 1.5em auto;
       padding: 0 1em; color: #1a1a1a; line-height: 1.4; }
h1 { border-bottom: 2px solid #444; padding-bottom: .2em; }
h2 { border-bottom: 1px solid #bbb; margin-top: 2em; }
figure { margin: 1em 0 2em 0; }
figure img { max-width: 100%; border: 1px solid #ddd; }
figcaption { font-size: .92em; color: #333; margin-top: .3em; }
table { border-collapse: collapse; margin: .8em 0; font-size: .9em; }
th, td { border: 1px solid #bbb; padding: .25em .55em; text-align: left; }
th { background: #eee; }
.missing { background: #fff4d6; border: 2px solid #e0a800; padding: .5em 1em; }
.ok { background: #e7f5e7; border: 1px solid #5a5; padding: .5em 1em; }
pre { background: #f6f6f6; padding: .6em; overflow-x: auto; font-size: .85em; }
code { font-size: .9em; }
nav ul { columns: 2; }
"""


class Section:
    def __init__(self, title, anchor):
        self.title = title
        self.anchor = anchor
        self.blocks = []

    def text(self, s):
        self.blocks.append(("text", s))

    def figure(self, relpath, caption):
        self.blocks.append(("figure", relpath, caption))

    def table(self, header, rows):
        self.blocks.append(("table", header, rows))

    def pre(self, s):
        self.blocks.append(("pre", s))

    def markdown(self, s):
        """Markdown included verbatim in report.md; pipe tables become HTML tables."""
        self.blocks.append(("markdown", s))

    def missing(self, items):
        self.blocks.append(("missing", items))


def _md_table(header, rows):
    esc = lambda c: str(c).replace("|", "\\|")
    lines = ["| " + " | ".join(esc(h) for h in header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(esc(c) for c in r) + " |" for r in rows]
    return "\n".join(lines)


def write_markdown(title, sections):
    out = [f"# {title}", ""]
    for s in sections:
        out += [f"## {s.title}", ""]
        for b in s.blocks:
            kind = b[0]
            if kind == "text":
                out += [b[1], ""]
            elif kind == "figure":
                out += [f"![{b[2]}]({b[1]})", "", f"*{b[2]}*", ""]
            elif kind == "table":
                out += [_md_table(b[1], b[2]), ""]
            elif kind == "pre":
                out += ["```", b[1].rstrip("\n"), "```", ""]
            elif kind == "markdown":
                out += [b[1].rstrip("\n"), ""]
            elif kind == "missing":
                out += [_md_table(["Panel", "File (relative to the run dir)", "Problem"], b[1]), ""]
    return "\n".join(out).rstrip("\n") + "\n"


def _html_table(header, rows):
    e = html.escape
    h = "".join(f"<th>{e(str(c))}</th>" for c in header)
    body = "".join("<tr>" + "".join(f"<td>{e(str(c))}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><thead><tr>{h}</tr></thead><tbody>{body}</tbody></table>"


def _split_pipe_row(line):
    cells, cur, i = [], "", 0
    s = line.strip()
    if s.startswith("|"):
        s = s[1:]
    if s.endswith("|") and not s.endswith("\\|"):
        s = s[:-1]
    while i < len(s):
        if s[i] == "\\" and i + 1 < len(s) and s[i + 1] == "|":
            cur += "|"
            i += 2
            continue
        if s[i] == "|":
            cells.append(cur.strip())
            cur = ""
        else:
            cur += s[i]
        i += 1
    cells.append(cur.strip())
    return cells


def _markdown_html(text):
    """A small Markdown subset: headings, pipe tables, bullet lists, paragraphs; anything
    else is shown as escaped text."""
    out, para, lines, i = [], [], text.splitlines(), 0

    def flush():
        if para:
            out.append("<p>" + html.escape(" ".join(para)) + "</p>")
            para.clear()

    while i < len(lines):
        line = lines[i]
        st = line.strip()
        if st.startswith("|"):
            flush()
            block = []
            while i < len(lines) and lines[i].strip().startswith("|"):
                block.append(_split_pipe_row(lines[i]))
                i += 1
            header, rows = block[0], block[1:]
            if rows and all(set(c) <= set("-: ") for c in rows[0]):
                rows = rows[1:]
            out.append(_html_table(header, rows))
            continue
        if st.startswith(("- ", "* ")):
            flush()
            items = []
            while i < len(lines) and lines[i].strip().startswith(("- ", "* ")):
                items.append(lines[i].strip()[2:])
                i += 1
            out.append("<ul>" + "".join(f"<li>{html.escape(x)}</li>" for x in items) + "</ul>")
            continue
        if st.startswith("#"):
            flush()
            level = min(6, len(st) - len(st.lstrip("#")) + 2)
            out.append(f"<h{level}>{html.escape(st.lstrip('#').strip())}</h{level}>")
        elif not st:
            flush()
        else:
            para.append(st)
        i += 1
    flush()
    return "\n".join(out)


def write_html(title, sections):
    e = html.escape
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{e(title)}</title>",
        f"<style>{CSS}</style></head><body>",
        f"<h1>{e(title)}</h1>",
        "<nav><ul>",
    ]
    parts += [f'<li><a href="#{s.anchor}">{e(s.title)}</a></li>' for s in sections]
    parts.append("</ul></nav>")
    for s in sections:
        parts.append(f'<h2 id="{s.anchor}">{e(s.title)}</h2>')
        for b in s.blocks:
            kind = b[0]
            if kind == "text":
                parts.append(f"<p>{e(b[1])}</p>")
            elif kind == "figure":
                parts.append(
                    f'<figure><img src="{e(b[1])}" alt="{e(b[2])}">'
                    f"<figcaption>{e(b[2])}</figcaption></figure>"
                )
            elif kind == "table":
                parts.append(_html_table(b[1], b[2]))
            elif kind == "pre":
                parts.append(f"<pre>{e(b[1])}</pre>")
            elif kind == "markdown":
                parts.append(_markdown_html(b[1]))
            elif kind == "missing":
                parts.append(
                    '<div class="missing">'
                    + _html_table(["Panel", "File (relative to the run dir)", "Problem"], b[1])
                    + "</div>"
                )
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"
