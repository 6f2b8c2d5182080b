"""Writes data/karate-club/karate-club.json: Zachary's karate club (Zachary 1977) in qkv's graph
format, from networkx's copy of the data (networkx.karate_club_graph).

Run from the repository root (networkx comes with torch in /work/venv-torch):

    /work/venv-torch/bin/python tools/data/karate_club.py [--out data/karate-club/karate-club.json]

34 members, 78 friendships (undirected, written once each, unweighted), labels the faction each
member joined after the club split ("Mr. Hi", the instructor, node 0; "Officer", the
administrator's, node 33). No node features: the models use one-hot node ids. The split is the
usual semi-supervised one: one labelled member per faction (nodes 0 and 33) for training, no
validation nodes, the 32 others for testing.
"""
import argparse
import json

import networkx as nx

CLASSES = ["Mr. Hi", "Officer"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="data/karate-club/karate-club.json")
    a = ap.parse_args()
    g = nx.karate_club_graph()
    nodes = sorted(g.nodes())
    assert nodes == list(range(34)), nodes
    edges = sorted((min(u, v), max(u, v)) for u, v in g.edges())
    assert len(edges) == 78 and len(set(edges)) == 78
    labels = [CLASSES.index(g.nodes[n]["club"]) for n in nodes]
    assert labels[0] == 0 and labels[33] == 1
    doc = {
        "format": "qkv-graph",
        "version": 1,
        "name": "karate-club",
        "source": "Zachary, W. W. (1977). An information flow model for conflict and fission in small groups. "
                  "Journal of Anthropological Research 33(4), 452-473; edges and factions as in networkx %s "
                  "karate_club_graph (unweighted); built by tools/data/karate_club.py" % nx.__version__,
        "nodes": ["member %d" % n for n in nodes],
        "classes": CLASSES,
        "labels": labels,
        "edges": [[u for u, _ in edges], [v for _, v in edges]],
        "split": {"train": [0, 33], "valid": [], "test": [n for n in nodes if n not in (0, 33)]},
    }
    with open(a.out, "w") as f:
        f.write("{\n" + ",\n".join("%s: %s" % (json.dumps(k), json.dumps(v)) for k, v in doc.items()) + "\n}\n")
    print("%s: %d nodes, %d edges, classes %s" % (a.out, len(nodes), len(edges), [labels.count(c) for c in range(2)]))


if __name__ == "__main__":
    main()
