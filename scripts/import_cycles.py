#!/usr/bin/env python3
"""Find import circles between the modules under one folder of a Rust crate.

    scripts/import_cycles.py src/tui          # exit 1 and list the circles, if any
    scripts/import_cycles.py src/ingest -v    # also print every edge

A module is one file: FOLDER.rs (or FOLDER/mod.rs) and every .rs file below FOLDER. Module A
depends on module B when A names a path into B: `use super::b::…`, `crate::x::b::…` (in a
`use` line or inline), or, for B a child A declares with `mod b;`, `b::…` (a parent using
its child). Declaring a child alone is no use of it. Inline `#[cfg(test)] mod tests { … }`
blocks are left out: a test module using its parent is not a circle. A circle is a strongly
connected group of two or more modules.
"""

import re
import sys
from pathlib import Path

PATH_RE = re.compile(r"\b((?:super::)+|crate::)((?:\{[^;]*?\}|[A-Za-z_][A-Za-z0-9_]*(?:::[A-Za-z_][A-Za-z0-9_]*)*(?:::\{[^;]*?\})?))")
MOD_RE = re.compile(r"^\s*(?:pub(?:\([^)]*\))?\s+)?mod\s+([A-Za-z_][A-Za-z0-9_]*)\s*;", re.M)
TESTS_RE = re.compile(r"#\[cfg\(test\)\]\s*mod\s+\w+\s*\{")


def module_path(src: Path, file: Path) -> tuple:
    """('tui', 'views', 'insight') for src/tui/views/insight.rs; mod.rs names its folder."""
    rel = file.relative_to(src).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "mod":
        parts.pop()
    return tuple(parts)


def strip(text: str) -> str:
    """Drop comments, string contents and inline test modules."""
    text = re.sub(r"//[^\n]*", "", text)
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    text = re.sub(r'"(?:\\.|[^"\\])*"', '""', text)
    m = TESTS_RE.search(text)
    while m:
        depth, i = 1, m.end()
        while i < len(text) and depth:
            depth += {"{": 1, "}": -1}.get(text[i], 0)
            i += 1
        text = text[: m.start()] + text[i:]
        m = TESTS_RE.search(text)
    return text


def expand(tail: str) -> list:
    """`a::{b, c::d}` → ['a::b', 'a::c::d'] (first level of braces is enough here)."""
    if "{" not in tail:
        return [tail]
    head, _, rest = tail.partition("{")
    inner = rest.rsplit("}", 1)[0]
    out, depth, cur = [], 0, ""
    for ch in inner:
        if ch == "," and depth == 0:
            out.append(cur)
            cur = ""
            continue
        depth += {"{": 1, "}": -1}.get(ch, 0)
        cur += ch
    out.append(cur)
    return [head + p.strip() for p in out if p.strip() and p.strip() != "self"] + ([head.rstrip(":")] if "self" in inner else [])


def resolve(me: tuple, is_dir_module: bool, prefix: str, tail: str) -> tuple:
    if prefix == "crate::":
        return tuple(p for p in tail.split("::") if p)
    ups = prefix.count("super")
    # `super` of a module file is its parent module
    base = list(me)
    for _ in range(ups):
        if base:
            base.pop()
    return tuple(base) + tuple(p for p in tail.split("::") if p)


def longest_module(path: tuple, modules: set):
    for n in range(len(path), 0, -1):
        if path[:n] in modules:
            return path[:n]
    return None


def sccs(nodes, edges):
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            out.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for v in sorted(nodes):
        if v not in index:
            visit(v)
    return out


def main(argv):
    verbose = "-v" in argv
    args = [a for a in argv if a != "-v"]
    if len(args) != 1:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    folder = Path(args[0]).resolve()
    src = folder
    while src.name != "src" and src.parent != src:
        src = src.parent
    if src.name != "src":
        print(f"{folder}: not inside a crate's src/ folder", file=sys.stderr)
        return 2
    files = sorted(folder.rglob("*.rs"))
    top = folder.with_suffix(".rs")
    if top.exists():
        files.insert(0, top)
    modules = {module_path(src, f): f for f in files}
    edges = {}
    for me, f in modules.items():
        text = strip(f.read_text(encoding="utf-8"))
        deps = set()
        for m in PATH_RE.finditer(text):
            for tail in expand(m.group(2)):
                target = longest_module(resolve(me, False, m.group(1), tail), set(modules))
                if target and target != me:
                    deps.add(target)
        for m in MOD_RE.finditer(text):
            child = me + (m.group(1),)
            # a relative path into the child (not `super::child::`, not `x::child::`)
            if child in modules and re.search(rf"(?<![\w:]){m.group(1)}::", text):
                deps.add(child)
        edges[me] = deps
    name = lambda m: "::".join(m)
    if verbose:
        for a in sorted(edges):
            for b in sorted(edges[a]):
                print(f"{name(a)} -> {name(b)}")
    circles = [c for c in sccs(set(modules), edges) if len(c) > 1]
    for c in circles:
        print("circle: " + " <-> ".join(name(m) for m in c))
        members = set(c)
        for a in c:
            for b in sorted(edges[a] & members):
                print(f"    {name(a)} -> {name(b)}")
    if not circles:
        print(f"no import circles among {len(modules)} modules under {args[0]}")
    return 1 if circles else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
