#!/usr/bin/env python3
"""Convert `tmux capture-pane -e -p` output (text with SGR escape sequences) into a standalone
HTML page that renders the terminal screen: 16/256/24-bit colours, bold, dim, italic,
underline, reverse, strike-through. Standard library only.

    ansi2html.py screen.ansi screen.html [--title T] [--cols N]
"""

import argparse
import html
import re

BASE16 = [
    "#1d1f21", "#cc6666", "#b5bd68", "#f0c674", "#81a2be", "#b294bb", "#8abeb7", "#c5c8c6",
    "#666666", "#ff7b7b", "#d7e38a", "#ffd98a", "#9cc4e4", "#d4b0dc", "#a3e0d8", "#ffffff",
]
DEFAULT_FG = "#d0d0d0"
DEFAULT_BG = "#16181a"


def xterm256(n):
    if n < 16:
        return BASE16[n]
    if n < 232:
        n -= 16
        steps = [0, 95, 135, 175, 215, 255]
        return "#%02x%02x%02x" % (steps[n // 36], steps[(n // 6) % 6], steps[n % 6])
    v = 8 + (n - 232) * 10
    return "#%02x%02x%02x" % (v, v, v)


class Style:
    def __init__(self):
        self.reset()

    def reset(self):
        self.fg = None
        self.bg = None
        self.bold = self.dim = self.italic = self.underline = self.reverse = self.strike = False

    def apply(self, params):
        codes = [int(p) if p.isdigit() else 0 for p in params.split(";")] if params else [0]
        i = 0
        while i < len(codes):
            c = codes[i]
            if c == 0:
                self.reset()
            elif c == 1:
                self.bold = True
            elif c == 2:
                self.dim = True
            elif c == 3:
                self.italic = True
            elif c == 4:
                self.underline = True
            elif c == 7:
                self.reverse = True
            elif c == 9:
                self.strike = True
            elif c == 22:
                self.bold = self.dim = False
            elif c == 23:
                self.italic = False
            elif c == 24:
                self.underline = False
            elif c == 27:
                self.reverse = False
            elif c == 29:
                self.strike = False
            elif 30 <= c <= 37:
                self.fg = BASE16[c - 30]
            elif 90 <= c <= 97:
                self.fg = BASE16[c - 90 + 8]
            elif 40 <= c <= 47:
                self.bg = BASE16[c - 40]
            elif 100 <= c <= 107:
                self.bg = BASE16[c - 100 + 8]
            elif c == 39:
                self.fg = None
            elif c == 49:
                self.bg = None
            elif c in (38, 48) and i + 1 < len(codes):
                if codes[i + 1] == 5 and i + 2 < len(codes):
                    col = xterm256(codes[i + 2])
                    i += 2
                elif codes[i + 1] == 2 and i + 4 < len(codes):
                    col = "#%02x%02x%02x" % tuple(codes[i + 2:i + 5])
                    i += 4
                else:
                    col = None
                if c == 38:
                    self.fg = col
                else:
                    self.bg = col
            i += 1

    def css(self):
        fg, bg = self.fg or DEFAULT_FG, self.bg or DEFAULT_BG
        if self.reverse:
            fg, bg = bg, fg
        parts = []
        if fg != DEFAULT_FG:
            parts.append("color:" + fg)
        if bg != DEFAULT_BG:
            parts.append("background:" + bg)
        if self.bold:
            parts.append("font-weight:bold")
        if self.dim:
            parts.append("opacity:.65")
        if self.italic:
            parts.append("font-style:italic")
        deco = [d for d, on in (("underline", self.underline), ("line-through", self.strike)) if on]
        if deco:
            parts.append("text-decoration:" + " ".join(deco))
        return ";".join(parts)


SEQ = re.compile(r"\x1b\[([0-9;]*)([A-Za-z])|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[()][A-Za-z0-9]|\x1b.")


def convert(text, cols):
    style = Style()
    out = []
    for line in text.split("\n"):
        pos = 0
        width = 0
        for m in SEQ.finditer(line):
            chunk = line[pos:m.start()]
            if chunk:
                out.append(span(chunk, style))
                width += len(chunk)
            if m.group(2) == "m":
                style.apply(m.group(1))
            pos = m.end()
        chunk = line[pos:]
        if chunk:
            out.append(span(chunk, style))
            width += len(chunk)
        if cols and width < cols:
            out.append(span(" " * (cols - width), style))
        out.append("\n")
    return "".join(out).rstrip("\n")


def span(text, style):
    css = style.css()
    t = html.escape(text)
    return '<span style="%s">%s</span>' % (css, t) if css else t


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("src")
    ap.add_argument("dst")
    ap.add_argument("--title", default="apiscope")
    ap.add_argument("--cols", type=int, default=0)
    a = ap.parse_args()
    with open(a.src, encoding="utf-8", errors="replace") as f:
        body = convert(f.read(), a.cols)
    page = """<!doctype html><html><head><meta charset="utf-8"><title>%s</title><style>
html,body{margin:0;background:%s}
pre{margin:0;padding:10px 12px;color:%s;background:%s;font:14px/1.25 'DejaVu Sans Mono','Liberation Mono',monospace;white-space:pre}
</style></head><body><pre>%s</pre></body></html>
""" % (html.escape(a.title), DEFAULT_BG, DEFAULT_FG, DEFAULT_BG, body)
    with open(a.dst, "w", encoding="utf-8") as f:
        f.write(page)


if __name__ == "__main__":
    main()
