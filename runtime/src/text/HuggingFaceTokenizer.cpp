//===- HuggingFaceTokenizer.cpp - Hugging Face tokenizer.json (Llama 2) ---===//
//
// Exactly the configuration that Hugging Face writes for Llama 2 (the
// "legacy" LlamaTokenizerFast), and a clear error for anything else:
//   model       BPE, byte_fallback, merges (as "a b" strings or [a, b] pairs),
//               no dropout, no subword prefix/suffix, ignore_merges false;
//   normalizer  Prepend("▁") and Replace(" " -> "▁"); no pre-tokenizer;
//   decoder     Replace("▁" -> " "), ByteFallback, Fuse, Strip(" ", 1, 0);
//   added_tokens not normalized, without lstrip/rstrip/single_word.
//
// Encoding, as the tokenizers library does it: the text is split at added
// tokens (leftmost-longest match; "<s>" in a prompt becomes token 1); every
// other non-empty segment is normalized ("▁" prepended, spaces to "▁"), cut
// into characters (a character missing from the vocabulary becomes the byte
// tokens <0xHH> of its UTF-8 bytes), and its adjacent pairs are merged, the
// pair with the lowest merge rank first (leftmost on ties), until no pair in
// `merges` remains.
//
//===----------------------------------------------------------------------===//

#include "qrt/text/Tokenizer.h"

#include "TextUtil.h"

#include <nlohmann/json.hpp>

#include <unordered_map>

namespace qrt::text {
namespace {

using detail::kSpaceSymbol;

using nlohmann::json;


/// A problem with the file; the loader turns it into the error message.
struct LoadError {
  std::string message;
};

[[noreturn]] void fail(std::string message) {
  throw LoadError{std::move(message)};
}

struct AddedToken {
  std::string content;
  int32_t id;
};

class HuggingFaceTokenizer final : public Tokenizer {
public:
  std::vector<int32_t> encode(const std::string &text) const override {
    std::vector<int32_t> out;
    size_t segmentStart = 0;
    size_t pos = 0;
    while (pos < text.size()) {
      const AddedToken *match = matchAddedToken(text, pos);
      if (!match) {
        ++pos;
        continue;
      }
      encodeSegment(
          std::string_view(text).substr(segmentStart, pos - segmentStart), out);
      out.push_back(match->id);
      pos += match->content.size();
      segmentStart = pos;
    }
    encodeSegment(std::string_view(text).substr(segmentStart), out);
    return out;
  }

  std::string decodeToken(int32_t previous, int32_t token) const override {
    if (token < 0 || token >= vocabSize() || token == bos_ || token == eos_)
      return "";
    const std::string &p = pieces_[token];
    int byte = detail::parseBytePiece(p);
    if (byte >= 0)
      return std::string(1, static_cast<char>(byte));
    std::string text = detail::pieceText(p);
    if (previous == bos_ && !text.empty() && text[0] == ' ')
      text.erase(0, 1);
    return text;
  }

  int32_t vocabSize() const override {
    return static_cast<int32_t>(pieces_.size());
  }
  int32_t bos() const override { return bos_; }
  int32_t eos() const override { return eos_; }
  std::string piece(int32_t token) const override {
    if (token < 0 || token >= vocabSize())
      return "";
    return pieces_[token];
  }

  void load(const json &root);

private:
  const AddedToken *matchAddedToken(const std::string &text, size_t pos) const {
    const AddedToken *best = nullptr;
    for (const AddedToken &token : addedTokens_)
      if ((!best || token.content.size() > best->content.size()) &&
          text.compare(pos, token.content.size(), token.content) == 0)
        best = &token;
    return best;
  }

  void encodeSegment(std::string_view segment,
                     std::vector<int32_t> &out) const {
    if (segment.empty())
      return;
    std::string normalized(kSpaceSymbol);
    for (char c : segment) {
      if (c == ' ')
        normalized += kSpaceSymbol;
      else
        normalized += c;
    }
    std::vector<int32_t> symbols;
    symbols.reserve(normalized.size());
    for (size_t pos = 0; pos < normalized.size();) {
      size_t length = detail::utf8CharLength(normalized, pos);
      auto it = vocab_.find(normalized.substr(pos, length));
      if (it != vocab_.end()) {
        symbols.push_back(it->second);
      } else {
        for (size_t i = 0; i < length; ++i)
          symbols.push_back(
              byteTokens_[static_cast<unsigned char>(normalized[pos + i])]);
      }
      pos += length;
    }
    std::vector<int32_t> merged = detail::mergePairs(
        std::move(symbols),
        [&](int32_t left,
            int32_t right) -> std::optional<detail::MergeCandidate> {
          auto it = merges_.find(pairKey(left, right));
          if (it == merges_.end())
            return std::nullopt;
          return detail::MergeCandidate{static_cast<double>(it->second.rank),
                                        it->second.merged};
        });
    out.insert(out.end(), merged.begin(), merged.end());
  }

  static uint64_t pairKey(int32_t left, int32_t right) {
    return (static_cast<uint64_t>(static_cast<uint32_t>(left)) << 32) |
           static_cast<uint32_t>(right);
  }

  struct Merge {
    int32_t rank;
    int32_t merged;
  };

  std::vector<std::string> pieces_;
  std::unordered_map<std::string, int32_t> vocab_;
  std::unordered_map<uint64_t, Merge> merges_;
  std::vector<AddedToken> addedTokens_;
  int32_t byteTokens_[256] = {};
  int32_t bos_ = -1;
  int32_t eos_ = -1;
};

//===----------------------------------------------------------------------===//
// Reading tokenizer.json
//===----------------------------------------------------------------------===//

const json &member(const json &object, const char *key, const char *where) {
  auto it = object.find(key);
  if (it == object.end())
    fail(std::string(where) + " has no '" + key + "'");
  return *it;
}

std::string stringMember(const json &object, const char *key,
                         const char *where) {
  const json &value = member(object, key, where);
  if (!value.is_string())
    fail(std::string(where) + "." + key + " is not a string");
  return value.get<std::string>();
}

/// A boolean member that may be absent (then `fallback`).
bool boolMember(const json &object, const char *key, bool fallback) {
  auto it = object.find(key);
  if (it == object.end() || it->is_null())
    return fallback;
  if (!it->is_boolean())
    fail(std::string("'") + key + "' is not a boolean");
  return it->get<bool>();
}

std::string typeOf(const json &component, const char *where) {
  if (!component.is_object())
    fail(std::string(where) + " is not an object");
  return stringMember(component, "type", where);
}

/// A Replace normalizer/decoder with a plain string pattern: `from` -> `to`.
bool isStringReplace(const json &component, std::string_view from,
                     std::string_view to) {
  auto pattern = component.find("pattern");
  auto content = component.find("content");
  if (pattern == component.end() || content == component.end() ||
      !pattern->is_object() || !content->is_string())
    return false;
  auto string = pattern->find("String");
  return string != pattern->end() && string->is_string() &&
         string->get<std::string>() == from &&
         content->get<std::string>() == to;
}

const char *const kSupported =
    " (only Llama 2's tokenizer.json is supported: a BPE model with "
    "byte_fallback, normalizer Prepend(\"\xE2\x96\x81\") + Replace(\" \", "
    "\"\xE2\x96\x81\"), no pre-tokenizer)";

void checkNormalizer(const json &root) {
  auto preTokenizer = root.find("pre_tokenizer");
  if (preTokenizer != root.end() && !preTokenizer->is_null())
    fail("unsupported pre_tokenizer " + preTokenizer->dump() + kSupported);
  auto normalizer = root.find("normalizer");
  if (normalizer == root.end() || normalizer->is_null())
    fail(std::string("no normalizer") + kSupported);
  std::vector<const json *> steps;
  if (typeOf(*normalizer, "normalizer") == "Sequence") {
    const json &list = member(*normalizer, "normalizers", "normalizer");
    if (!list.is_array())
      fail("normalizer.normalizers is not an array");
    for (const json &step : list)
      steps.push_back(&step);
  } else {
    steps.push_back(&*normalizer);
  }
  bool prepend = false, replace = false;
  for (const json *step : steps) {
    std::string type = typeOf(*step, "normalizer");
    if (type == "Prepend" && !prepend && step->contains("prepend") &&
        step->at("prepend") == json(std::string(kSpaceSymbol)))
      prepend = true;
    else if (type == "Replace" && !replace &&
             isStringReplace(*step, " ", kSpaceSymbol))
      replace = true;
    else
      fail("unsupported normalizer " + step->dump() + kSupported);
  }
  if (!prepend || !replace)
    fail(std::string("normalizer lacks ") +
         (prepend ? "Replace(\" \", \"\xE2\x96\x81\")"
                  : "Prepend(\"\xE2\x96\x81\")") +
         kSupported);
}

void checkDecoder(const json &root) {
  const char *expected = " (only Llama 2's decoder is supported: Sequence of "
                         "Replace(\"\xE2\x96\x81"
                         "\", \" \"), ByteFallback, Fuse, Strip(\" \", 1, 0))";
  auto decoder = root.find("decoder");
  if (decoder == root.end() || decoder->is_null())
    fail(std::string("no decoder") + expected);
  if (typeOf(*decoder, "decoder") != "Sequence")
    fail("unsupported decoder " + decoder->dump() + expected);
  const json &steps = member(*decoder, "decoders", "decoder");
  static const char *const types[] = {"Replace", "ByteFallback", "Fuse",
                                      "Strip"};
  if (!steps.is_array() || steps.size() != 4)
    fail("unsupported decoder " + decoder->dump() + expected);
  for (size_t i = 0; i < 4; ++i)
    if (typeOf(steps[i], "decoder step") != types[i])
      fail("unsupported decoder " + decoder->dump() + expected);
  const json &strip = steps[3];
  if (!isStringReplace(steps[0], kSpaceSymbol, " ") ||
      strip.value("content", std::string()) != " " ||
      strip.value("start", -1) != 1 || strip.value("stop", -1) != 0)
    fail("unsupported decoder " + decoder->dump() + expected);
}

void HuggingFaceTokenizer::load(const json &root) {
  if (!root.is_object())
    fail("the top level is not a JSON object");
  const json &model = member(root, "model", "tokenizer.json");
  if (!model.is_object())
    fail("'model' is not an object");
  auto type = model.find("type");
  if (type == model.end() || !type->is_string())
    fail("model.type is missing (only model type BPE is supported)");
  if (*type != "BPE")
    fail("unsupported model type " + type->dump() +
         " (only BPE, as in Llama 2, is supported)");
  if (!boolMember(model, "byte_fallback", false))
    fail("BPE model without byte_fallback" + std::string(kSupported));
  auto dropout = model.find("dropout");
  if (dropout != model.end() && !dropout->is_null() &&
      !(dropout->is_number() && dropout->get<double>() == 0.0))
    fail("BPE dropout " + dropout->dump() + " is not supported");
  for (const char *key : {"continuing_subword_prefix", "end_of_word_suffix"}) {
    auto it = model.find(key);
    if (it != model.end() && !it->is_null() && *it != "")
      fail(std::string("BPE ") + key + " " + it->dump() + " is not supported");
  }
  if (boolMember(model, "ignore_merges", false))
    fail("BPE ignore_merges is not supported");
  checkNormalizer(root);
  checkDecoder(root);

  // Vocabulary: piece -> id; ids may leave holes (empty pieces).
  const json &vocab = member(model, "vocab", "model");
  if (!vocab.is_object() || vocab.empty())
    fail("model.vocab is not a non-empty object");
  constexpr int64_t kMaxId = 1 << 24;
  auto place = [&](const std::string &content, const json &idValue) {
    if (!idValue.is_number_integer() || idValue.get<int64_t>() < 0 ||
        idValue.get<int64_t>() >= kMaxId)
      fail("token '" + content + "' has an invalid id " + idValue.dump());
    auto id = static_cast<int32_t>(idValue.get<int64_t>());
    if (static_cast<size_t>(id) >= pieces_.size())
      pieces_.resize(static_cast<size_t>(id) + 1);
    return id;
  };
  std::vector<bool> used;
  for (auto it = vocab.begin(); it != vocab.end(); ++it) {
    int32_t id = place(it.key(), it.value());
    used.resize(pieces_.size());
    if (used[id])
      fail("model.vocab gives id " + std::to_string(id) + " to both '" +
           pieces_[id] + "' and '" + it.key() + "'");
    used[id] = true;
    pieces_[id] = it.key();
    vocab_.emplace(it.key(), id);
  }

  // Added tokens: matched in the raw text before normalization.
  if (auto added = root.find("added_tokens");
      added != root.end() && !added->is_null()) {
    if (!added->is_array())
      fail("added_tokens is not an array");
    for (const json &token : *added) {
      if (!token.is_object())
        fail("an added token is not an object");
      std::string content = stringMember(token, "content", "added token");
      if (content.empty())
        fail("an added token has empty content");
      int32_t id = place(content, member(token, "id", "added token"));
      for (const char *key : {"lstrip", "rstrip", "single_word", "normalized"})
        if (boolMember(token, key, false))
          fail("added token '" + content + "' has " + key +
               " set, which is not supported");
      if (pieces_[id].empty())
        pieces_[id] = content;
      else if (pieces_[id] != content)
        fail("added token '" + content + "' has the id " + std::to_string(id) +
             " of '" + pieces_[id] + "'");
      addedTokens_.push_back({content, id});
    }
  }

  for (int byte = 0; byte < 256; ++byte) {
    auto it = vocab_.find(detail::bytePiece(static_cast<unsigned char>(byte)));
    if (it == vocab_.end())
      fail("byte_fallback needs the byte token " +
           detail::bytePiece(static_cast<unsigned char>(byte)) +
           ", missing from model.vocab");
    byteTokens_[byte] = it->second;
  }

  // Merges: "left right" strings (older files) or [left, right] pairs; the
  // rank is the position in the list. A repeated pair takes its last rank,
  // as in the tokenizers library.
  const json &merges = member(model, "merges", "model");
  if (!merges.is_array())
    fail("model.merges is not an array");
  merges_.reserve(merges.size());
  auto idOf = [&](const std::string &piece, size_t rank) {
    auto it = vocab_.find(piece);
    if (it == vocab_.end())
      fail("merge " + std::to_string(rank) + " uses '" + piece +
           "', which is not in model.vocab");
    return it->second;
  };
  for (size_t rank = 0; rank < merges.size(); ++rank) {
    const json &entry = merges[rank];
    std::string left, right;
    if (entry.is_string()) {
      const std::string &text = entry.get_ref<const std::string &>();
      size_t space = text.find(' ');
      if (space == std::string::npos ||
          text.find(' ', space + 1) != std::string::npos)
        fail("merge " + std::to_string(rank) + " " + entry.dump() +
             " is not two pieces separated by a space");
      left = text.substr(0, space);
      right = text.substr(space + 1);
    } else if (entry.is_array() && entry.size() == 2 && entry[0].is_string() &&
               entry[1].is_string()) {
      left = entry[0].get<std::string>();
      right = entry[1].get<std::string>();
    } else {
      fail("merge " + std::to_string(rank) + " " + entry.dump() +
           " is neither \"a b\" nor [\"a\", \"b\"]");
    }
    int32_t leftId = idOf(left, rank);
    int32_t rightId = idOf(right, rank);
    int32_t mergedId = idOf(left + right, rank);
    merges_[pairKey(leftId, rightId)] = {static_cast<int32_t>(rank), mergedId};
  }

  // BOS and EOS: "<s>" and "</s>" (tokenizer.json names neither; Llama 2's
  // post-processor prepends "<s>").
  auto idOfSpecial = [&](const std::string &content) -> int32_t {
    for (const AddedToken &token : addedTokens_)
      if (token.content == content)
        return token.id;
    auto it = vocab_.find(content);
    return it == vocab_.end() ? -1 : it->second;
  };
  bos_ = idOfSpecial("<s>");
  eos_ = idOfSpecial("</s>");
  if (bos_ < 0 || eos_ < 0)
    fail(std::string("no ") +
         (bos_ < 0 ? "BOS token '<s>'" : "EOS token '</s>'") +
         " in added_tokens or model.vocab");
}

} // namespace

std::unique_ptr<Tokenizer> loadHuggingFaceTokenizer(const std::string &path,
                                                    std::string &error) {
  std::string data;
  if (!detail::readFile(path, data, error))
    return nullptr;
  const std::string prefix = detail::errorPrefix(path);
  json root;
  try {
    root = json::parse(data);
  } catch (const json::exception &e) {
    error = prefix + "malformed or truncated JSON: " + e.what();
    return nullptr;
  }
  auto tokenizer = std::make_unique<HuggingFaceTokenizer>();
  try {
    tokenizer->load(root);
  } catch (const LoadError &e) {
    error = prefix + e.message;
    return nullptr;
  } catch (const json::exception &e) {
    error = prefix + "malformed tokenizer.json: " + e.what();
    return nullptr;
  }
  return tokenizer;
}

} // namespace qrt::text
