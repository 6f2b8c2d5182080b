"""Generates test/fixtures/tokenizer/: a small tokenizer trained by qkv and the ids Hugging Face
`tokenizers` gives for a set of sentences, so test/text/bpe.test.ts checks agreement with
`tokenizers` without Python.

Run from the repository root (the TSV is the translation-en-es data set's train.tsv):

    python3 -m venv /tmp/tokvenv && /tmp/tokvenv/bin/pip install tokenizers
    /tmp/tokvenv/bin/python tools/interop/tokenizer_fixture.py --tsv PATH/translation-en-es/train.tsv

Writes, deterministically:
- corpus.txt: the en and es columns of the TSV's first 24 rows (public-domain Bible text) and a few
  lines of mixed text, one text a line;
- tokenizer.json: `tokenizer_ids.ts train` on corpus.txt (vocab 600), as our trainer writes it;
- tokenizer-gpt2-style.json: the same model configured as GPT-2's file is (no normalizer,
  ByteLevel(add_prefix_space=True), plain ByteLevel decoder, merges as "a b" strings);
- reference.json: for each sentence, `Tokenizer.from_file(...).encode(text).ids` and the decoded text
  under both files.
"""
import argparse
import json
import os
import subprocess
import tempfile

import tokenizers
from tokenizers import Tokenizer

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, "test", "fixtures", "tokenizer")
TS = os.path.join(ROOT, "tools", "interop", "tokenizer_ids.ts")
VOCAB_SIZE = 600

EXTRA = [
    "The 3 engines ran 1,250 km in 12.5 hours; that's 100 km/h.",
    "She said: \"I'll go, you'd stay, we're here, they've gone.\"",
    "def encode(self, text: str) -> list[int]:\n\treturn self.model(text)  # 4 spaces",
    "Café, naïve, jalapeño, déjà vu, São Paulo, Zürich.",
    "Emoji: 🙂 👍🏽 🇪🇸 ❤️ and more emoji 🙂🙂.",
]

SENTENCES = [
    "In the beginning, God created the heavens and the earth.",
    "Y dijo Dios: Sea la luz: y fué la luz.",
    "God said, \"Let there be light,\" and there was light.",
    "Hello",
    " Hello",
    "  two leading spaces and two trailing  ",
    "tabs\tand\nnewlines\r\nand\u00a0non-breaking spaces",
    "Numbers: 0 12 345 6789 3.14159 1e-9 -42 ½ ² Ⅻ ٣",
    "Contractions: don't, I'm, we'll, they'd, it's, IT'S, o'clock, ''",
    "Él tenía años y años; ¿qué? ¡Sí! Ñandú, pingüino, acción.",
    "Combining: e\u0301 vs é, n\u0303 vs ñ",
    "Emoji: 😀 👩‍👩‍👧 🏳️‍🌈 🇪🇸 👍🏽",
    "中文字符和日本語のテキスト、한국어",
    "العربية والعبرية עברית",
    "Ελληνικά και Русский текст",
    "   ",
    "",
    "x",
    "\n\n\n",
    "a<s>b",
    "<s>Hola mundo</s><pad><pad>",
    "hello</s>world",
    "<unk> is a special token; <unk2> and < s> are not",
    "\u0085 next line, \u2028 line separator, \ufeff BOM, \u200b zero width",
    "url: https://example.com/path?q=1&r=2#frag",
    "code: if (x >= 10) { y += x * 2; } // done",
    "punctuation!!! ??? ... --- *** @@@ ### $$$ %%%",
    "mixed CASE and ALLCAPS and camelCase and snake_case",
    "a" * 300,
    "The LORD is my shepherd; I shall not want. Jehová es mi pastor; nada me faltará.",
]


def corpus_from(tsv):
    with open(tsv, encoding="utf-8", newline="") as f:
        lines = f.read().split("\n")
    header = lines[0].split("\t")
    en, es = header.index("en"), header.index("es")
    texts = []
    for line in lines[1:25]:
        cells = line.split("\t")
        texts += [cells[en], cells[es]]
    return texts + [t.replace("\n", " ").replace("\t", " ") for t in EXTRA]


def gpt2_style(config):
    c = json.loads(json.dumps(config))
    c["normalizer"] = None
    c["pre_tokenizer"]["add_prefix_space"] = True
    c["decoder"] = {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True}
    c["post_processor"] = {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": False, "use_regex": True}
    c["model"]["merges"] = [f"{a} {b}" for a, b in c["model"]["merges"]]
    return c


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--tsv", required=True, help="translation-en-es train.tsv")
    args = ap.parse_args()
    os.makedirs(OUT, exist_ok=True)
    texts = corpus_from(args.tsv)
    with open(os.path.join(OUT, "corpus.txt"), "w", encoding="utf-8", newline="") as f:
        f.write("".join(t + "\n" for t in texts))
    with tempfile.TemporaryDirectory() as work:
        tsv = os.path.join(work, "corpus.tsv")
        with open(tsv, "w", encoding="utf-8", newline="") as f:
            f.write("text\n" + "".join(t + "\n" for t in texts))
        tok_path = os.path.join(OUT, "tokenizer.json")
        subprocess.run(["npx", "tsx", TS, "train", "--vocab-size", str(VOCAB_SIZE), "--columns", "text", "--out", tok_path, tsv],
                       cwd=ROOT, check=True)
    with open(tok_path, encoding="utf-8") as f:
        config = json.load(f)
    gpt2_path = os.path.join(OUT, "tokenizer-gpt2-style.json")
    with open(gpt2_path, "w", encoding="utf-8", newline="") as f:
        f.write(json.dumps(gpt2_style(config), ensure_ascii=False, indent=1) + "\n")
    ours, gpt2 = Tokenizer.from_file(tok_path), Tokenizer.from_file(gpt2_path)
    cases = []
    for text in SENTENCES:
        a, b = ours.encode(text), gpt2.encode(text)
        cases.append({
            "text": text,
            "ids": a.ids,
            "decoded": ours.decode(a.ids, skip_special_tokens=True),
            "decodedWithSpecials": ours.decode(a.ids, skip_special_tokens=False),
            "gpt2StyleIds": b.ids,
            "gpt2StyleDecoded": gpt2.decode(b.ids, skip_special_tokens=True),
        })
    reference = {
        "generator": "tools/interop/tokenizer_fixture.py",
        "tokenizers": tokenizers.__version__,
        "vocabSize": VOCAB_SIZE,
        "cases": cases,
    }
    with open(os.path.join(OUT, "reference.json"), "w", encoding="utf-8", newline="") as f:
        f.write(json.dumps(reference, ensure_ascii=False, indent=1) + "\n")
    print(f"wrote {OUT}: {len(texts)} corpus lines, {ours.get_vocab_size()} tokens, {len(cases)} sentences (tokenizers {tokenizers.__version__})")


if __name__ == "__main__":
    main()
