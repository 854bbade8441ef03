#!/usr/bin/env python3
"""Import circles between the modules under one source directory (default src/ingest).

Usage: scripts/import_cycles.py [-v] [DIR]   (e.g. src/ingest, src/tui)

Nodes are the module files (DIR.rs is the module root, named after DIR). An edge A -> B is a
`use` (or `pub use`) line of A, or a path in its code (`super::har::read_har(…)`), outside
comments and its `#[cfg(test)]` module, naming B through `super::`, `self::` or
`crate::<path>::`; the root's `pub use` re-exports of its public API are a facade, not a
dependency, and are left out. Prints each circle and exits 1 when there is one; prints the
edges with -v.
"""
import os
import re
import sys

args = [a for a in sys.argv[1:] if a != "-v"]
verbose = "-v" in sys.argv
base = (args[0] if args else "src/ingest").rstrip("/")
crate_root = "src"
root_name = os.path.relpath(base, crate_root).replace(os.sep, "::")


def module_of(path):
    rel = os.path.relpath(path, crate_root)[: -len(".rs")]
    return rel.replace(os.sep, "::")


files = [base + ".rs"] if os.path.exists(base + ".rs") else []
for d, _, fs in os.walk(base):
    files += [os.path.join(d, f) for f in fs if f.endswith(".rs")]
mods = {module_of(f): f for f in files}


def statements(text):
    """`use` statements (joined across lines) before the first `#[cfg(test)]`."""
    text = text.split("#[cfg(test)]")[0]
    for m in re.finditer(r"^\s*(pub(?:\([^)]*\))?\s+)?use\s+([^;]+);", text, re.M):
        yield bool(m.group(1)), re.sub(r"\s+", "", m.group(2))


def expand(path):
    """`a::{b, c::{d}}` -> ["a::b", "a::c::d"]."""
    m = re.match(r"^(.*?)\{(.*)\}$", path)
    if not m:
        return [path]
    head, body = m.groups()
    parts, depth, cur = [], 0, ""
    for ch in body:
        if ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
            continue
        depth += ch == "{"
        depth -= ch == "}"
        cur += ch
    parts.append(cur)
    return [q for p in parts if p for q in expand(head + p)]


def resolve(mod, path):
    segs = path.split("::")
    here = mod.split("::")
    # a module file `a/b.rs` is module a::b; `super` is its parent
    if segs[0] == "crate":
        full = segs[1:]
    elif segs[0] in ("super", "self"):
        cur = here[:]
        while segs and segs[0] in ("super", "self"):
            if segs.pop(0) == "super":
                cur = cur[:-1]
        full = cur + segs
    else:
        return None
    # the longest prefix that is a module of ours
    for n in range(len(full), 0, -1):
        cand = "::".join(full[:n])
        if cand in mods:
            return cand
    return None


def code_paths(text):
    """Paths in code (not in `use` lines or comments) before the first `#[cfg(test)]`."""
    text = text.split("#[cfg(test)]")[0]
    text = re.sub(r"//[^\n]*", "", text)
    text = re.sub(r"^\s*(pub(\([^)]*\))?\s+)?use\s+[^;]+;", "", text, flags=re.M)
    for m in re.finditer(r"\b(?:super|self|crate)(?:::\w+)+", text):
        yield m.group(0)


edges = {m: set() for m in mods}
for mod, f in mods.items():
    for p in code_paths(open(f, encoding="utf-8").read()):
        target = resolve(mod, p)
        if target and target != mod:
            edges[mod].add(target)
    for public, stmt in statements(open(f, encoding="utf-8").read()):
        if public and mod == root_name:
            continue
        for p in expand(stmt):
            target = resolve(mod, p)
            if target and target != mod:
                edges[mod].add(target)

if verbose:
    for m in sorted(edges):
        for t in sorted(edges[m]):
            print(f"{m} -> {t}")

# strongly connected components (Tarjan)
index, low, stack, on, sccs, counter = {}, {}, [], set(), [], [0]


def visit(v):
    index[v] = low[v] = counter[0]
    counter[0] += 1
    stack.append(v)
    on.add(v)
    for w in edges[v]:
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
        if len(comp) > 1:
            sccs.append(sorted(comp))


sys.setrecursionlimit(10000)
for v in sorted(edges):
    if v not in index:
        visit(v)
for c in sccs:
    print("circle:", " <-> ".join(c))
print(f"{len(mods)} modules, {sum(len(e) for e in edges.values())} edges, {len(sccs)} circles")
sys.exit(1 if sccs else 0)
