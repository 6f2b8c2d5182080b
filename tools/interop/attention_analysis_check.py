"""Reference numbers for qkv's attention analyses (src/interpret/): rollout, attention flow and
per-head statistics, computed with NumPy and networkx on small fixed cases.

Run from the repository root:

    python3 -m venv /work/venv-viz && /work/venv-viz/bin/pip install numpy networkx
    /work/venv-viz/bin/python tools/interop/attention_analysis_check.py [--write-fixture PATH]

It prints one line per case and quantity with the largest difference between its two ways of
computing each (rollout: the matrix product against networkx's path sums over the layered graph;
flow: networkx's preflow-push against its Edmonds-Karp), and writes the inputs and outputs to
test/fixtures/interpret/attention-analysis.json (default path), which test/interpret/analysis.test.ts
compares with attentionRollout, attentionFlow and headStats within 1e-9.

Conventions (docs/interpretability.md), as in Abnar & Zuidema's reference code:
- each layer's head-averaged weights W become A = rownorm(W + I) (a zero row becomes the
  identity row);
- rollout R = A_L ... A_1;
- flow: nodes (l, i) for l = 0..L, edges (l, i) -> (l - 1, j) of capacity A_l[i, j];
  F[i, j] = max-flow value from (L, i) to (0, j), rows divided by their sums;
- head statistics over rows that are not all zero, query i at key position i + S - L.
"""
import argparse
import json
import sys

import networkx as nx
import numpy as np
from networkx.algorithms.flow import edmonds_karp, preflow_push


def residual(w):
    a = w + np.eye(w.shape[0])
    s = a.sum(axis=1, keepdims=True)
    return a / s


def rollout(layers):
    r = residual(layers[0])
    for w in layers[1:]:
        r = residual(w) @ r
    return r


def flow_graph(layers):
    n = layers[0].shape[0]
    g = nx.DiGraph()
    for l, w in enumerate(layers):
        a = residual(w)
        for i in range(n):
            for j in range(n):
                if a[i, j] > 0:
                    g.add_edge((l + 1, i), (l, j), capacity=float(a[i, j]))
    return g


def flow(layers, func=preflow_push, normalize=True):
    n, L = layers[0].shape[0], len(layers)
    g = flow_graph(layers)
    f = np.zeros((n, n))
    for i in range(n):
        for j in range(n):
            f[i, j] = nx.maximum_flow_value(g, (L, i), (0, j), flow_func=func)
        if normalize and f[i].sum() > 0:
            f[i] /= f[i].sum()
    return f


def rollout_by_paths(layers):
    """Sum over all paths of the product of capacities: the rollout, computed on the graph."""
    n, L = layers[0].shape[0], len(layers)
    g = flow_graph(layers)
    r = np.zeros((n, n))
    for i in range(n):
        # dynamic programming down the layers
        mass = {(L, i): 1.0}
        for l in range(L, 0, -1):
            nxt = {}
            for (ll, k), m in mass.items():
                for _, (l2, j), d in g.out_edges((ll, k), data=True):
                    nxt[(l2, j)] = nxt.get((l2, j), 0.0) + m * d["capacity"]
            mass = nxt
        for (_, j), m in mass.items():
            r[i, j] = m
    return r


def head_stats(w, cross=False):
    B, H, L, S = w.shape
    out = []
    for h in range(H):
        acc = dict(entropy=0.0, meanDistance=0.0, self=0.0, previous=0.0, next=0.0, first=0.0, maxWeight=0.0)
        rows = 0
        for b in range(B):
            for i in range(L):
                row = w[b, h, i]
                if not (row > 0).any():
                    continue
                rows += 1
                p = i + S - L
                pos = row[row > 0]
                acc["entropy"] += float(-(pos * np.log(pos)).sum())
                acc["meanDistance"] += float((row * np.abs(p - np.arange(S))).sum())
                acc["maxWeight"] += float(row.max())
                acc["first"] += float(row[0])
                if 0 <= p < S:
                    acc["self"] += float(row[p])
                if 0 <= p - 1 < S:
                    acc["previous"] += float(row[p - 1])
                if 0 <= p + 1 < S:
                    acc["next"] += float(row[p + 1])
        n = max(rows, 1)
        s = {k: v / n for k, v in acc.items()}
        if cross:
            for k in ("meanDistance", "self", "previous", "next"):
                s[k] = None
        s["head"] = h
        out.append(s)
    return out


def softmax_rows(x, mask=None):
    if mask is not None:
        x = np.where(mask, -np.inf, x)
    m = np.max(x, axis=-1, keepdims=True)
    m = np.where(np.isfinite(m), m, 0)
    e = np.exp(x - m)
    s = e.sum(axis=-1, keepdims=True)
    return np.divide(e, s, out=np.zeros_like(e), where=s > 0)


def cases():
    rng = np.random.default_rng(20240611)
    out = []
    for name, n, L, causal in [("random-4x2", 4, 2, False), ("random-5x3", 5, 3, False), ("causal-6x2", 6, 2, True), ("single-3x1", 3, 1, False)]:
        mask = np.triu(np.ones((n, n), dtype=bool), 1) if causal else None
        layers = [softmax_rows(rng.normal(scale=1.5, size=(n, n)), mask) for _ in range(L)]
        out.append(dict(name=name, n=n, layers=layers))
    # a fully masked query row (zero weights) in the first layer
    layers = [softmax_rows(rng.normal(size=(4, 4))) for _ in range(2)]
    layers[0][2] = 0.0
    out.append(dict(name="masked-row-4x2", n=4, layers=layers))
    return out


def stats_cases():
    rng = np.random.default_rng(7)
    self_w = softmax_rows(rng.normal(scale=2.0, size=(2, 3, 5, 5)), np.triu(np.ones((5, 5), dtype=bool), 1))
    cross_w = softmax_rows(rng.normal(size=(1, 2, 3, 6)))
    cached = softmax_rows(rng.normal(size=(1, 2, 2, 5)))  # 2 new rows after 3 cached keys
    masked = softmax_rows(rng.normal(size=(1, 2, 4, 4)))
    masked[0, :, 1] = 0.0
    return [
        dict(name="causal-self", cross=False, weights=self_w),
        dict(name="cross", cross=True, weights=cross_w),
        dict(name="cached-rows", cross=False, weights=cached),
        dict(name="masked-row", cross=False, weights=masked),
    ]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--write-fixture", default="test/fixtures/interpret/attention-analysis.json")
    args = ap.parse_args()
    worst = 0.0
    fixture = dict(source="tools/interop/attention_analysis_check.py (numpy %s, networkx %s)" % (np.__version__, nx.__version__), rollout=[], stats=[])
    for c in cases():
        layers = c["layers"]
        r = rollout(layers)
        r2 = rollout_by_paths(layers)
        f = flow(layers)
        f2 = flow(layers, func=edmonds_karp)
        raw = flow(layers, normalize=False)
        d1, d2 = float(np.abs(r - r2).max()), float(np.abs(f - f2).max())
        worst = max(worst, d1, d2)
        print("%-16s rollout: matrix product vs path sums %.1e; flow: preflow-push vs Edmonds-Karp %.1e" % (c["name"], d1, d2))
        fixture["rollout"].append(dict(name=c["name"], n=c["n"], layers=[w.ravel().tolist() for w in layers],
                                       rollout=r.ravel().tolist(), flow=f.ravel().tolist(), flowRaw=raw.ravel().tolist()))
    for c in stats_cases():
        w = c["weights"]
        fixture["stats"].append(dict(name=c["name"], cross=c["cross"], shape=list(w.shape), weights=w.ravel().tolist(), stats=head_stats(w, c["cross"])))
        print("%-16s head statistics of [%s]" % (c["name"], ", ".join(map(str, w.shape))))
    with open(args.write_fixture, "w") as fh:
        json.dump(fixture, fh, indent=1)
        fh.write("\n")
    print("wrote %s" % args.write_fixture)
    if worst > 1e-9:
        print("FAIL: the two reference computations differ by %.1e" % worst)
        sys.exit(1)


if __name__ == "__main__":
    main()
