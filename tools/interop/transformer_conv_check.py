"""Reference outputs and gradients for qkv's TransformerConv (src/nn/transformer-conv.ts), written
in plain PyTorch from PyTorch Geometric's TransformerConv (torch_geometric/nn/conv/transformer_conv.py:
the same parameter names, the same formula; torch_geometric itself is not needed).

Run from the repository root:

    /work/venv-torch/bin/python tools/interop/transformer_conv_check.py [--write-fixture PATH]

For a few layer configurations (heads, concat, beta, edge features, no skip, no bias) on one small
graph (a node without incoming edges, a repeated edge, a self-loop), it computes in float64 the
output, the attention coefficients, and the gradients of sum(output * weight) with respect to x,
the edge features and every parameter; it checks the gradients against torch.autograd.gradcheck
and writes everything to test/fixtures/graph/transformer-conv.json (default path), which
test/nn/transformer-conv.test.ts compares with qkv's layer (forward within 1e-12, gradients
within 1e-10).
"""
import argparse
import json
import math

import torch

torch.set_default_dtype(torch.float64)

# 0 -> 1, 2 -> 1, 3 -> 1, 1 -> 2, 4 -> 2, 4 -> 2 (repeated), 2 -> 2 (self-loop), 0 -> 3, 1 -> 4, 3 -> 0; node 5 has no incoming edge
SRC = [0, 2, 3, 1, 4, 4, 2, 0, 1, 3, 5]
DST = [1, 1, 1, 2, 2, 2, 2, 3, 4, 0, 4]
N, FIN = 6, 5

CASES = [
    dict(name="2 heads, concat", heads=2, out=3, concat=True, beta=False, edge_dim=None, root_weight=True, bias=True),
    dict(name="3 heads, mean, beta, edge features", heads=3, out=2, concat=False, beta=True, edge_dim=4, root_weight=True, bias=True),
    dict(name="2 heads, concat, beta, edge features, no bias", heads=2, out=2, concat=True, beta=True, edge_dim=3, root_weight=True, bias=False),
    dict(name="1 head, no skip", heads=1, out=3, concat=True, beta=False, edge_dim=None, root_weight=False, bias=True),
]


def make_params(c, g):
    H, C = c["heads"], c["out"]
    width = H * C if c["concat"] else C
    p = {}

    def lin(name, fin, fout, bias):
        p[name + ".weight"] = torch.randn(fout, fin, generator=g) * 0.5
        if bias:
            p[name + ".bias"] = torch.randn(fout, generator=g) * 0.5

    lin("lin_key", FIN, H * C, c["bias"])
    lin("lin_query", FIN, H * C, c["bias"])
    lin("lin_value", FIN, H * C, c["bias"])
    if c["edge_dim"] is not None:
        lin("lin_edge", c["edge_dim"], H * C, False)
    if c["root_weight"]:
        lin("lin_skip", FIN, width, c["bias"])
    if c["beta"] and c["root_weight"]:
        lin("lin_beta", 3 * width, 1, False)
    return p


def linear(p, name, x):
    y = x @ p[name + ".weight"].T
    return y + p[name + ".bias"] if name + ".bias" in p else y


def segment_softmax(s, index, n):
    """PyG's softmax(src, index, num_nodes): per target and head, max-subtracted."""
    mx = torch.full((n, s.shape[1]), -math.inf).scatter_reduce(0, index[:, None].expand_as(s), s, "amax", include_self=True)
    e = (s - mx[index]).exp()
    den = torch.zeros(n, s.shape[1]).index_add(0, index, e)
    return e / (den[index] + 1e-16)


def transformer_conv(c, p, x, edge_attr):
    H, C = c["heads"], c["out"]
    src, dst = torch.tensor(SRC), torch.tensor(DST)
    q = linear(p, "lin_query", x).view(-1, H, C)
    k = linear(p, "lin_key", x).view(-1, H, C)
    v = linear(p, "lin_value", x).view(-1, H, C)
    key_j, query_i, value_j = k[src], q[dst], v[src]
    if c["edge_dim"] is not None:
        e = linear(p, "lin_edge", edge_attr).view(-1, H, C)
        key_j = key_j + e
    alpha = (query_i * key_j).sum(-1) / math.sqrt(C)
    alpha = segment_softmax(alpha, dst, x.shape[0])
    msg = value_j
    if c["edge_dim"] is not None:
        msg = msg + e
    msg = msg * alpha.view(-1, H, 1)
    out = torch.zeros(x.shape[0], H, C).index_add(0, dst, msg)
    out = out.reshape(-1, H * C) if c["concat"] else out.mean(1)
    if c["root_weight"]:
        x_r = linear(p, "lin_skip", x)
        if c["beta"]:
            b = linear(p, "lin_beta", torch.cat([out, x_r, out - x_r], -1)).sigmoid()
            out = b * x_r + (1 - b) * out
        else:
            out = out + x_r
    return out, alpha


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--write-fixture", default="test/fixtures/graph/transformer-conv.json")
    a = ap.parse_args()
    g = torch.Generator().manual_seed(0)
    cases = []
    for c in CASES:
        p = make_params(c, g)
        x = torch.randn(N, FIN, generator=g)
        ea = torch.randn(len(SRC), c["edge_dim"], generator=g) if c["edge_dim"] is not None else None
        out, alpha = transformer_conv(c, p, x, ea)
        w = torch.randn(out.shape, generator=g)
        names = list(p)
        leaves = [x] + ([ea] if ea is not None else []) + [p[n] for n in names]
        for t in leaves:
            t.requires_grad_(True)

        def f(*ts):
            xx = ts[0]
            eaa = ts[1] if ea is not None else None
            pp = dict(zip(names, ts[(2 if ea is not None else 1):]))
            return (transformer_conv(c, pp, xx, eaa)[0] * w).sum()

        assert torch.autograd.gradcheck(f, leaves), c["name"]
        grads = torch.autograd.grad(f(*leaves), leaves)
        gx = grads[0]
        gea = grads[1] if ea is not None else None
        gp = dict(zip(names, grads[(2 if ea is not None else 1):]))
        flat = lambda t: [float(v) for v in t.detach().reshape(-1)]
        case = dict(
            name=c["name"],
            options=dict(heads=c["heads"], out=c["out"], concat=c["concat"], beta=c["beta"], edgeDim=c["edge_dim"], rootWeight=c["root_weight"], bias=c["bias"]),
            x=dict(shape=list(x.shape), data=flat(x)),
            edgeIndex=[SRC, DST],
            params={n: dict(shape=list(t.shape), data=flat(t)) for n, t in p.items()},
            weight=dict(shape=list(w.shape), data=flat(w)),
            output=dict(shape=list(out.shape), data=flat(out)),
            alpha=dict(shape=list(alpha.shape), data=flat(alpha)),
            grads=dict(x=flat(gx), params={n: flat(t) for n, t in gp.items()}),
        )
        if ea is not None:
            case["edgeAttr"] = dict(shape=list(ea.shape), data=flat(ea))
            case["grads"]["edgeAttr"] = flat(gea)
        cases.append(case)
        print("%-48s output %s, alpha %s, %d parameters: gradcheck ok" % (c["name"], list(out.shape), list(alpha.shape), len(p)))
    with open(a.write_fixture, "w") as fh:
        json.dump(dict(source="tools/interop/transformer_conv_check.py (torch %s)" % torch.__version__, cases=cases), fh)
        fh.write("\n")
    print("wrote", a.write_fixture)


if __name__ == "__main__":
    main()
