"""Tokenizer interop check between qkv's BpeTokenizer (TypeScript) and Hugging Face `tokenizers`;
not run by the test suite, and it writes nothing into the repository (temporary files only).

Run from the repository root:

    python3 -m venv /tmp/tokvenv && /tmp/tokvenv/bin/pip install tokenizers
    # train ours on the en and es columns, then check every row of three files
    /tmp/tokvenv/bin/python tools/interop/tokenizer_check.py --train-on train.tsv --vocab-size 8000 \\
        --columns en,es train.tsv valid.tsv test.tsv
    # or check a tokenizer.json that our trainer wrote
    /tmp/tokvenv/bin/python tools/interop/tokenizer_check.py --tokenizer tok.json --columns en,es test.tsv

Each cell of the given columns (TSV: one header line, tab-separated, no quoting) is encoded by
`Tokenizer.from_file(...).encode(text).ids` and by ours (tools/interop/tokenizer_ids.ts via
`npx tsx`); the ids must be equal, and both decoders must give the text back. With --variants the
same vocabulary and merges are also checked under a GPT-2-style configuration (no normalizer,
ByteLevel(add_prefix_space=True), plain ByteLevel decoder), with merges in the "a b" string form,
and (with --train-on) as trained by `tokenizers`' own BpeTrainer on the same texts, which exercises
our reader and encoder on files others write. Exit code 0 means no mismatch.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

from tokenizers import Tokenizer

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TS = os.path.join(ROOT, "tools", "interop", "tokenizer_ids.ts")


def ts(*args):
    subprocess.run(["npx", "tsx", TS, *args], cwd=ROOT, check=True)


def read_tsv(path, columns):
    """(file, row, column, text) for every cell of the named columns, as tokenizer_ids.ts reads them."""
    with open(path, encoding="utf-8", newline="") as f:
        lines = f.read().split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    header = lines[0].split("\t")
    at = [header.index(c) for c in columns]
    rows = []
    for r, line in enumerate(lines[1:], start=1):
        cells = line.split("\t")
        for column, i in zip(columns, at):
            rows.append((path, r, column, cells[i]))
    return rows


def gpt2_style(config, string_merges):
    """The same vocabulary and merges, configured as GPT-2's tokenizer.json is."""
    c = json.loads(json.dumps(config))
    c["normalizer"] = None
    c["pre_tokenizer"]["add_prefix_space"] = True
    c["decoder"] = {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True}
    c["post_processor"] = {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": False, "use_regex": True}
    if string_merges:
        c["model"]["merges"] = [f"{a} {b}" for a, b in c["model"]["merges"]]
    return c


def hf_train(config, texts, vocab_size, path):
    """Trains tokenizers' BpeTrainer with our pipeline and specials and saves it to path."""
    from tokenizers import decoders, models, normalizers, pre_tokenizers, trainers

    specials = [a["content"] for a in config["added_tokens"]]
    tok = Tokenizer(models.BPE())
    tok.normalizer = normalizers.Prepend(" ")
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.Sequence([decoders.ByteLevel(), decoders.Strip(" ", 1, 0)])
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, min_frequency=2, special_tokens=specials,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(texts, trainer)
    tok.save(path)
    theirs = {tuple(m) for m in json.load(open(path, encoding="utf-8"))["model"]["merges"]}
    ours = {tuple(m) for m in config["model"]["merges"]}
    print(f"tokenizers' trainer: {len(theirs)} merges, {len(theirs & ours)} of them also ours ({len(ours)})")


def check(tok_path, rows, files, columns, work, label, expect_round_trip):
    """Compares ids on every row; returns (compared, mismatches)."""
    hf = Tokenizer.from_file(tok_path)
    ours_path = os.path.join(work, "ours.jsonl")
    ts("encode", "--tokenizer", tok_path, "--columns", ",".join(columns), "--out", ours_path, *files)
    with open(ours_path, encoding="utf-8") as f:
        ours = [json.loads(line) for line in f]
    assert len(ours) == len(rows), f"{len(ours)} rows from TypeScript, {len(rows)} here"
    t0 = time.perf_counter()
    encodings = hf.encode_batch([r[3] for r in rows])
    took = time.perf_counter() - t0
    mismatches = 0
    hf_round_trip = 0
    our_round_trip = 0
    for (path, r, column, text), enc, mine in zip(rows, encodings, ours):
        assert (mine["file"], mine["row"], mine["column"]) == (path, r, column)
        if enc.ids != mine["ids"]:
            mismatches += 1
            if mismatches <= 5:
                print(f"  MISMATCH {os.path.basename(path)}:{r + 1} [{column}] {text[:80]!r}")
                print(f"    tokenizers: {enc.tokens[:30]}")
                print(f"    qkv:        {[hf.id_to_token(i) for i in mine['ids'][:30]]}")
        hf_round_trip += hf.decode(enc.ids, skip_special_tokens=True) == text
        our_round_trip += mine["roundTrip"]
    n = len(rows)
    print(f"{label}: {n} texts compared, {mismatches} id mismatches "
          f"(tokenizers encode_batch {took:.2f} s); decode gives the text back: tokenizers {hf_round_trip}/{n}, qkv {our_round_trip}/{n}")
    bad = mismatches
    if expect_round_trip and (hf_round_trip != n or our_round_trip != n):
        print(f"  round trip failed on {n - hf_round_trip} (tokenizers) / {n - our_round_trip} (qkv) texts")
        bad += 1
    return n, bad


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("files", nargs="+", help="TSV files whose cells are encoded")
    ap.add_argument("--columns", required=True, help="comma-separated column names")
    ap.add_argument("--tokenizer", help="a tokenizer.json written by qkv's trainer")
    ap.add_argument("--train-on", nargs="*", default=[], help="train a tokenizer on these TSV files instead")
    ap.add_argument("--vocab-size", default="8000")
    ap.add_argument("--variants", action="store_true", help="also check GPT-2-style configurations of the same model")
    args = ap.parse_args()
    columns = args.columns.split(",")
    if bool(args.tokenizer) == bool(args.train_on):
        ap.error("give --tokenizer or --train-on, not both")
    with tempfile.TemporaryDirectory() as work:
        tok_path = args.tokenizer
        if args.train_on:
            tok_path = os.path.join(work, "tokenizer.json")
            ts("train", "--vocab-size", args.vocab_size, "--columns", ",".join(columns), "--out", tok_path, *args.train_on)
        rows = [row for f in args.files for row in read_tsv(f, columns)]
        total, bad = check(tok_path, rows, args.files, columns, work, "as trained", True)
        if args.variants:
            with open(tok_path, encoding="utf-8") as f:
                config = json.load(f)
            for name, string_merges in [("GPT-2 style", False), ('GPT-2 style, "a b" merges', True)]:
                path = os.path.join(work, "variant.json")
                with open(path, "w", encoding="utf-8") as f:
                    json.dump(gpt2_style(config, string_merges), f, ensure_ascii=False)
                n, b = check(path, rows, args.files, columns, work, name, False)
                total += n
                bad += b
            if args.train_on:
                # a merge table made by another trainer: tokenizers' own BpeTrainer on the same texts
                path = os.path.join(work, "hf-trained.json")
                hf_train(config, [row[3] for f in args.train_on for row in read_tsv(f, columns)], int(args.vocab_size), path)
                n, b = check(path, rows, args.files, columns, work, "trained by tokenizers", True)
                total += n
                bad += b
    print(f"total: {total} encodings compared, {'OK' if bad == 0 else f'{bad} FAILURES'}")
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
