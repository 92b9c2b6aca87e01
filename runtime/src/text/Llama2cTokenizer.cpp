//===- Llama2cTokenizer.cpp - llama2.c tokenizer.bin ----------------------===//
//
// File: int32 max_token_length, then per token float32 score, int32 length,
// that many bytes. The vocabulary size is not stored: the tokens run to the
// end of the file. Ids 0, 1, 2 are <unk>, <s>, </s>; 3..258 the byte tokens
// <0x00>..<0xFF>. Pieces spell SentencePiece's "▁" as a plain space.
//
// Encoding (as llama2.c's run.c): the dummy-prefix token " " when the text is
// non-empty, then each UTF-8 character's token or, when absent, its bytes'
// byte tokens; then merge the adjacent pair whose concatenated piece is a
// token with the highest score (leftmost on ties) until none merges.
//
//===----------------------------------------------------------------------===//

#include "qrt/text/Tokenizer.h"

#include "TextUtil.h"

#include <cmath>
#include <cstring>
#include <unordered_map>

namespace qrt::text {
namespace {

constexpr int32_t kBos = 1;
constexpr int32_t kEos = 2;
constexpr int32_t kFirstByteToken = 3;
constexpr int32_t kMinVocab = kFirstByteToken + 256;

class Llama2cTokenizer final : public Tokenizer {
public:
  Llama2cTokenizer(std::vector<std::string> pieces, std::vector<float> scores)
      : pieces_(std::move(pieces)), scores_(std::move(scores)) {
    ids_.reserve(pieces_.size());
    // The first id of a duplicated piece wins.
    for (size_t id = 0; id < pieces_.size(); ++id)
      ids_.emplace(pieces_[id], static_cast<int32_t>(id));
  }

  std::vector<int32_t> encode(const std::string &text) const override {
    if (text.empty())
      return {};
    std::string prefixed = " " + text;
    std::vector<int32_t> symbols;
    symbols.reserve(prefixed.size());
    for (size_t pos = 0; pos < prefixed.size();) {
      size_t length = detail::utf8CharLength(prefixed, pos);
      auto it = ids_.find(prefixed.substr(pos, length));
      if (it != ids_.end()) {
        symbols.push_back(it->second);
      } else {
        for (size_t i = 0; i < length; ++i)
          symbols.push_back(kFirstByteToken +
                            static_cast<unsigned char>(prefixed[pos + i]));
      }
      pos += length;
    }
    std::string joined;
    return detail::mergePairs(
        std::move(symbols),
        [&](int32_t left,
            int32_t right) -> std::optional<detail::MergeCandidate> {
          joined.assign(pieces_[left]);
          joined.append(pieces_[right]);
          auto it = ids_.find(joined);
          if (it == ids_.end())
            return std::nullopt;
          // Highest score first: the heap pops the lowest priority.
          return detail::MergeCandidate{
              -static_cast<double>(scores_[it->second]), it->second};
        });
  }

  std::string decodeToken(int32_t previous, int32_t token) const override {
    if (token < 0 || token >= vocabSize() || token == kBos || token == kEos)
      return "";
    const std::string &p = pieces_[token];
    int byte = detail::parseBytePiece(p);
    if (byte >= 0)
      return std::string(1, static_cast<char>(byte));
    if (previous == kBos && !p.empty() && p[0] == ' ')
      return p.substr(1);
    return p;
  }

  int32_t vocabSize() const override {
    return static_cast<int32_t>(pieces_.size());
  }
  int32_t bos() const override { return kBos; }
  int32_t eos() const override { return kEos; }
  std::string piece(int32_t token) const override {
    if (token < 0 || token >= vocabSize())
      return "";
    return pieces_[token];
  }

private:
  std::vector<std::string> pieces_;
  std::vector<float> scores_;
  std::unordered_map<std::string, int32_t> ids_;
};

} // namespace

std::unique_ptr<Tokenizer> loadLlama2cTokenizer(const std::string &path,
                                                std::string &error) {
  std::string data;
  if (!detail::readFile(path, data, error))
    return nullptr;
  const std::string prefix = detail::errorPrefix(path);
  auto readInt32 = [&](size_t offset) {
    int32_t value;
    std::memcpy(&value, data.data() + offset, 4);
    return value;
  };
  if (data.size() < 4) {
    error = prefix +
            "truncated llama2.c tokenizer: " + std::to_string(data.size()) +
            " bytes, no max_token_length header";
    return nullptr;
  }
  int32_t maxLength = readInt32(0);
  if (maxLength <= 0 || maxLength > 65536) {
    error = prefix + "malformed llama2.c tokenizer: max_token_length " +
            std::to_string(maxLength) + " is not in [1, 65536]";
    return nullptr;
  }
  std::vector<std::string> pieces;
  std::vector<float> scores;
  size_t offset = 4;
  while (offset < data.size()) {
    std::string where = "token " + std::to_string(pieces.size()) + " at byte " +
                        std::to_string(offset);
    if (data.size() - offset < 8) {
      error = prefix + "truncated llama2.c tokenizer: " + where +
              " has an incomplete score/length header";
      return nullptr;
    }
    float score;
    std::memcpy(&score, data.data() + offset, 4);
    int32_t length = readInt32(offset + 4);
    offset += 8;
    if (!std::isfinite(score)) {
      error = prefix + "malformed llama2.c tokenizer: " + where +
              " has a non-finite score";
      return nullptr;
    }
    if (length < 0 || length > maxLength) {
      error = prefix + "malformed llama2.c tokenizer: " + where +
              " has length " + std::to_string(length) +
              " outside [0, max_token_length " + std::to_string(maxLength) +
              "]";
      return nullptr;
    }
    if (data.size() - offset < static_cast<size_t>(length)) {
      error = prefix + "truncated llama2.c tokenizer: " + where + " needs " +
              std::to_string(length) + " bytes, " +
              std::to_string(data.size() - offset) + " left";
      return nullptr;
    }
    pieces.emplace_back(data, offset, static_cast<size_t>(length));
    scores.push_back(score);
    offset += static_cast<size_t>(length);
  }
  if (pieces.size() < static_cast<size_t>(kMinVocab)) {
    error = prefix + "truncated or malformed llama2.c tokenizer: " +
            std::to_string(pieces.size()) + " tokens, need at least " +
            std::to_string(kMinVocab) +
            " (<unk>, <s>, </s> and the 256 byte tokens)";
    return nullptr;
  }
  for (int byte = 0; byte < 256; ++byte) {
    const std::string &p = pieces[kFirstByteToken + byte];
    if (detail::parseBytePiece(p) != byte) {
      error = prefix + "malformed llama2.c tokenizer: token " +
              std::to_string(kFirstByteToken + byte) + " is '" + p +
              "', expected the byte token " +
              detail::bytePiece(static_cast<unsigned char>(byte));
      return nullptr;
    }
  }
  return std::make_unique<Llama2cTokenizer>(std::move(pieces),
                                            std::move(scores));
}

} // namespace qrt::text
