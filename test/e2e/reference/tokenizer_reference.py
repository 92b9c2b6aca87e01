#!/usr/bin/env python3
"""Independent reference tokenizers, and the checks of test/e2e/tokenizers.test.

An implementation of the llama2.c tokenizer.bin encode/decode written from
../shared/data/README.md alone (it shares no code with the C++ runtime), and
SentencePiece's own encoding through python3-sentencepiece.

Tokenizer modes (ids never include BOS):
  tokenizer_reference.py (--llama2c TOKENIZER.bin | --sentencepiece MODEL)
      --encode-file FILE     one line of comma-separated ids per line of FILE
      --encode-jsonl FILE    the same, each line of FILE a JSON string
      --decode IDS           the text of IDS generated after BOS
      --decode-file FILE     per line of comma-separated ids, its text as JSON

Test helpers:
  --make-cases OUT.jsonl [--documents TEXT --max-documents N]
      [--cases-from FILE --case-prefix CASE]
      writes the first N documents of TEXT (split on <|endoftext|>, stripped,
      empty ones dropped), then every `CASE: "json string"` line of FILE (e.g.
      the lit test itself), one JSON string per line.
  --compare IDS_A IDS_B --cases CASES.jsonl [--names A B] [--allow-differences]
      [--show N] [--llama2c T | --sentencepiece M]   (for printing pieces)
      compares two id files line by line, prints a summary and each
      difference; exits 1 on a difference unless --allow-differences.
  --compare-texts TEXTS_A TEXTS_B [--names A B] [--allow-differences]
      the same for two JSONL files of texts (decoded text vs. the cases).
"""

import argparse
import json
import re
import struct
import sys

BOS, EOS = 1, 2
FIRST_BYTE_TOKEN = 3
BYTE_PIECE = re.compile(rb"<0x([0-9A-Fa-f]{2})>")


class Llama2cTokenizer:
    """llama2.c tokenizer.bin, per the shared data README."""

    def __init__(self, path):
        with open(path, "rb") as f:
            data = f.read()
        (self.max_token_length,) = struct.unpack_from("<i", data, 0)
        self.pieces, self.scores = [], []
        offset = 4
        while offset < len(data):
            score, length = struct.unpack_from("<fi", data, offset)
            offset += 8
            self.pieces.append(data[offset:offset + length])
            self.scores.append(score)
            offset += length
        self.lookup = {}
        for token_id, piece in enumerate(self.pieces):
            self.lookup.setdefault(piece, token_id)

    def _merge_of(self, left, right):
        merged = self.lookup.get(self.pieces[left] + self.pieces[right])
        if merged is None:
            return float("-inf"), None
        return self.scores[merged], merged

    def encode(self, text):
        if not text:
            return []
        tokens = []
        for char in " " + text:  # the dummy prefix " " first
            raw = char.encode("utf-8")
            if raw in self.lookup:
                tokens.append(self.lookup[raw])
            else:
                tokens.extend(FIRST_BYTE_TOKEN + b for b in raw)
        # Greedy merging: each round rescans the pair scores for the best
        # (highest score, leftmost) pair; only the merged pair's neighbours
        # are recomputed.
        pairs = [self._merge_of(a, b) for a, b in zip(tokens, tokens[1:])]
        scores = [s for s, _ in pairs]
        merged = [m for _, m in pairs]
        while scores:
            best = max(scores)
            if best == float("-inf"):
                break
            i = scores.index(best)
            tokens[i] = merged[i]
            del tokens[i + 1]
            del scores[i]
            del merged[i]
            if i > 0:
                scores[i - 1], merged[i - 1] = self._merge_of(tokens[i - 1], tokens[i])
            if i < len(scores):
                scores[i], merged[i] = self._merge_of(tokens[i], tokens[i + 1])
        return tokens

    def decode(self, ids):
        out = bytearray()
        previous = BOS
        for token in ids:
            if token not in (BOS, EOS):
                piece = self.pieces[token]
                if previous == BOS and piece.startswith(b" "):
                    piece = piece[1:]
                byte = BYTE_PIECE.fullmatch(piece)
                out += bytes([int(byte.group(1), 16)]) if byte else piece
            previous = token
        return out.decode("utf-8", errors="replace")

    def piece(self, token):
        return self.pieces[token].decode("utf-8", errors="backslashreplace")


class SentencePieceTokenizer:
    def __init__(self, path):
        import sentencepiece
        self.sp = sentencepiece.SentencePieceProcessor(model_file=path)

    def encode(self, text):
        return self.sp.encode(text)

    def decode(self, ids):
        return self.sp.decode(list(ids))

    def piece(self, token):
        return self.sp.id_to_piece(token)


def read_lines(path):
    """The lines of a file, split at "\n" only (not at "\r", U+2028, ...)."""
    with open(path, encoding="utf-8", newline="") as f:
        lines = f.read().split("\n")
    return lines[:-1] if lines and lines[-1] == "" else lines


def read_ids(path):
    return [[int(x) for x in line.split(",")] if line.strip() else []
            for line in read_lines(path)]


def read_jsonl(path):
    return [json.loads(line) for line in read_lines(path)]


def make_cases(args):
    cases = []
    if args.documents:
        with open(args.documents, encoding="utf-8") as f:
            documents = [d.strip() for d in f.read().split("<|endoftext|>")]
        cases = [d for d in documents if d][:args.max_documents]
    if args.cases_from:
        pattern = re.compile(r"^\s*(?:#\s*)?%s:\s(.*)$" % re.escape(args.case_prefix))
        for line in read_lines(args.cases_from):
            match = pattern.match(line)
            if match:
                cases.append(json.loads(match.group(1)))
    with open(args.make_cases, "w", encoding="utf-8") as f:
        for case in cases:
            f.write(json.dumps(case, ensure_ascii=False) + "\n")
    print("cases: %d" % len(cases))


def show(text):
    """JSON of `text`, readable: non-ASCII as is, except what does not print."""
    return "".join(c if c.isprintable() else
                   "\\u%04x" % ord(c) if ord(c) < 0x10000 else "\\U%08x" % ord(c)
                   for c in json.dumps(text, ensure_ascii=False))


def short(text, limit=60):
    text = show(text)
    return text if len(text) <= limit else text[:limit - 4] + '..."'


def compare(args, tokenizer):
    first, second = read_ids(args.compare[0]), read_ids(args.compare[1])
    cases = read_jsonl(args.cases)
    name_a, name_b = args.names or args.compare
    if not len(first) == len(second) == len(cases):
        print("error: %d, %d ids lines for %d cases" % (len(first), len(second), len(cases)))
        return 1
    differ = [i for i in range(len(cases)) if first[i] != second[i]]
    tokens = sum(len(ids) for ids in first)
    print("%s vs %s: %d texts, %d tokens, %d differ"
          % (name_a, name_b, len(cases), tokens, len(differ)))
    for i in differ[:args.show]:
        a, b = first[i], second[i]
        p = next((k for k in range(min(len(a), len(b))) if a[k] != b[k]), min(len(a), len(b)))
        def render(ids):
            window = ids if len(ids) <= 12 else ids[max(0, p - 2):p + 6]
            if tokenizer:
                return " ".join("%d:%s" % (t, show(tokenizer.piece(t)))
                                for t in window)
            return ",".join(map(str, window))
        print("  case %d %s: from token %d, %s [%s] / %s [%s]"
              % (i, short(cases[i]), p, name_a, render(a), name_b, render(b)))
    return 1 if differ and not args.allow_differences else 0


def compare_texts(args):
    first, second = read_jsonl(args.compare_texts[0]), read_jsonl(args.compare_texts[1])
    name_a, name_b = args.names or args.compare_texts
    if len(first) != len(second):
        print("error: %d and %d texts" % (len(first), len(second)))
        return 1
    differ = [i for i in range(len(first)) if first[i] != second[i]]
    print("%s vs %s: %d texts, %d differ" % (name_a, name_b, len(first), len(differ)))
    for i in differ[:args.show]:
        print("  case %d: %s %s / %s %s"
              % (i, name_a, short(first[i], 80), name_b, short(second[i], 80)))
    return 1 if differ and not args.allow_differences else 0


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--llama2c", metavar="TOKENIZER_BIN")
    which.add_argument("--sentencepiece", metavar="MODEL")
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--encode-file")
    mode.add_argument("--encode-jsonl")
    mode.add_argument("--decode", metavar="IDS")
    mode.add_argument("--decode-file")
    mode.add_argument("--make-cases", metavar="OUT")
    mode.add_argument("--compare", nargs=2, metavar=("IDS_A", "IDS_B"))
    mode.add_argument("--compare-texts", nargs=2, metavar=("TEXTS_A", "TEXTS_B"))
    parser.add_argument("--documents")
    parser.add_argument("--max-documents", type=int, default=100)
    parser.add_argument("--cases-from")
    parser.add_argument("--case-prefix", default="CASE")
    parser.add_argument("--cases")
    parser.add_argument("--names", nargs=2)
    parser.add_argument("--show", type=int, default=20)
    parser.add_argument("--allow-differences", action="store_true")
    args = parser.parse_args()

    tokenizer = None
    if args.llama2c:
        tokenizer = Llama2cTokenizer(args.llama2c)
    elif args.sentencepiece:
        tokenizer = SentencePieceTokenizer(args.sentencepiece)

    if args.make_cases:
        make_cases(args)
        return 0
    if args.compare:
        if not args.cases:
            parser.error("--compare needs --cases")
        return compare(args, tokenizer)
    if args.compare_texts:
        return compare_texts(args)
    if tokenizer is None:
        parser.error("give --llama2c or --sentencepiece")

    out = sys.stdout
    if args.encode_file or args.encode_jsonl:
        lines = read_lines(args.encode_file or args.encode_jsonl)
        if args.encode_jsonl:
            lines = [json.loads(line) for line in lines]
        for text in lines:
            out.write(",".join(map(str, tokenizer.encode(text))) + "\n")
    elif args.decode is not None:
        ids = [int(x) for x in args.decode.split(",") if x]
        out.write(tokenizer.decode(ids) + "\n")
    else:
        for ids in read_ids(args.decode_file):
            out.write(json.dumps(tokenizer.decode(ids), ensure_ascii=False) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
