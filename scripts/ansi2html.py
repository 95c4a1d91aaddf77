#!/usr/bin/env python3
"""Turns a terminal capture with SGR colour codes (tmux capture-pane -e) into an HTML page.

Usage: ansi2html.py CAPTURE.txt OUT.html [--bg '#RRGGBB'] [--fg '#RRGGBB'] [--title T]

Handles what ratatui emits: bold, dim, italic, underline, reverse, the 16 ANSI colours,
256-colour and 24-bit colours, for foreground and background.
"""
import argparse
import html
import re

BASE16 = [
    "#000000", "#cd3131", "#0dbc79", "#e5e510", "#2472c8", "#bc3fbc", "#11a8cd", "#e5e5e5",
    "#666666", "#f14c4c", "#23d18b", "#f5f543", "#3b8eea", "#d670d6", "#29b8db", "#ffffff",
]


def xterm256(n):
    if n < 16:
        return BASE16[n]
    if n < 232:
        n -= 16
        steps = [0, 95, 135, 175, 215, 255]
        return "#%02x%02x%02x" % (steps[n // 36], steps[(n // 6) % 6], steps[n % 6])
    v = 8 + (n - 232) * 10
    return "#%02x%02x%02x" % (v, v, v)


class Pen:
    def __init__(self):
        self.reset()

    def reset(self):
        self.fg = None
        self.bg = None
        self.bold = self.dim = self.italic = self.underline = self.reverse = False

    def apply(self, params):
        codes = [int(p) if p else 0 for p in params.split(";")] if params else [0]
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
            elif c == 22:
                self.bold = self.dim = False
            elif c == 23:
                self.italic = False
            elif c == 24:
                self.underline = False
            elif c == 27:
                self.reverse = False
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
                    colour = xterm256(codes[i + 2])
                    i += 2
                elif codes[i + 1] == 2 and i + 4 < len(codes):
                    colour = "#%02x%02x%02x" % tuple(codes[i + 2:i + 5])
                    i += 4
                else:
                    colour = None
                if c == 38:
                    self.fg = colour
                else:
                    self.bg = colour
            i += 1

    def css(self, default_fg, default_bg):
        fg, bg = self.fg or default_fg, self.bg or default_bg
        if self.reverse:
            fg, bg = bg, fg
        style = []
        if fg != default_fg:
            style.append("color:" + fg)
        if bg != default_bg:
            style.append("background:" + bg)
        if self.bold:
            style.append("font-weight:bold")
        if self.dim:
            style.append("opacity:0.7")
        if self.italic:
            style.append("font-style:italic")
        if self.underline:
            style.append("text-decoration:underline")
        return ";".join(style)


SGR = re.compile(r"\x1b\[([0-9;]*)m")


def convert(text, fg, bg):
    pen = Pen()
    out = []
    for line in text.rstrip("\n").split("\n"):
        pos = 0
        parts = []
        for m in SGR.finditer(line):
            parts.append((pen.css(fg, bg), line[pos:m.start()]))
            pen.apply(m.group(1))
            pos = m.end()
        parts.append((pen.css(fg, bg), line[pos:]))
        row = "".join(
            ('<span style="%s">%s</span>' % (css, html.escape(t)) if css else html.escape(t))
            for css, t in parts
            if t
        )
        out.append(row)
    return "\n".join(out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("capture")
    ap.add_argument("out")
    ap.add_argument("--fg", default="#c8d3f5")
    ap.add_argument("--bg", default="#1b1d2b")
    ap.add_argument("--title", default="netpol-tui")
    a = ap.parse_args()
    with open(a.capture, encoding="utf-8") as f:
        body = convert(f.read(), a.fg, a.bg)
    page = f"""<!doctype html>
<html><head><meta charset="utf-8"><title>{html.escape(a.title)}</title>
<style>
html, body {{ margin: 0; background: {a.bg}; }}
pre {{ margin: 0; padding: 10px; color: {a.fg}; background: {a.bg};
      font-family: 'DejaVu Sans Mono', monospace; font-size: 14px; line-height: 17px; }}
</style></head>
<body><pre>{body}</pre></body></html>
"""
    with open(a.out, "w", encoding="utf-8") as f:
        f.write(page)


if __name__ == "__main__":
    main()
