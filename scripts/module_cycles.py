#!/usr/bin/env python3
"""Module import cycles of a crate, for the rule that no module imports one that imports it back.

Usage: python3 scripts/module_cycles.py CRATE/src [DEPTH]

Reads every `crate::a::b` and `super::x` path in the crate's sources (comments left out),
groups modules by their first DEPTH path segments (default 1), and prints each cycle it
finds with its edges, or "no cycles". Run it for DEPTH 2 to 5 on every crate.
"""
import os, re, sys, itertools
root = sys.argv[1]  # crate src dir
depth = int(sys.argv[2]) if len(sys.argv) > 2 else 1
mods = {}
for dp, _, fs in os.walk(root):
    for f in fs:
        if not f.endswith('.rs'): continue
        p = os.path.join(dp, f)
        rel = os.path.relpath(p, root)[:-3].split(os.sep)
        if rel[-1] == 'mod': rel = rel[:-1]
        if rel == ['lib'] or rel == ['main']: rel = []
        mods[p] = rel
def key(path):
    return '::'.join(path[:depth]) if path else '<root>'
edges = {}
for p, rel in mods.items():
    src = '\n'.join(l for l in open(p).read().splitlines() if not l.lstrip().startswith('//'))
    me = key(rel)
    # crate:: paths, including grouped use
    for m in re.finditer(r'crate::([a-z_][a-z0-9_]*)(?:::([a-z_][a-z0-9_]*))?', src):
        tgt = [m.group(1)] + ([m.group(2)] if m.group(2) else [])
        k = key(tgt)
        if k != me: edges.setdefault(me, set()).add(k)
    # super:: paths from a file inside a folder
    for m in re.finditer(r'\b((?:super::)+)([a-z_][a-z0-9_]*)', src):
        ups = m.group(1).count('super')
        # a file's module is rel; `super` is its parent module
        parent = rel[:len(rel) - ups] if ups <= len(rel) else []
        tgt = parent + [m.group(2)]
        k = key(tgt)
        if k != me and depth > len(parent): edges.setdefault(me, set()).add(k)
# find cycles via Tarjan SCC
index = {}; low = {}; stack = []; on = set(); sccs = []; counter = [0]
def strong(v):
    index[v] = low[v] = counter[0]; counter[0] += 1; stack.append(v); on.add(v)
    for w in edges.get(v, ()):
        if w not in index: strong(w); low[v] = min(low[v], low[w])
        elif w in on: low[v] = min(low[v], index[w])
    if low[v] == index[v]:
        comp = []
        while True:
            w = stack.pop(); on.discard(w); comp.append(w)
            if w == v: break
        if len(comp) > 1: sccs.append(comp)
sys.setrecursionlimit(10000)
for v in list(edges):
    if v not in index: strong(v)
for c in sccs:
    print("cycle:", sorted(c))
    for a in sorted(c):
        print("   ", a, "->", sorted(x for x in edges.get(a, ()) if x in c))
if not sccs: print("no cycles")
