//===- TokenizerTest.cpp - the tokenizers of QuantRuntimeText -------------===//
//
// Hand-computed encodings (the merge steps are spelled out next to each
// expectation), streaming decoding rules, and load errors, on small tokenizer
// files written by the tests and on the real ones of the shared data
// directory ($QUANT_DATA_DIR, default ../shared/data beside the checkout;
// skipped when absent, a failure under CI=true).
//
//===----------------------------------------------------------------------===//

#include "qrt/text/Tokenizer.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>

using namespace qrt::text;
using Ids = std::vector<int32_t>;

namespace {

//===----------------------------------------------------------------------===//
// Files
//===----------------------------------------------------------------------===//

std::string dataDir() {
  if (const char *env = std::getenv("QUANT_DATA_DIR"); env && *env)
    return env;
  return std::string(QUANT_SOURCE_ROOT) + "/../shared/data";
}

bool inCi() {
  const char *ci = std::getenv("CI");
  if (!ci)
    return false;
  std::string value(ci);
  return value == "1" || value == "true" || value == "TRUE" || value == "yes";
}

bool exists(const std::string &path) { return std::ifstream(path).good(); }

/// Skips the test (fails it under CI=true) when a shared data file is absent.
#define REQUIRE_DATA_FILE(var, relative)                                       \
  const std::string var = dataDir() + "/" + (relative);                        \
  if (!exists(var)) {                                                          \
    if (inCi())                                                                \
      FAIL() << "shared test data missing under CI=true: " << var;             \
    GTEST_SKIP() << "shared test data not found: " << var                      \
                 << " (set QUANT_DATA_DIR)";                                   \
  }

const char *const kTok512 = "models/stories260K/tok512.bin";
const char *const kLlamaBin = "tokenizers/llama2/tokenizer.bin";
const char *const kLlamaModel = "tokenizers/llama2/tokenizer.model";
const char *const kLlamaJson = "models/ortgenai-tiny-llama-fp16/tokenizer.json";

/// Loads a tokenizer once per test program.
const Tokenizer &shared(const std::string &path) {
  static std::map<std::string, std::unique_ptr<Tokenizer>> cache;
  std::unique_ptr<Tokenizer> &slot = cache[path];
  if (!slot) {
    std::string error;
    slot = loadTokenizer(path, error);
    if (!slot) {
      ADD_FAILURE() << error;
      std::abort();
    }
  }
  return *slot;
}

std::string tempPath(const std::string &name) {
  const ::testing::TestInfo *info =
      ::testing::UnitTest::GetInstance()->current_test_info();
  return ::testing::TempDir() + "qrt-text-" + info->test_suite_name() + "-" +
         info->name() + "-" + name;
}

std::string writeFile(const std::string &name, const std::string &bytes) {
  std::string path = tempPath(name);
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  return path;
}

std::string readFile(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

//===----------------------------------------------------------------------===//
// Small llama2.c tokenizers
//===----------------------------------------------------------------------===//

struct Piece {
  float score;
  std::string text;
};

void appendInt32(std::string &out, int32_t value) {
  char bytes[4];
  std::memcpy(bytes, &value, 4);
  out.append(bytes, 4);
}

void appendPiece(std::string &out, const Piece &piece) {
  char bytes[4];
  std::memcpy(bytes, &piece.score, 4);
  out.append(bytes, 4);
  appendInt32(out, static_cast<int32_t>(piece.text.size()));
  out += piece.text;
}

std::string byteToken(int byte) {
  char text[8];
  std::snprintf(text, sizeof text, "<0x%02X>", byte);
  return text;
}

/// A llama2.c tokenizer file: <unk>, <s>, </s>, the 256 byte tokens (ids
/// 3..258), then `pieces` from id 259 on.
std::string llama2cFile(const std::vector<Piece> &pieces,
                        int32_t maxTokenLength = 16) {
  std::string out;
  appendInt32(out, maxTokenLength);
  appendPiece(out, {0, "<unk>"});
  appendPiece(out, {0, "\n<s>\n"});
  appendPiece(out, {0, "\n</s>\n"});
  for (int byte = 0; byte < 256; ++byte)
    appendPiece(out, {0, byteToken(byte)});
  for (const Piece &piece : pieces)
    appendPiece(out, piece);
  return out;
}

std::unique_ptr<Tokenizer> loadOrFail(const std::string &path) {
  std::string error;
  std::unique_ptr<Tokenizer> tok = loadTokenizer(path, error);
  EXPECT_TRUE(tok) << error;
  return tok;
}

/// The error of loading `path`, expecting failure.
std::string loadError(const std::string &path) {
  std::string error;
  std::unique_ptr<Tokenizer> tok = loadTokenizer(path, error);
  EXPECT_FALSE(tok) << "loaded " << path;
  EXPECT_NE(error.find(path), std::string::npos)
      << "error does not name the file: " << error;
  return error;
}

#define EXPECT_CONTAINS(text, part)                                            \
  EXPECT_NE(std::string(text).find(part), std::string::npos)                   \
      << "'" << (text) << "' lacks '" << (part) << "'"

// Ids of the small tokenizer below.
constexpr int32_t kSpace = 259, kA = 260, kB = 261, kAA = 262, kSpaceA = 263,
                  kAB = 264;

std::unique_ptr<Tokenizer> smallLlama2c() {
  return loadOrFail(writeFile("small.bin", llama2cFile({{-10, " "},
                                                        {-10, "a"},
                                                        {-10, "b"},
                                                        {-1, "aa"},
                                                        {-5, " a"},
                                                        {-2, "ab"}})));
}

//===----------------------------------------------------------------------===//
// llama2.c: the algorithm on a small vocabulary
//===----------------------------------------------------------------------===//

TEST(Llama2cSmall, EmptyTextHasNoTokens) {
  auto tok = smallLlama2c();
  EXPECT_EQ(tok->encode(""), Ids{});
  EXPECT_EQ(tok->vocabSize(), 265);
  EXPECT_EQ(tok->bos(), 1);
  EXPECT_EQ(tok->eos(), 2);
}

TEST(Llama2cSmall, HighestScoreMergesFirst) {
  auto tok = smallLlama2c();
  // " a": [" ", "a"] -> " a" (-5).
  EXPECT_EQ(tok->encode("a"), (Ids{kSpaceA}));
  // " ab": pairs " a" (-5), "ab" (-2): "ab" wins -> [" ", "ab"]; " ab" is
  // not a piece.
  EXPECT_EQ(tok->encode("ab"), (Ids{kSpace, kAB}));
}

TEST(Llama2cSmall, LeftmostPairWinsATie) {
  auto tok = smallLlama2c();
  // " aaa": pairs " a" (-5), "aa" (-1), "aa" (-1): the leftmost "aa" ->
  // [" ", "aa", "a"]; " aa" and "aaa" are not pieces.
  EXPECT_EQ(tok->encode("aaa"), (Ids{kSpace, kAA, kA}));
  // " aaaa": "aa" at 1, then pairs " aa" -, "aaa" -, "aa" (-1) -> "aa".
  EXPECT_EQ(tok->encode("aaaa"), (Ids{kSpace, kAA, kAA}));
}

TEST(Llama2cSmall, MissingCharactersBecomeByteTokens) {
  auto tok = smallLlama2c();
  // "é" is C3 A9; byte tokens are 3 + byte. "ba" does not merge.
  EXPECT_EQ(tok->encode("\xC3\xA9"
                        "ba"),
            (Ids{kSpace, 3 + 0xC3, 3 + 0xA9, kB, kA}));
  EXPECT_EQ(tok->encode("\n"), (Ids{kSpace, 3 + '\n'}));
}

TEST(Llama2cSmall, LongTextMergesLikeTheDefinition) {
  auto tok = smallLlama2c();
  // 2001 symbols: " " then 1000 times "ab" -> " " merges with nothing better
  // than " a" (-5) < "ab" (-2), so every "ab" merges.
  std::string text;
  for (int i = 0; i < 1000; ++i)
    text += "ab";
  Ids expected(1001, kAB);
  expected[0] = kSpace;
  EXPECT_EQ(tok->encode(text), expected);
}

TEST(Llama2cSmall, DecodeRules) {
  auto tok = smallLlama2c();
  // The leading space of a piece right after BOS is dropped, nowhere else.
  EXPECT_EQ(tok->decodeToken(1, kSpaceA), "a");
  EXPECT_EQ(tok->decodeToken(kA, kSpaceA), " a");
  EXPECT_EQ(tok->decodeToken(1, kSpace), "");
  // Byte tokens are raw bytes, even a space right after BOS.
  EXPECT_EQ(tok->decodeToken(1, 3 + ' '), " ");
  EXPECT_EQ(tok->decodeToken(kA, 3 + 0xFF), "\xFF");
  // BOS, EOS and ids outside the vocabulary contribute nothing.
  EXPECT_EQ(tok->decodeToken(kA, 1), "");
  EXPECT_EQ(tok->decodeToken(kA, 2), "");
  EXPECT_EQ(tok->decodeToken(kA, -1), "");
  EXPECT_EQ(tok->decodeToken(kA, 265), "");
  EXPECT_EQ(tok->piece(kSpaceA), " a");
  EXPECT_EQ(tok->piece(1), "\n<s>\n");
  EXPECT_EQ(decode(*tok, {1, kSpaceA, kAB, kSpace}), "aab ");
  EXPECT_EQ(decode(*tok, tok->encode("ab\xC3\xA9 a")), "ab\xC3\xA9 a");
}

//===----------------------------------------------------------------------===//
// llama2.c: load errors
//===----------------------------------------------------------------------===//

TEST(Llama2cErrors, MissingFile) {
  std::string path = tempPath("does-not-exist.bin");
  std::string error = loadError(path);
  EXPECT_CONTAINS(error, "cannot open");
  EXPECT_CONTAINS(error, "No such file");
}

TEST(Llama2cErrors, Truncated) {
  std::string bytes = llama2cFile({{-1, "hello"}});
  // Cut inside the last piece's text, inside a score/length header, inside
  // the file header, and at a record boundary before the byte tokens end.
  EXPECT_CONTAINS(
      loadError(writeFile("a.bin", bytes.substr(0, bytes.size() - 2))),
      "truncated llama2.c tokenizer: token 259 at byte");
  EXPECT_CONTAINS(
      loadError(writeFile("b.bin", bytes.substr(0, bytes.size() - 9))),
      "incomplete score/length header");
  EXPECT_CONTAINS(loadError(writeFile("c.bin", bytes.substr(0, 2))),
                  "no max_token_length header");
  std::string fewer = llama2cFile({});
  fewer.resize(fewer.size() - 14 * 100); // 100 byte tokens of 8 + 6 bytes
  EXPECT_CONTAINS(loadError(writeFile("d.bin", fewer)),
                  "159 tokens, need at least 259");
  EXPECT_CONTAINS(loadError(writeFile("e.bin", "")), "truncated");
}

TEST(Llama2cErrors, Malformed) {
  EXPECT_CONTAINS(loadError(writeFile("a.bin", llama2cFile({}, 0))),
                  "max_token_length 0 is not in [1, 65536]");
  EXPECT_CONTAINS(
      loadError(writeFile("b.bin", llama2cFile({{-1, "toolong"}}, 6))),
      // 4 + <unk> 13 + <s> 13 + </s> 14 + 256 * 14 = 3628.
      "token 259 at byte 3628 has length 7 outside [0, "
      "max_token_length 6]");
  std::string bytes = llama2cFile({});
  // Byte token <0x41> (id 68) spelled <0x4G>.
  size_t at = bytes.find("<0x41>");
  bytes[at + 4] = 'G';
  EXPECT_CONTAINS(loadError(writeFile("c.bin", bytes)),
                  "token 68 is '<0x4G>', expected the byte token <0x41>");
  std::string nan = llama2cFile({{std::nanf(""), "x"}});
  EXPECT_CONTAINS(loadError(writeFile("d.bin", nan)), "non-finite score");
}

TEST(TokenizerFormat, DetectedByContentThenExtension) {
  // A llama2.c file without a telling extension is recognized by content.
  auto tok = loadOrFail(writeFile("tokenizer", llama2cFile({{-1, " "}})));
  EXPECT_EQ(tok->vocabSize(), 260);
  std::string error = loadError(writeFile("notes.txt", "just some text\n"));
  EXPECT_CONTAINS(error, "unrecognized format");
  EXPECT_CONTAINS(loadError(writeFile("empty", "")), "empty file");
  // Garbage named .model goes to SentencePiece, .json to the JSON reader.
  EXPECT_CONTAINS(loadError(writeFile("x.model", "not a model")),
                  "malformed or truncated SentencePiece model");
  EXPECT_CONTAINS(loadError(writeFile("x.json", "not json")),
                  "malformed or truncated JSON");
}

//===----------------------------------------------------------------------===//
// Hugging Face tokenizer.json on a small vocabulary
//===----------------------------------------------------------------------===//

const char *const kSpaceSymbol = "\xE2\x96\x81"; // "▁"

/// A Llama 2 style tokenizer.json: <unk>, <s>, </s>, bytes, then `pieces`
/// from id 259, and `merges` in rank order.
nlohmann::json llamaJson(const std::vector<std::string> &pieces,
                         const std::vector<std::string> &merges) {
  using nlohmann::json;
  json vocab = json::object();
  vocab["<unk>"] = 0;
  vocab["<s>"] = 1;
  vocab["</s>"] = 2;
  for (int byte = 0; byte < 256; ++byte)
    vocab[byteToken(byte)] = 3 + byte;
  for (size_t i = 0; i < pieces.size(); ++i)
    vocab[pieces[i]] = 259 + static_cast<int>(i);
  json added = json::array();
  const char *special[] = {"<unk>", "<s>", "</s>"};
  for (int id = 0; id < 3; ++id)
    added.push_back({{"id", id},
                     {"content", special[id]},
                     {"single_word", false},
                     {"lstrip", false},
                     {"rstrip", false},
                     {"normalized", false},
                     {"special", true}});
  return {
      {"version", "1.0"},
      {"added_tokens", added},
      {"normalizer",
       {{"type", "Sequence"},
        {"normalizers",
         {{{"type", "Prepend"}, {"prepend", kSpaceSymbol}},
          {{"type", "Replace"},
           {"pattern", {{"String", " "}}},
           {"content", kSpaceSymbol}}}}}},
      {"pre_tokenizer", nullptr},
      {"decoder",
       {{"type", "Sequence"},
        {"decoders",
         {{{"type", "Replace"},
           {"pattern", {{"String", kSpaceSymbol}}},
           {"content", " "}},
          {{"type", "ByteFallback"}},
          {{"type", "Fuse"}},
          {{"type", "Strip"}, {"content", " "}, {"start", 1}, {"stop", 0}}}}}},
      {"model",
       {{"type", "BPE"},
        {"dropout", nullptr},
        {"unk_token", "<unk>"},
        {"continuing_subword_prefix", nullptr},
        {"end_of_word_suffix", nullptr},
        {"fuse_unk", true},
        {"byte_fallback", true},
        {"vocab", vocab},
        {"merges", merges}}}};
}

// "▁" 259, "a" 260, "b" 261, "aa" 262, "▁a" 263, "ab" 264, "▁▁" 265.
nlohmann::json smallJson() {
  std::string s = kSpaceSymbol;
  return llamaJson({s, "a", "b", "aa", s + "a", "ab", s + s},
                   {"a a", s + " a", "a b", s + " " + s});
}

TEST(HuggingFaceSmall, LowestRankMergesFirst) {
  auto tok = loadOrFail(writeFile("tokenizer.json", smallJson().dump()));
  EXPECT_EQ(tok->vocabSize(), 266);
  EXPECT_EQ(tok->encode(""), Ids{});
  // "▁ab": pairs (▁,a) rank 1, (a,b) rank 2 -> "▁a", then ("▁a", b) none.
  EXPECT_EQ(tok->encode("ab"), (Ids{263, 261}));
  // "▁aab": (a,a) rank 0 first -> [▁, aa, b]; no more merges.
  EXPECT_EQ(tok->encode("aab"), (Ids{259, 262, 261}));
  // "▁aaa": two (a,a) pairs of rank 0, the leftmost merges.
  EXPECT_EQ(tok->encode("aaa"), (Ids{259, 262, 260}));
  // Spaces become "▁": "▁▁▁a" -> (▁,a) rank 1 before (▁,▁) rank 3 ->
  // [▁, ▁, ▁a] -> [▁▁, ▁a].
  EXPECT_EQ(tok->encode("  a"), (Ids{265, 263}));
  // Missing characters fall back to bytes: "é" = C3 A9, "\n".
  EXPECT_EQ(tok->encode("\xC3\xA9\n"), (Ids{259, 3 + 0xC3, 3 + 0xA9, 3 + 10}));
}

TEST(HuggingFaceSmall, AddedTokensSplitTheText) {
  auto tok = loadOrFail(writeFile("tokenizer.json", smallJson().dump()));
  // Each segment between added tokens is normalized on its own, so "a" after
  // </s> gets its own "▁" (as Hugging Face's legacy Llama tokenizer does).
  EXPECT_EQ(tok->encode("a</s>a"), (Ids{263, 2, 263}));
  EXPECT_EQ(tok->encode("<s>"), (Ids{1}));
  EXPECT_EQ(tok->encode("<s"), (Ids{259, 3 + '<', 3 + 's'}));
}

TEST(HuggingFaceSmall, DecodeRules) {
  auto tok = loadOrFail(writeFile("tokenizer.json", smallJson().dump()));
  EXPECT_EQ(tok->decodeToken(1, 263), "a");
  EXPECT_EQ(tok->decodeToken(260, 263), " a");
  EXPECT_EQ(tok->decodeToken(260, 265), "  ");
  EXPECT_EQ(tok->decodeToken(1, 265), " ");
  EXPECT_EQ(tok->decodeToken(1, 3 + 0xE2), "\xE2");
  EXPECT_EQ(tok->decodeToken(260, 2), "");
  EXPECT_EQ(tok->piece(263), std::string(kSpaceSymbol) + "a");
  EXPECT_EQ(decode(*tok, tok->encode("  aab\xC3\xA9")), "  aab\xC3\xA9");
}

TEST(HuggingFaceErrors, UnsupportedConfigurations) {
  auto load = [](const char *name, const nlohmann::json &json) {
    return loadError(writeFile(name, json.dump()));
  };
  nlohmann::json j = smallJson();
  j["model"]["type"] = "Unigram";
  EXPECT_CONTAINS(load("a.json", j), "unsupported model type \"Unigram\"");
  j = smallJson();
  j["model"]["byte_fallback"] = false;
  EXPECT_CONTAINS(load("b.json", j), "BPE model without byte_fallback");
  j = smallJson();
  j["normalizer"] = {{"type", "NFKC"}};
  EXPECT_CONTAINS(load("c.json", j),
                  "unsupported normalizer {\"type\":\"NFKC\"}");
  j = smallJson();
  j["pre_tokenizer"] = {{"type", "ByteLevel"}};
  EXPECT_CONTAINS(load("d.json", j),
                  "unsupported pre_tokenizer {\"type\":\"ByteLevel\"}");
  j = smallJson();
  j["decoder"] = {{"type", "ByteLevel"}};
  EXPECT_CONTAINS(load("e.json", j), "unsupported decoder");
  j = smallJson();
  j["added_tokens"][1]["lstrip"] = true;
  EXPECT_CONTAINS(load("f.json", j),
                  "added token '<s>' has lstrip set, which is not supported");
}

TEST(HuggingFaceErrors, Malformed) {
  std::string text = smallJson().dump();
  EXPECT_CONTAINS(
      loadError(writeFile("a.json", text.substr(0, text.size() / 2))),
      "malformed or truncated JSON");
  nlohmann::json j = smallJson();
  j["model"]["merges"].push_back("a c");
  EXPECT_CONTAINS(loadError(writeFile("b.json", j.dump())),
                  "merge 4 uses 'c', which is not in model.vocab");
  j = smallJson();
  j["model"]["merges"].push_back("b b");
  EXPECT_CONTAINS(loadError(writeFile("c.json", j.dump())),
                  "merge 4 uses 'bb', which is not in model.vocab");
  j = smallJson();
  j["model"]["vocab"].erase("<0x7F>");
  EXPECT_CONTAINS(loadError(writeFile("d.json", j.dump())),
                  "byte_fallback needs the byte token <0x7F>");
  j = smallJson();
  j["model"].erase("vocab");
  EXPECT_CONTAINS(loadError(writeFile("e.json", j.dump())),
                  "model has no 'vocab'");
  EXPECT_CONTAINS(loadError(writeFile("f.json", "[1, 2]")),
                  "the top level is not a JSON object");
}

//===----------------------------------------------------------------------===//
// The real tokenizers (shared data)
//===----------------------------------------------------------------------===//

TEST(Tok512, HandComputedEncodings) {
  REQUIRE_DATA_FILE(path, kTok512);
  const Tokenizer &tok = shared(path);
  EXPECT_EQ(tok.vocabSize(), 512);
  // " hi": pairs " h" (270, score -11), "hi" (absent) -> " h"; " hi" is not
  // a piece -> [" h", "i" (417)].
  EXPECT_EQ(tok.encode("hi"), (Ids{270, 417}));
  // "é" (C3 A9) is a piece (485), " é" is not: [" " (410), "é"].
  EXPECT_EQ(tok.encode("\xC3\xA9"), (Ids{410, 485}));
  // "🙂" (F0 9F 99 82) is not a piece: byte tokens 3 + byte.
  EXPECT_EQ(tok.encode("\xF0\x9F\x99\x82"), (Ids{410, 243, 162, 156, 133}));
  // "\n" is not a piece: its byte token 13 sits between " a" and "b".
  EXPECT_EQ(tok.encode("a\nb"), (Ids{261, 13, 430}));
  EXPECT_EQ(tok.piece(403), " Once");
  EXPECT_EQ(tok.encode("Once upon a time"), (Ids{403, 407, 261, 378}));
}

TEST(Tok512, Decoding) {
  REQUIRE_DATA_FILE(path, kTok512);
  const Tokenizer &tok = shared(path);
  EXPECT_EQ(tok.decodeToken(1, 403), "Once");
  EXPECT_EQ(tok.decodeToken(403, 407), " upon");
  // A multi-byte character split across byte tokens: each token is one byte
  // of an incomplete UTF-8 sequence, together the character.
  Ids smile = {243, 162, 156, 133};
  std::string text;
  int32_t previous = 410;
  for (int32_t token : smile) {
    std::string bytes = tok.decodeToken(previous, token);
    EXPECT_EQ(bytes.size(), 1u);
    text += bytes;
    previous = token;
  }
  EXPECT_EQ(text, "\xF0\x9F\x99\x82");
  EXPECT_EQ(decode(tok, {1, 410, 243, 162, 156, 133}), "\xF0\x9F\x99\x82");
}

TEST(Llama2Bin, HandComputedEncodings) {
  REQUIRE_DATA_FILE(path, kLlamaBin);
  const Tokenizer &tok = shared(path);
  EXPECT_EQ(tok.vocabSize(), 32000);
  // " hi": " h" (298, -39) beats "hi" (2918, -2659), then " hi" (7251).
  EXPECT_EQ(tok.encode("hi"), (Ids{7251}));
  // " é" is a piece (904).
  EXPECT_EQ(tok.encode("\xC3\xA9"), (Ids{904}));
  // "\n" is not a piece: byte token 13.
  EXPECT_EQ(tok.encode("a\nb"), (Ids{263, 13, 29890}));
  EXPECT_EQ(tok.encode("Hello world"), (Ids{15043, 3186}));
  EXPECT_EQ(decode(tok, {15043, 3186}), "Hello world");
  EXPECT_EQ(tok.decodeToken(15043, 3186), " world");
}

TEST(Llama2Bin, ErrorsOnTruncatedRealFile) {
  REQUIRE_DATA_FILE(path, kLlamaBin);
  std::string bytes = readFile(path);
  // The last piece is 3 bytes long: cut inside it.
  std::string cut = writeFile("cut.bin", bytes.substr(0, bytes.size() - 2));
  EXPECT_CONTAINS(loadError(cut), "truncated");
}

TEST(SentencePiece, EncodeDecode) {
  REQUIRE_DATA_FILE(path, kLlamaModel);
  const Tokenizer &tok = shared(path);
  EXPECT_EQ(tok.vocabSize(), 32000);
  EXPECT_EQ(tok.bos(), 1);
  EXPECT_EQ(tok.eos(), 2);
  EXPECT_EQ(tok.encode(""), Ids{});
  EXPECT_EQ(tok.encode("Hello world"), (Ids{15043, 3186}));
  EXPECT_EQ(tok.piece(15043), std::string(kSpaceSymbol) + "Hello");
  EXPECT_EQ(tok.encode("a\nb"), (Ids{263, 13, 29890}));
  EXPECT_EQ(tok.decodeToken(1, 15043), "Hello");
  EXPECT_EQ(tok.decodeToken(15043, 3186), " world");
  EXPECT_EQ(tok.decodeToken(263, 13), "\n");
  EXPECT_EQ(tok.decodeToken(1, 29871), "");
  EXPECT_EQ(tok.decodeToken(3186, 2), "");
  EXPECT_EQ(tok.decodeToken(3186, 0), " \xE2\x81\x87 ");
  EXPECT_EQ(decode(tok, tok.encode("  x \xF0\x9F\x99\x82")),
            "  x \xF0\x9F\x99\x82");
}

TEST(SentencePiece, ErrorsOnTruncatedRealFile) {
  REQUIRE_DATA_FILE(path, kLlamaModel);
  std::string bytes = readFile(path);
  std::string cut = writeFile("cut.model", bytes.substr(0, 1000));
  EXPECT_CONTAINS(loadError(cut), "malformed or truncated SentencePiece model");
}

TEST(HuggingFaceLlama, MatchesSentencePieceOnPrompts) {
  REQUIRE_DATA_FILE(json, kLlamaJson);
  REQUIRE_DATA_FILE(model, kLlamaModel);
  const Tokenizer &hf = shared(json);
  const Tokenizer &sp = shared(model);
  EXPECT_EQ(hf.vocabSize(), 32000);
  EXPECT_EQ(hf.bos(), 1);
  EXPECT_EQ(hf.eos(), 2);
  for (const char *text :
       {"Hello world", "  two  spaces ", "a\nb", "caf\xC3\xA9 \xF0\x9F\x99\x82",
        "Once upon a time, there was a little girl named Lily.", "12345"}) {
    EXPECT_EQ(hf.encode(text), sp.encode(text)) << text;
    EXPECT_EQ(decode(hf, hf.encode(text)), text);
  }
  EXPECT_EQ(hf.decodeToken(1, 15043), "Hello");
  EXPECT_EQ(hf.decodeToken(15043, 3186), " world");
}

TEST(HuggingFaceLlama, KnownDifferencesFromSentencePiece) {
  REQUIRE_DATA_FILE(json, kLlamaJson);
  REQUIRE_DATA_FILE(model, kLlamaModel);
  const Tokenizer &hf = shared(json);
  const Tokenizer &sp = shared(model);
  // Hugging Face matches added tokens in the text; SentencePiece does not.
  EXPECT_EQ(hf.encode("<s>"), (Ids{1}));
  EXPECT_EQ(sp.encode("<s>"), (Ids{529, 29879, 29958}));
  // tokenizer.json spells piece 31353 (U+2028 LINE SEPARATOR in
  // tokenizer.model) as "", so U+2028 falls back to its bytes E2 80 A8.
  EXPECT_EQ(hf.piece(31353), "");
  EXPECT_EQ(sp.piece(31353), "\xE2\x80\xA8");
  EXPECT_EQ(hf.encode("\xE2\x80\xA8"), (Ids{29871, 229, 131, 171}));
  EXPECT_EQ(sp.encode("\xE2\x80\xA8"), (Ids{29871, 31353}));
}

TEST(HuggingFaceLlama, ErrorsOnTruncatedRealFile) {
  REQUIRE_DATA_FILE(path, kLlamaJson);
  std::string bytes = readFile(path);
  std::string cut = writeFile("cut.json", bytes.substr(0, bytes.size() - 100));
  EXPECT_CONTAINS(loadError(cut), "malformed or truncated JSON");
}

} // namespace
