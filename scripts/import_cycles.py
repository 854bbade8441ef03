#!/usr/bin/env python3
"""Find import circles between the modules of a Rust source folder.

Usage: scripts/import_cycles.py FOLDER [--with-tests] [--crate-root DIR]

Each .rs file under FOLDER is one module (`src/tui/app.rs` is `crate::tui::app`,
`src/a/mod.rs` is `crate::a`). Module A depends on module B when A names B, or an item in
B, in a `use` declaration (`crate::…`, `super::…`, `self::…`, or a child module by name) or
in a path in its code (`crate::b::f()`, `super::b::T`); a parent naming its own child module as
a whole (`pub use child as alias;`) declares it and is not counted. Dependencies on modules
outside FOLDER are left out, so `src/tui` reports circles among the files under src/tui only, and
`src` reports every circle in the crate (a parent that re-exports a child which uses the
parent counts there). Code in `#[cfg(test)]` modules is left out unless --with-tests.

Prints each circle (a strongly connected group of modules) with the dependencies that tie
it, each with the first line that makes it; exits 1 when there is at least one circle, 0
when there is none, 2 on a usage error.
"""

import argparse
import os
import re
import sys
from collections import defaultdict

IDENT = r"[A-Za-z_][A-Za-z0-9_]*"
NOT_LOCAL = {"std", "core", "alloc"}


def blank_comments_and_strings(src):
    """The source with comments and string/char literals replaced by spaces (newlines
    kept), so that braces, `use` and paths are only found in code."""
    out = list(src)
    i, n = 0, len(src)

    def blank(a, b):
        for k in range(a, b):
            if out[k] != "\n":
                out[k] = " "

    while i < n:
        c = src[i]
        if src.startswith("//", i):
            j = src.find("\n", i)
            j = n if j < 0 else j
            blank(i, j)
            i = j
        elif src.startswith("/*", i):
            depth, j = 1, i + 2
            while j < n and depth:
                if src.startswith("/*", j):
                    depth, j = depth + 1, j + 2
                elif src.startswith("*/", j):
                    depth, j = depth - 1, j + 2
                else:
                    j += 1
            blank(i, j)
            i = j
        elif (m := re.compile(r'b?r(#*)"').match(src, i)) and (i == 0 or not re.match(r"[A-Za-z0-9_]", src[i - 1])):
            end = '"' + m.group(1)
            j = src.find(end, m.end())
            j = n if j < 0 else j + len(end)
            blank(i, j)
            i = j
        elif c == '"' or (c == "b" and src.startswith('b"', i) and (i == 0 or not re.match(r"[A-Za-z0-9_]", src[i - 1]))):
            j = i + (2 if c == "b" else 1)
            while j < n and src[j] != '"':
                j += 2 if src[j] == "\\" else 1
            blank(i, j + 1)
            i = j + 1
        elif c == "'":
            m = re.compile(r"'(\\(x[0-9a-fA-F]{2}|u\{[0-9a-fA-F]{1,6}\}|.)|[^\\'])'").match(src, i)
            if m:
                blank(i, m.end())
                i = m.end()
            else:
                i += 1  # a lifetime or label
        else:
            i += 1
    return "".join(out)


def matching_brace(code, open_at):
    depth = 0
    for k in range(open_at, len(code)):
        if code[k] == "{":
            depth += 1
        elif code[k] == "}":
            depth -= 1
            if depth == 0:
                return k
    return len(code) - 1


TEST_MOD = re.compile(r"#\s*\[\s*cfg\s*\(\s*test\s*\)\s*\](?:\s*#\s*\[[^\]]*\])*\s*(?:pub(?:\([^)]*\))?\s+)?mod\s+(" + IDENT + r")\s*([{;])")
INLINE_MOD = re.compile(r"\b(?:pub(?:\([^)]*\))?\s+)?mod\s+(" + IDENT + r")\s*\{")


def drop_test_modules(code):
    """Blank `#[cfg(test)] mod x { … }`; return the code and the names of out-of-line
    test modules (`#[cfg(test)] mod x;`)."""
    test_files = set()
    while True:
        m = TEST_MOD.search(code)
        if not m:
            return code, test_files
        if m.group(2) == ";":
            test_files.add(m.group(1))
            end = m.end()
        else:
            end = matching_brace(code, m.end() - 1) + 1
        code = code[: m.start()] + re.sub(r"[^\n]", " ", code[m.start() : end]) + code[end:]


def expand_use_tree(text):
    """`a::{b, c::{d, e as f}, self}` → [['a','b'], ['a','c','d'], ['a','c','e'], ['a']]."""
    tokens = re.findall(IDENT + r"|::|[{},*]", text)
    pos = 0

    def tree(prefix):
        nonlocal pos
        paths, path = [], list(prefix)
        while pos < len(tokens):
            t = tokens[pos]
            if t == "{":
                pos += 1
                while pos < len(tokens) and tokens[pos] != "}":
                    paths.extend(tree(path))
                    if pos < len(tokens) and tokens[pos] == ",":
                        pos += 1
                pos += 1
                return paths
            if t in (",", "}"):
                break
            if t == "as":
                pos += 2
                continue
            if t == "self" and path and path != ["self"]:
                pos += 1
                continue
            if t not in ("::", "*"):
                path.append(t)
            pos += 1
        paths.append(path)
        return paths

    return tree([])


class Module:
    def __init__(self, path, file, names):
        self.path, self.file, self.names = path, file, tuple(names)
        self.code = ""
        self.inline = []  # (start, end, name) of inline non-test modules


def module_names(root, file):
    rel = os.path.relpath(file, root)[:-3].split(os.sep)
    if rel[-1] == "mod":
        rel = rel[:-1]
    if rel in (["lib"], ["main"]):
        rel = []
    return rel


def find_crate_root(folder):
    d = os.path.abspath(folder)
    while True:
        if os.path.exists(os.path.join(d, "lib.rs")) or os.path.exists(os.path.join(d, "main.rs")):
            return d
        parent = os.path.dirname(d)
        if parent == d:
            return None
        d = parent


def load(folder, root, with_tests):
    modules = {}
    test_only = set()
    for dirpath, _, files in os.walk(folder):
        for f in sorted(files):
            if not f.endswith(".rs"):
                continue
            file = os.path.join(dirpath, f)
            names = module_names(root, file)
            if os.path.abspath(file) == os.path.join(root, "main.rs"):
                continue  # the binary is its own crate
            m = Module(os.path.relpath(file), file, names)
            with open(file, encoding="utf-8", errors="replace") as fh:
                code = blank_comments_and_strings(fh.read())
            if not with_tests:
                code, tests = drop_test_modules(code)
                test_only.update(m.names + (t,) for t in tests)
            m.code = code
            for im in INLINE_MOD.finditer(code):
                m.inline.append((im.end() - 1, matching_brace(code, im.end() - 1), im.group(1)))
            modules[m.names] = m
    for names in list(modules):
        if any(names[: len(t)] == t for t in test_only):
            del modules[names]
    return modules


def scope_at(m, pos):
    """The full module path (file module plus enclosing inline modules) at `pos`."""
    inner = [name for (a, b, name) in sorted(m.inline) if a < pos < b]
    return list(m.names) + inner


def resolve(segments, scope, known_children):
    """Absolute module path segments for a path written in `scope`, or None (extern crate,
    std, a local item)."""
    if not segments:
        return None
    head = segments[0]
    if head == "crate":
        return segments[1:]
    if head in ("super", "self"):
        base = list(scope)
        rest = list(segments)
        while rest and rest[0] in ("super", "self"):
            if rest.pop(0) == "super":
                if not base:
                    return None
                base.pop()
        return base + rest
    if head in NOT_LOCAL:
        return None
    if tuple(scope) + (head,) in known_children:
        return list(scope) + list(segments)
    return None


def owner(abs_path, all_modules):
    """The longest known module prefix of an absolute path."""
    for k in range(len(abs_path), -1, -1):
        if tuple(abs_path[:k]) in all_modules:
            return tuple(abs_path[:k])
    return None


USE = re.compile(r"\buse\s+([^;]*);")
PATH = re.compile(r"(?<![A-Za-z0-9_:])((?:crate|super|self)(?:\s*::\s*" + IDENT + r")+)")


def dependencies(m, crate_modules):
    """{target module: first (line number, line text)} for module m."""
    deps = {}
    text_lines = None

    def add(target, pos):
        nonlocal text_lines
        if target is None or target == m.names or target in deps:
            return
        if text_lines is None:
            with open(m.file, encoding="utf-8", errors="replace") as fh:
                text_lines = fh.read().split("\n")
        line = m.code.count("\n", 0, pos)
        deps[target] = (line + 1, text_lines[line].strip() if line < len(text_lines) else "")

    def record(segments, pos):
        scope = scope_at(m, pos)
        absolute = resolve(segments, scope, crate_modules)
        if absolute is None:
            return
        target = owner(absolute, crate_modules)
        if target is None or target == m.names:
            return
        # Naming one's own child module as a whole (`pub use child as alias;`) only
        # declares it, like `mod child;`: not a dependency on what is inside.
        if tuple(absolute) == target and target[:-1] == m.names:
            return
        add(target, pos)

    for u in USE.finditer(m.code):
        if re.match(r"\s*::", u.group(1)):
            continue
        for segments in expand_use_tree(u.group(1)):
            record(segments, u.start())
    for p in PATH.finditer(m.code):
        record([s.strip() for s in p.group(1).split("::")], p.start())
    return deps


def strongly_connected(nodes, edges):
    index, low, on, stack, out = {}, {}, set(), [], []
    counter = [0]

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
            group = []
            while True:
                w = stack.pop()
                on.discard(w)
                group.append(w)
                if w == v:
                    break
            out.append(sorted(group))

    sys.setrecursionlimit(10000)
    for v in sorted(nodes):
        if v not in index:
            visit(v)
    return out


def shortest_cycle(group, edges):
    """A shortest circle through the first module of the group (breadth-first)."""
    start = group[0]
    members = set(group)
    prev = {start: None}
    queue = [start]
    while queue:
        v = queue.pop(0)
        for w in sorted(edges.get(v, ())):
            if w not in members:
                continue
            if w == start:
                path = [v]
                while prev[path[-1]] is not None:
                    path.append(prev[path[-1]])
                return list(reversed(path)) + [start]
            if w not in prev:
                prev[w] = v
                queue.append(w)
    return [start]


def name(names):
    return "crate" + "".join("::" + s for s in names)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("folder")
    ap.add_argument("--with-tests", action="store_true", help="count #[cfg(test)] modules too")
    ap.add_argument("--crate-root", help="the folder holding lib.rs/main.rs (found upwards by default)")
    args = ap.parse_args()
    if not os.path.isdir(args.folder):
        print(f"import_cycles: {args.folder} is not a folder", file=sys.stderr)
        return 2
    root = os.path.abspath(args.crate_root or find_crate_root(args.folder) or "")
    if not os.path.isdir(root):
        print("import_cycles: no lib.rs or main.rs above the folder (give --crate-root)", file=sys.stderr)
        return 2
    # Every module of the crate, to resolve paths; the folder's, to report.
    crate = load(root, root, args.with_tests)
    inside = {k for k, m in crate.items() if os.path.abspath(m.file).startswith(os.path.abspath(args.folder) + os.sep)}
    edges = defaultdict(dict)
    for k in inside:
        for target, where in dependencies(crate[k], crate).items():
            if target in inside:
                edges[k][target] = where
    groups = [g for g in strongly_connected(inside, edges) if len(g) > 1]
    print(f"{len(inside)} modules under {args.folder}, {sum(len(e) for e in edges.values())} dependencies between them")
    for g in sorted(groups, key=lambda g: (-len(g), g)):
        print(f"\ncircle of {len(g)} modules: {', '.join(name(x) for x in g)}")
        cycle = shortest_cycle(g, edges)
        print("  shortest: " + " -> ".join(name(x) for x in cycle))
        for a in g:
            for b in sorted(edges.get(a, ())):
                if b in g:
                    line, text = edges[a][b]
                    print(f"  {name(a)} -> {name(b)}    {crate[a].path}:{line}: {text}")
    print(f"\n{len(groups)} circle(s)")
    return 1 if groups else 0


if __name__ == "__main__":
    sys.exit(main())
