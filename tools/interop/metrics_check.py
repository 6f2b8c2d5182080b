"""Text-metric check between qkv (TypeScript) and the reference Python packages; not run by the test suite.

Run from the repository root:

    python3 -m venv /tmp/mvenv && /tmp/mvenv/bin/pip install sacrebleu rouge-score
    /tmp/mvenv/bin/python tools/interop/metrics_check.py [--data DIR] [--write-fixture PATH]

BLEU: sacreBLEU's `corpus_bleu` and `sentence_bleu` (13a tokenizer and the other defaults, plus a
few option variants) against `corpusBleu` / `sentenceBleu` on the Spanish side of the
translation-en-es test split, with seeded perturbations as hypotheses (words dropped, shuffled,
truncated, case changed, another verse, the English source), and `Tokenizer13a` against
`tokenize13a` on strings that exercise each of its rules.

ROUGE: rouge-score's `RougeScorer(["rouge1", "rouge2", "rougeL"], use_stemmer=False)` against
`sentenceRouge` / `corpusRouge` on the summarization-debian test split, the synopsis as the
reference and as hypotheses the description's first sentence, its first 10 or 25 words, the whole
description and perturbed synopses. Where the `rouge_score` package cannot be installed, the check
uses `ReferenceRouge` below, a line-by-line transcription of rouge-score's algorithm (its
`tokenize.tokenize`, `_create_ngrams`, `_score_ngrams`, `_score_lcs`, `scoring.fmeasure`), and
says so; `--rouge-src DIR` adds DIR to the path for rouge-score's own source laid out as a
`rouge` package (the google-research repository's `rouge/` folder), which is then used and the
transcription checked against it. The lead-1 numbers are also set beside the dataset README's
baseline (its own first-sentence rule is only described there, so they may differ slightly).

The TypeScript side runs as `npx tsx tools/interop/metrics_ts.ts jobs.json results.json`.
Exit code 0 means every integer statistic and token string is identical and every score agrees
within 1e-9 (the scores are in 0..100; V8's Math.exp and Math.log may differ from the C library's
by one unit in the last place). With `--write-fixture PATH` it also writes the reference numbers
for test/metrics/*.test.ts (test/fixtures/metrics/metrics.json).
"""
import argparse
import collections
import json
import os
import random
import re
import subprocess
import sys
import tempfile

import sacrebleu
from sacrebleu.tokenizers.tokenizer_13a import Tokenizer13a

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TS = os.path.join(ROOT, "tools", "interop", "metrics_ts.ts")
TOL = 1e-9
ROUGE_TYPES = ["rouge1", "rouge2", "rougeL"]


# ---------------------------------------------------------------- reference ROUGE


class ReferenceRouge:
    """rouge-score 0.1.2 with the default tokenizer and use_stemmer=False, transcribed."""

    name = "transcription of rouge-score's algorithm (package not installed)"

    @staticmethod
    def tokenize(text):
        text = text.lower()
        text = re.sub(r"[^a-z0-9]+", " ", text)
        tokens = re.split(r"\s+", text)
        return [x for x in tokens if re.match(r"^[a-z0-9]+$", x)]

    @staticmethod
    def fmeasure(precision, recall):
        return 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0

    @classmethod
    def ngrams(cls, target, prediction, n):
        def create(tokens):
            return collections.Counter(tuple(tokens[i:i + n]) for i in range(len(tokens) - n + 1))

        t, p = create(target), create(prediction)
        inter = sum(min(t[g], p[g]) for g in t)
        precision = inter / max(sum(p.values()), 1)
        recall = inter / max(sum(t.values()), 1)
        return precision, recall, cls.fmeasure(precision, recall)

    @classmethod
    def lcs(cls, target, prediction):
        if not target or not prediction:
            return 0, 0, 0
        table = [[0] * (len(prediction) + 1) for _ in range(len(target) + 1)]
        for i in range(1, len(target) + 1):
            for j in range(1, len(prediction) + 1):
                if target[i - 1] == prediction[j - 1]:
                    table[i][j] = table[i - 1][j - 1] + 1
                else:
                    table[i][j] = max(table[i - 1][j], table[i][j - 1])
        length = table[-1][-1]
        precision = length / len(prediction)
        recall = length / len(target)
        return precision, recall, cls.fmeasure(precision, recall)

    def score(self, target, prediction):
        t, p = self.tokenize(target), self.tokenize(prediction)
        return {"rouge1": self.ngrams(t, p, 1), "rouge2": self.ngrams(t, p, 2), "rougeL": self.lcs(t, p)}


class PackageRouge:
    """The rouge-score package (or its source), answering like ReferenceRouge."""

    def __init__(self, module, name):
        self.scorer = module.RougeScorer(ROUGE_TYPES, use_stemmer=False)
        self.name = name

    def score(self, target, prediction):
        s = self.scorer.score(target, prediction)
        return {k: (s[k].precision, s[k].recall, s[k].fmeasure) for k in ROUGE_TYPES}


def load_package_rouge(src):
    if src:
        sys.path.insert(0, os.path.abspath(src))
    try:
        from rouge_score import rouge_scorer  # the PyPI package

        return PackageRouge(rouge_scorer, "rouge-score package")
    except ImportError:
        pass
    try:
        from rouge import rouge_scorer  # the google-research source layout

        return PackageRouge(rouge_scorer, f"rouge-score source ({src})")
    except ImportError:
        return None


# ---------------------------------------------------------------- data


def read_tsv(path):
    with open(path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    header = lines[0].split("\t")
    return [dict(zip(header, line.split("\t"))) for line in lines[1:] if line]


ABBREVIATIONS = {"e.g.", "i.e.", "etc.", "cf.", "vs.", "approx.", "incl.", "resp.", "esp.", "inc.", "ltd.", "co.",
                 "dr.", "mr.", "mrs.", "ms.", "st.", "no.", "vol.", "ver.", "fig.", "al."}


def lead_sentence(text):
    """The description's first sentence, following the rule the dataset README describes."""
    cut = text.find(" * ")
    head = text if cut < 0 else text[:cut]
    for m in re.finditer(r"[.!?](?= (?:[A-Z0-9\"'(\[]|\* ))", head):
        last_word = head[:m.end()].rsplit(" ", 1)[-1].lower()
        if last_word in ABBREVIATIONS:
            continue
        return head[:m.end()]
    return head


def drop_words(rng, line, p):
    words = line.split(" ")
    kept = [w for w in words if rng.random() >= p]
    return " ".join(kept)


def shuffle_words(rng, line):
    words = line.split(" ")
    rng.shuffle(words)
    return " ".join(words)


def repeat_words(rng, line):
    out = []
    for w in line.split(" "):
        out.append(w)
        if rng.random() < 0.3:
            out.append(w)
    return " ".join(out)


TOKENIZER_CASES = [
    "Hello, world.",
    "It costs $3.50, or 1,000.00 EUR.",
    "A 3-4 ratio; a well-known x-ray, 10-year-old.",
    "Say &quot;hi&quot; &amp; &lt;bye&gt; &apos;x&apos;",
    "&amp;quot; is not unescaped twice",
    "text <skipped> more<skipped>",
    "hyphen-\nated line\nbreak",
    "end.",
    "...",
    "a.b,c",
    "1.a a.1 1.1 a,1 1,a",
    "5.-3 -4 3-",
    "don't won't rock'n'roll",
    "N.Y.C. U.S.A. e.g. (i.e.) etc.",
    "{x} [y] ~z^ _u_ `v` |w| \\ @home #tag %pct +plus =eq ?q !e *s :c /s",
    "Über-große Straße — «bien» ¿qué? ¡sí!",
    "tabs\tand\u00a0nbsp\u2009thin\u3000ideographic",
    "x\x85y\ufeffz\x1cw",
    "  padded  ",
    "",
    "\u1e1f.\U0001F600,\U0001F600.1",
    "Y dijo Dios: Sea la luz: y fué la luz.",
]

BLEU_SENTENCE_EDGES = [
    ("", ["la casa"]),
    ("la casa", [""]),
    ("", [""]),
    ("...", ["la casa."]),
    ("la", ["la casa es azul"]),
    ("la casa azul", ["la casa azul"]),
    ("la casa azul", ["una casa roja", "la casa", "casa azul de la"]),
    ("the the the the the", ["the cat is on the mat"]),
    ("Y dijo Dios: Sea la luz: y fué la luz.", ["Y dijo Dios: Sea la luz: y fué la luz."]),
    ("y dijo dios: sea la luz", ["Y dijo Dios: Sea la luz: y fué la luz."]),
    ("It costs $3.50, or 1,000.00 EUR.", ["It costs $ 3.50 , or 1,000.00 EUR ."]),
    ("trailing spaces   \x85", ["trailing spaces"]),
]

ROUGE_EDGES = [
    ("", "library for parsing"),
    ("library for parsing", ""),
    ("", ""),
    ("!!! ???", "library"),
    ("Library for Parsing JSON", "library for parsing json"),
    ("json parsing library for", "library for parsing json"),
    ("the the the", "the cat the"),
    ("Python 3 bindings for libfoo-2.0", "python3 bindings for libfoo 2 0"),
    ("café naïve façade", "caf na ve fa ade"),
    ("\u0130stanbul \u212aelvin", "i stanbul kelvin"),
    ("GNOME_shell-extension v1.2.3", "gnome shell extension v1 2 3"),
]


# ---------------------------------------------------------------- jobs


def bleu_result(r):
    return {"score": r.score, "precisions": list(r.precisions), "bp": r.bp, "sysLen": r.sys_len, "refLen": r.ref_len,
            "counts": list(r.counts), "totals": list(r.totals)}


PY_OPTS = {"tokenize": "tokenize", "lowercase": "lowercase", "smoothMethod": "smooth_method",
           "smoothValue": "smooth_value", "effectiveOrder": "use_effective_order"}


def py_corpus_bleu(hyps, refs, opts):
    return bleu_result(sacrebleu.corpus_bleu(hyps, refs, **{PY_OPTS[k]: v for k, v in opts.items()}))


def py_sentence_bleu(hyp, refs, opts):
    return bleu_result(sacrebleu.sentence_bleu(hyp, refs, **{PY_OPTS[k]: v for k, v in opts.items()}))


def build_bleu(rows, seed):
    rng = random.Random(seed)
    es = [r["es"] for r in rows]
    en = [r["en"] for r in rows]
    other = [es[(i + 1 + rng.randrange(len(es) - 1)) % len(es)] for i in range(len(es))]
    hyp_sets = {
        "copy": list(es),
        "en-source": list(en),
        "drop10": [drop_words(rng, s, 0.1) for s in es],
        "drop30": [drop_words(rng, s, 0.3) for s in es],
        "shuffle": [shuffle_words(rng, s) for s in es],
        "other-verse": other,
        "first-half": [" ".join(s.split(" ")[: max(1, len(s.split(" ")) // 2)]) for s in es],
        "repeat": [repeat_words(rng, s) for s in es],
        "lowercased": [s.lower() for s in es],
    }
    second_ref = [drop_words(rng, s, 0.3) for s in es]
    # three-word hypotheses against four-word references: no 4-gram at all, brevity penalty < 1
    short_hyps = [" ".join(s.split(" ")[:3]) for s in es[:3]]
    short_refs = [" ".join(s.split(" ")[:4]) for s in es[:3]]
    corpus = []
    for name, hyps in hyp_sets.items():
        corpus.append({"name": name, "hyps": hyps, "refs": [es], "opts": {}})
    variants = [
        ("drop30 multi-ref", hyp_sets["drop30"], [es, second_ref], {}),
        ("lowercased, lowercase=True", hyp_sets["lowercased"], [es], {"lowercase": True}),
        ("shuffle, tokenize=none", hyp_sets["shuffle"], [es], {"tokenize": "none"}),
        ("first-half, smooth=floor", hyp_sets["first-half"], [es], {"smoothMethod": "floor"}),
        ("other-verse, smooth=add-k", hyp_sets["other-verse"], [es], {"smoothMethod": "add-k"}),
        ("other-verse, smooth=none", hyp_sets["other-verse"], [es], {"smoothMethod": "none"}),
        ("en-source, effective order", hyp_sets["en-source"], [es], {"effectiveOrder": True}),
        ("3 short lines (no 4-grams)", short_hyps, [short_refs], {}),
        ("3 short lines, effective order", short_hyps, [short_refs], {"effectiveOrder": True}),
    ]
    for name, hyps, refs, opts in variants:
        corpus.append({"name": name, "hyps": hyps, "refs": refs, "opts": opts})
    sentence = []
    for name in ["drop10", "shuffle", "other-verse", "first-half", "en-source"]:
        for h, r in zip(hyp_sets[name], es):
            sentence.append({"set": name, "hyp": h, "refs": [r], "opts": {}})
    for h, r1, r2 in zip(hyp_sets["drop30"], es, second_ref):
        sentence.append({"set": "drop30 multi-ref", "hyp": h, "refs": [r1, r2], "opts": {}})
    for h, refs in BLEU_SENTENCE_EDGES:
        sentence.append({"set": "edge cases", "hyp": h, "refs": refs, "opts": {}})
    return corpus, sentence


def build_rouge(rows, seed):
    rng = random.Random(seed)
    syn = [r["synopsis"] for r in rows]
    desc = [r["description"] for r in rows]
    sets = {
        "lead-1": [lead_sentence(d) for d in desc],
        "first 10 words": [" ".join(d.split(" ")[:10]) for d in desc],
        "first 25 words": [" ".join(d.split(" ")[:25]) for d in desc],
        "description": desc,
        "synopsis shuffled": [shuffle_words(rng, s) for s in syn],
        "synopsis drop30": [drop_words(rng, s, 0.3) for s in syn],
        "synopsis copy": list(syn),
    }
    return syn, sets


# ---------------------------------------------------------------- comparison


def run_ts(jobs):
    with tempfile.TemporaryDirectory() as d:
        jin, jout = os.path.join(d, "jobs.json"), os.path.join(d, "results.json")
        with open(jin, "w", encoding="utf-8") as f:
            json.dump(jobs, f, ensure_ascii=False)
        subprocess.run(["npx", "tsx", TS, jin, jout], cwd=ROOT, check=True)
        with open(jout, encoding="utf-8") as f:
            return json.load(f)


def bleu_diff(py, ts):
    """(score difference, whether the integer statistics match)."""
    same = all(py[k] == ts[k] for k in ("sysLen", "refLen", "counts", "totals"))
    d = max([abs(py["score"] - ts["score"]), abs(py["bp"] - ts["bp"])]
            + [abs(a - b) for a, b in zip(py["precisions"], ts["precisions"])])
    return d, same


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default="/work/shared/data", help="folder holding translation-en-es/ and summarization-debian/")
    ap.add_argument("--rouge-src", default=None, help="folder holding rouge-score's source as a `rouge` package")
    ap.add_argument("--write-fixture", default=None, help="also write the unit-test fixture JSON here")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    package = load_package_rouge(args.rouge_src)
    transcription = ReferenceRouge()
    rouge_ref = package or transcription
    print(f"sacrebleu {sacrebleu.__version__}; ROUGE reference: {rouge_ref.name}")

    tr = read_tsv(os.path.join(args.data, "translation-en-es", "test.tsv"))
    sm = read_tsv(os.path.join(args.data, "summarization-debian", "test.tsv"))
    bleu_corpus, bleu_sentence = build_bleu(tr, args.seed)
    syn, rouge_sets = build_rouge(sm, args.seed)
    rouge_pairs = [(h, r) for hyps in rouge_sets.values() for h, r in zip(hyps, syn)]
    rouge_pairs += ROUGE_EDGES

    jobs = {
        "bleuCorpus": [{"hyps": c["hyps"], "refs": c["refs"], "opts": c["opts"]} for c in bleu_corpus],
        "bleuSentence": [{"hyp": s["hyp"], "refs": s["refs"], "opts": s["opts"]} for s in bleu_sentence],
        "tokenize13a": TOKENIZER_CASES,
        "rougePairs": [{"hyp": h, "ref": r} for h, r in rouge_pairs],
        "rougeCorpus": [{"hyps": hyps, "refs": syn} for hyps in rouge_sets.values()],
    }
    ts = run_ts(jobs)
    ok = True

    tok = Tokenizer13a()
    tok_bad = [s for s, t in zip(TOKENIZER_CASES, ts["tokenize13a"]) if tok(s) != t]
    print(f"\n13a tokenizer: {len(TOKENIZER_CASES) - len(tok_bad)}/{len(TOKENIZER_CASES)} strings identical")
    for s in tok_bad:
        print(f"  DIFFERS {s!r}: sacrebleu {tok(s)!r}")
    ok &= not tok_bad

    print(f"\nBLEU, corpus ({len(tr)} verses of translation-en-es/test.tsv, reference: es)")
    print(f"  {'hypotheses':34s} {'sacreBLEU':>10s} {'qkv':>10s} {'|diff|':>9s}  stats")
    corpus_max = 0.0
    for c, t in zip(bleu_corpus, ts["bleuCorpus"]):
        p = py_corpus_bleu(c["hyps"], c["refs"], c["opts"])
        c["expected"] = p
        d, same = bleu_diff(p, t)
        corpus_max = max(corpus_max, d)
        ok &= same and d <= TOL
        print(f"  {c['name']:34s} {p['score']:10.4f} {t['score']:10.4f} {d:9.2e}  {'same' if same else 'DIFFER'}")

    print("\nBLEU, sentence level (sentence_bleu per verse)")
    by_set = collections.OrderedDict()
    for s, t in zip(bleu_sentence, ts["bleuSentence"]):
        p = py_sentence_bleu(s["hyp"], s["refs"], s["opts"])
        s["expected"] = p
        d, same = bleu_diff(p, t)
        agg = by_set.setdefault(s["set"], [0, 0.0, 0])
        agg[0] += 1
        agg[1] = max(agg[1], d)
        agg[2] += 0 if same else 1
    sentence_max = 0.0
    for name, (n, d, bad) in by_set.items():
        sentence_max = max(sentence_max, d)
        ok &= bad == 0 and d <= TOL
        print(f"  {name:22s} {n:5d} pairs  max |diff| {d:.2e}  stats differ: {bad}")

    print(f"\nROUGE per pair ({len(rouge_pairs)} pairs: summarization-debian/test.tsv, reference: synopsis; and edge cases)")
    worst = collections.defaultdict(float)
    transcription_worst = 0.0
    for (h, r), t in zip(rouge_pairs, ts["rougePairs"]):
        p = rouge_ref.score(r, h)
        if package:
            q = transcription.score(r, h)
            transcription_worst = max(transcription_worst, max(abs(a - b) for k in ROUGE_TYPES for a, b in zip(p[k], q[k])))
        for k in ROUGE_TYPES:
            tk = t[k]
            worst[k] = max(worst[k], max(abs(a - b) for a, b in zip(p[k], (tk["precision"], tk["recall"], tk["fmeasure"]))))
    for k in ROUGE_TYPES:
        ok &= worst[k] <= TOL
        print(f"  {k:7s} max |diff| of precision/recall/F1: {worst[k]:.2e}")
    if package:
        ok &= transcription_worst == 0.0
        print(f"  transcription in this script vs {package.name}: max |diff| {transcription_worst:.2e}")

    print("\nROUGE corpus (mean F1 x100 over the 1000 test rows)")
    print(f"  {'hypotheses':20s} {'R1 ref':>8s} {'R1 qkv':>8s} {'R2 ref':>8s} {'R2 qkv':>8s} {'RL ref':>8s} {'RL qkv':>8s} {'max|diff|':>9s}")
    rouge_corpus_expected = {}
    for (name, hyps), t in zip(rouge_sets.items(), ts["rougeCorpus"]):
        scores = [rouge_ref.score(r, h) for h, r in zip(hyps, syn)]
        p = {k: 100 * sum(s[k][2] for s in scores) / len(scores) for k in ROUGE_TYPES}
        rouge_corpus_expected[name] = p
        d = max(abs(p[k] - t[k]) for k in ROUGE_TYPES)
        ok &= d <= TOL and t["pairs"] == len(hyps)
        print(f"  {name:20s} " + " ".join(f"{p[k]:8.2f} {t[k]:8.2f}" for k in ROUGE_TYPES) + f" {d:9.2e}")
    lead = rouge_corpus_expected["lead-1"]
    print(f"  dataset README lead-1 baseline (its own sentence rule): 31.71 16.24 28.52; "
          f"here {lead['rouge1']:.2f} {lead['rouge2']:.2f} {lead['rougeL']:.2f}")

    print(f"\nagreement: BLEU corpus max |diff| {corpus_max:.2e} over {len(bleu_corpus)} corpora, "
          f"sentence max |diff| {sentence_max:.2e} over {len(bleu_sentence)} pairs; "
          f"ROUGE max |diff| {max(worst.values()):.2e} over {len(rouge_pairs)} pairs")

    if args.write_fixture:
        write_fixture(args.write_fixture, rouge_ref, len(sm), bleu_corpus, bleu_sentence, rouge_pairs)
    print("OK" if ok else "MISMATCH")
    return 0 if ok else 1


def write_fixture(path, rouge_ref, rows, bleu_corpus, bleu_sentence, rouge_pairs):
    """A small subset: some dozens of pairs with the reference packages' numbers."""
    tok = Tokenizer13a()
    n = 5
    corpus_cases = []
    for c in bleu_corpus:
        if c["name"].startswith("3 short"):
            hyps, refs = c["hyps"], c["refs"]
        else:
            hyps, refs = c["hyps"][:n], [r[:n] for r in c["refs"]]
        corpus_cases.append({"name": c["name"], "hypotheses": hyps, "references": refs, "opts": c["opts"],
                             "expected": py_corpus_bleu(hyps, refs, c["opts"])})
    picked = []
    for name in ["drop10", "shuffle", "other-verse", "first-half", "en-source", "drop30 multi-ref"]:
        picked += [s for s in bleu_sentence if s["set"] == name][:4]
    picked += [s for s in bleu_sentence if s["set"] == "edge cases"]
    sentences = [{"hypothesis": s["hyp"], "references": s["refs"], "expected": py_sentence_bleu(s["hyp"], s["refs"], {})}
                 for s in picked]
    m = 4
    chosen = []
    for k in range(len(rouge_pairs) // rows):
        chosen += rouge_pairs[k * rows: k * rows + m]
    chosen += rouge_pairs[(len(rouge_pairs) // rows) * rows:]

    def triple(s):
        return {k: {"precision": s[k][0], "recall": s[k][1], "fmeasure": s[k][2]} for k in ROUGE_TYPES}

    pairs = [{"hypothesis": h, "reference": r, "expected": triple(rouge_ref.score(r, h))} for h, r in chosen]
    corpus_scores = [rouge_ref.score(r, h) for h, r in chosen]
    fixture = {
        "generator": f"tools/interop/metrics_check.py: sacrebleu {sacrebleu.__version__}; ROUGE: {rouge_ref.name}",
        "conventions": "BLEU: sacrebleu.corpus_bleu(hypotheses, references, **opts) with references as streams "
                       "(references[k][i] is the k-th reference of line i) and sacrebleu.sentence_bleu(hypothesis, "
                       "references); scores 0..100. ROUGE: RougeScorer(['rouge1','rouge2','rougeL'], "
                       "use_stemmer=False).score(reference, hypothesis); corpus = 100 * mean F1 over the pairs. "
                       "Sentences from translation-en-es/test.tsv (es side) and summarization-debian/test.tsv.",
        "tokenize13a": [{"input": s, "expected": tok(s)} for s in TOKENIZER_CASES],
        "bleuCorpus": corpus_cases,
        "bleuSentence": sentences,
        "rougePairs": pairs,
        "rougeCorpus": {
            "hypotheses": [h for h, _ in chosen],
            "references": [r for _, r in chosen],
            "expected": {k: 100 * sum(s[k][2] for s in corpus_scores) / len(corpus_scores) for k in ROUGE_TYPES},
        },
    }
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        # one case per line: small, and diffs stay readable
        f.write("{\n")
        for i, (key, value) in enumerate(fixture.items()):
            sep = "," if i + 1 < len(fixture) else ""
            if isinstance(value, list):
                items = ",\n".join("  " + json.dumps(v, ensure_ascii=False) for v in value)
                f.write(f" {json.dumps(key)}: [\n{items}\n ]{sep}\n")
            else:
                f.write(f" {json.dumps(key)}: {json.dumps(value, ensure_ascii=False)}{sep}\n")
        f.write("}\n")
    print(f"wrote {path}: {len(TOKENIZER_CASES)} tokenizer strings, {len(corpus_cases)} BLEU corpora, "
          f"{len(sentences)} BLEU sentences, {len(pairs)} ROUGE pairs")


if __name__ == "__main__":
    sys.exit(main())
