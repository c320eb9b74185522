#!/usr/bin/env python3
"""Training text for the Wikipedia-pre-trained SpikeGPT models (tools/train/pretrain.py).

Turns the plain Wikipedia shards of ../shared/data/wikipedia (WikiExtractor text, one paragraph
per line, README.md there) into text that looks like WikiText-2's tokenised files, because the
bundled models are scored on WikiText-2 test and a byte-level model learns the surface format
too. What `normalise_article` does, in order (each step is a plain rule, no learned tokenizer):

  * drops surviving HTML tags (`<br>`, `<ref>`, ...) and unescapes entities (`&amp;` -> `&`);
  * a body line of at most 6 words / 60 characters that starts with a capital letter and ends
    with its only period becomes a section heading ` = = History = = ` (WikiExtractor writes
    section headings as such lines, `History.`), with blank lines around it as in WikiText;
  * WikiText's number and hyphen marks: `1,000` -> `1 @,@ 000`, `3.5` -> `3 @.@ 5`,
    `well-known` -> `well @-@ known`;
  * spaces around punctuation (`, ; : ! ? ( ) [ ] " % $ £ € & / – —`), contractions and
    possessives split before the apostrophe (`Teddy's` -> `Teddy 's`, `don't` -> `don 't`),
    a word-final period split off unless the word is an initial (`H.`), contains another
    period (`U.S.`) or is a common abbreviation (`St.`, `No.`, `Dr.`, ...);
  * rare words become `<unk>`: WikiText-2 replaced every word outside its 33,278-word train
    vocabulary, 5.48 % of the words of valid.txt; here the vocabulary is the most frequent
    words of the first training shard, as many as give the same 5.48 % there (`build_vocab`);
  * every line starts with a space and ends with ` \\n`; article heading ` = Title = `, then
    a blank line ` `, then the paragraphs, one per line (WikiText's layout).

Commands:
    python3 tools/train/wikidata.py prepare --data-dir ../shared/data --out .traindata/prep \\
        --shards 0,1,2 --jobs 16
    python3 tools/train/wikidata.py show --data-dir ../shared/data --chars 3000   # a sample

`prepare` writes train.bin (the normalised training shards, concatenated), wiki-valid.txt (the
normalised Wikipedia valid file), vocab.txt, the WikiText-2 valid slices (wt2-valid-ft.txt:
used for fine-tuning and for the search's calibration; wt2-valid-holdout.txt: never trained
on, for checkpoint selection and the search's verification) and prep.json (sizes, rules).
WikiText-2 test.txt is never read here.
"""

import argparse
import collections
import html
import json
import lzma
import multiprocessing
import os
import re
import sys

# WikiText-2 valid.txt: 11,718 <unk> of 213,886 whitespace tokens.
WT2_UNK_RATE = 0.05479
UNK = "<unk>"
# Fraction of WikiText-2 valid.txt (cut at the next article heading) used for fine-tuning; the
# rest is the hold-out.
FT_FRACTION = 0.85

_ABBREV = {"Mr", "Mrs", "Ms", "Dr", "St", "No", "Nos", "Co", "Jr", "Sr", "Lt", "Col", "Gen",
           "Sgt", "Capt", "Gov", "Rev", "Bros", "Inc", "Ltd", "vs", "var", "Mt", "Ft", "Vol",
           "pp", "ca", "c", "Prof", "Adm", "Cpl", "Maj", "Pvt", "Fr", "Jan", "Feb", "Aug",
           "Sept", "Oct", "Nov", "Dec", "approx", "etc"}
_TAG = re.compile(r"</?[A-Za-z][^<>]{0,60}>")
_NUM_COMMA = re.compile(r"(?<=\d),(?=\d{3})")
_NUM_DOT = re.compile(r"(?<=\d)\.(?=\d)")
_HYPHEN = re.compile(r"(?<=\w)-(?=\w)")
_PUNCT = re.compile(r'([,;:!?()\[\]{}"%$£€&/–—…]|@-@|@,@|@\.@)')
_CONTRACTION = re.compile(r"(?<=\w)'(s|S|t|ll|ve|d|m|re)\b")
_QUOTE = re.compile(r"(^|\s)'|'(\s|$)")
_SPACES = re.compile(r"\s+")


def _split_period(tok):
    if len(tok) < 2 or not tok.endswith(".") or tok.endswith(".."):
        return [tok]
    stem = tok[:-1]
    if "." in stem or stem in _ABBREV or (len(stem) == 1 and stem.isalpha()):
        return [tok]
    return [stem, "."]


def tokenise(line):
    """One paragraph -> list of WikiText-style tokens (before <unk> replacement)."""
    s = _NUM_COMMA.sub(" @,@ ", line)
    s = _NUM_DOT.sub(" @.@ ", s)
    s = _HYPHEN.sub(" @-@ ", s)
    s = _QUOTE.sub(lambda m: (m.group(1) or "") + " ' " + (m.group(2) or ""), s)
    s = _CONTRACTION.sub(r" '\1", s)
    s = _PUNCT.sub(r" \1 ", s)
    out = []
    for tok in s.split():
        out.extend(_split_period(tok))
    return out


def _is_heading(line):
    if not line.endswith(".") or len(line) > 60 or not line[:1].isupper():
        return False
    body = line[:-1]
    return "." not in body and len(body.split()) <= 6 and not any(c in body for c in ",;:()")


def split_articles(text):
    """Yields (title, [body lines]) from the shard layout ' = Title = \\n\\nbody\\n\\n'."""
    title, body = None, []
    for line in text.split("\n"):
        if line.startswith(" = ") and line.endswith(" = ") and len(line) > 6:
            if title is not None:
                yield title, body
            title, body = line[3:-3], []
        elif line.strip():
            body.append(line)
    if title is not None:
        yield title, body


def normalise_article(title, body, vocab=None):
    """-> WikiText-style text of one article (see the module docstring)."""
    def words(line):
        toks = tokenise(_TAG.sub(" ", html.unescape(line)))
        if vocab is not None:
            toks = [t if t in vocab else UNK for t in toks]
        return toks

    out = [" = " + " ".join(words(title)) + " =", ""]
    for line in body:
        line = line.strip()
        if _is_heading(line):
            if out[-1] != "":
                out.append("")
            out += [" = = " + " ".join(words(line[:-1])) + " = =", ""]
            continue
        toks = words(line)
        if toks:
            out.append(" " + " ".join(toks))
    if out[-1] != "":
        out.append("")
    return "".join(l + " \n" for l in out)


def read_shard(path):
    with lzma.open(path, "rb") as f:
        return f.read().decode("utf-8")


def count_words(text):
    c = collections.Counter()
    for title, body in split_articles(text):
        for line in [title] + body:
            c.update(tokenise(_TAG.sub(" ", html.unescape(line))))
    return c


def build_vocab(counts, unk_rate=WT2_UNK_RATE):
    """Most frequent words, as many as leave `unk_rate` of the word occurrences outside."""
    total = sum(counts.values())
    keep, covered = [], 0
    for w, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
        if covered >= total * (1 - unk_rate):
            break
        keep.append(w)
        covered += n
    return keep


def _normalise_chunk(args):
    articles, vocab = args
    return "".join(normalise_article(t, b, vocab) for t, b in articles)


def normalise_text(text, vocab, jobs=1):
    arts = list(split_articles(text))
    if jobs <= 1:
        return _normalise_chunk((arts, vocab))
    n = max(1, len(arts) // (jobs * 4))
    chunks = [(arts[i:i + n], vocab) for i in range(0, len(arts), n)]
    with multiprocessing.Pool(jobs) as pool:
        return "".join(pool.map(_normalise_chunk, chunks))


def split_wt2_valid(data):
    """WikiText-2 valid.txt bytes -> (fine-tune part, hold-out part), cut at the first top-level
    article heading after FT_FRACTION of the file, so the hold-out starts a fresh article."""
    pos = int(len(data) * FT_FRACTION)
    cut = data.find(b"\n = ", pos)
    while cut >= 0 and data[cut + 4:cut + 6] == b"= ":  # skip ' = = Section = =' lines
        cut = data.find(b"\n = ", cut + 1)
    cut += 1
    return data[:cut], data[cut:], cut


def cmd_prepare(a):
    os.makedirs(a.out, exist_ok=True)
    wiki = os.path.join(a.data_dir, "wikipedia")
    shards = [int(s) for s in a.shards.split(",")]
    texts = {}

    def shard(i):
        if i not in texts:
            texts[i] = read_shard(os.path.join(wiki, "train-%02d.txt.xz" % i))
        return texts[i]

    vpath = os.path.join(a.out, "vocab.txt")
    if a.vocab:
        vocab_list = open(a.vocab, encoding="utf-8").read().split("\n")
    else:
        counts = count_words(shard(shards[0]))
        vocab_list = build_vocab(counts)
    vocab_list = [w for w in vocab_list if w]
    with open(vpath, "w", encoding="utf-8") as f:
        f.write("\n".join(vocab_list) + "\n")
    vocab = set(vocab_list)
    print("[prepare] vocabulary %d words" % len(vocab), flush=True)
    info = {"vocab_words": len(vocab), "unk_rate_target": WT2_UNK_RATE, "shards": [],
            "rules": "tools/train/wikidata.py normalise_article"}
    with open(os.path.join(a.out, "train.bin"), "wb") as f:
        for i in shards:
            raw = shard(i)
            norm = normalise_text(raw, vocab, a.jobs).encode("utf-8")
            texts.pop(i, None)
            f.write(norm)
            info["shards"].append({"shard": i, "raw_bytes": len(raw.encode("utf-8")),
                                   "normalised_bytes": len(norm)})
            print("[prepare] shard %d: %d -> %d bytes" % (i, info["shards"][-1]["raw_bytes"],
                                                            len(norm)), flush=True)
    val = normalise_text(read_shard(os.path.join(wiki, "valid.txt.xz")), vocab, a.jobs)
    val = val.encode("utf-8")
    with open(os.path.join(a.out, "wiki-valid.txt"), "wb") as f:
        f.write(val)
    info["wiki_valid_bytes"] = len(val)
    wt2 = open(os.path.join(a.data_dir, "wikitext-2", "valid.txt"), "rb").read()
    ft, hold, cut = split_wt2_valid(wt2)
    for name, part in (("wt2-valid-ft.txt", ft), ("wt2-valid-holdout.txt", hold)):
        with open(os.path.join(a.out, name), "wb") as f:
            f.write(part)
    info["wt2_valid"] = {"bytes": len(wt2), "ft": [0, cut], "holdout": [cut, len(wt2)]}
    with open(os.path.join(a.out, "prep.json"), "w") as f:
        json.dump(info, f, indent=1)
    print("[prepare] %s" % json.dumps(info), flush=True)


def cmd_show(a):
    text = read_shard(os.path.join(a.data_dir, "wikipedia", "valid.txt.xz"))
    vocab = None
    if a.vocab:
        vocab = set(w for w in open(a.vocab, encoding="utf-8").read().split("\n") if w)
    sys.stdout.write(normalise_text(text[:a.chars * 2], vocab)[:a.chars])


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("prepare", help="normalised training / validation files")
    p.add_argument("--data-dir", required=True, help="folder with wikipedia/ and wikitext-2/")
    p.add_argument("--out", required=True)
    p.add_argument("--shards", default="0,1,2")
    p.add_argument("--vocab", default=None, help="use this vocabulary instead of building one")
    p.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    s = sub.add_parser("show", help="print the start of the normalised Wikipedia valid file")
    s.add_argument("--data-dir", required=True)
    s.add_argument("--chars", type=int, default=3000)
    s.add_argument("--vocab", default=None)
    a = ap.parse_args(argv)
    {"prepare": cmd_prepare, "show": cmd_show}[a.cmd](a)


if __name__ == "__main__":
    main()
