//===- SentencePieceTokenizer.cpp - SentencePiece .model ------------------===//
//
// Encoding is libsentencepiece's own (whatever model type and normalization
// the .model holds). Streaming decoding follows SentencePiece's decoder piece
// by piece: "▁" is a space, byte pieces are raw bytes, the unknown piece is
// its surface " ⁇ ", control pieces (<s>, </s>) are nothing, and the leading
// space of the first piece after BOS is dropped (the dummy prefix).
//
//===----------------------------------------------------------------------===//

#include "qrt/text/Tokenizer.h"

#include "TextUtil.h"

#include <sentencepiece_processor.h>

namespace qrt::text {
namespace {

constexpr std::string_view kUnknownSurface = " \xE2\x81\x87 "; // " ⁇ "

class SentencePieceTokenizer final : public Tokenizer {
public:
  explicit SentencePieceTokenizer(
      std::unique_ptr<sentencepiece::SentencePieceProcessor> processor)
      : processor_(std::move(processor)) {}

  std::vector<int32_t> encode(const std::string &text) const override {
    std::vector<int> ids;
    if (text.empty() || !processor_->Encode(text, &ids).ok())
      return {};
    return std::vector<int32_t>(ids.begin(), ids.end());
  }

  std::string decodeToken(int32_t previous, int32_t token) const override {
    if (token < 0 || token >= vocabSize() || processor_->IsControl(token))
      return "";
    if (processor_->IsUnknown(token))
      return std::string(kUnknownSurface);
    const std::string &p = processor_->IdToPiece(token);
    if (processor_->IsByte(token)) {
      int byte = detail::parseBytePiece(p);
      return byte >= 0 ? std::string(1, static_cast<char>(byte)) : "";
    }
    std::string text = detail::pieceText(p);
    if (previous == bos() && !text.empty() && text[0] == ' ')
      text.erase(0, 1);
    return text;
  }

  int32_t vocabSize() const override { return processor_->GetPieceSize(); }
  int32_t bos() const override { return processor_->bos_id(); }
  int32_t eos() const override { return processor_->eos_id(); }
  std::string piece(int32_t token) const override {
    if (token < 0 || token >= vocabSize())
      return "";
    return processor_->IdToPiece(token);
  }

private:
  std::unique_ptr<sentencepiece::SentencePieceProcessor> processor_;
};

} // namespace

std::unique_ptr<Tokenizer> loadSentencePieceTokenizer(const std::string &path,
                                                      std::string &error) {
  std::string data;
  if (!detail::readFile(path, data, error))
    return nullptr;
  const std::string prefix = detail::errorPrefix(path);
  if (data.empty()) {
    error = prefix + "empty file, not a SentencePiece model";
    return nullptr;
  }
  auto processor = std::make_unique<sentencepiece::SentencePieceProcessor>();
  sentencepiece::util::Status status = processor->LoadFromSerializedProto(data);
  if (!status.ok()) {
    error = prefix +
            "malformed or truncated SentencePiece model: " + status.ToString();
    return nullptr;
  }
  if (processor->GetPieceSize() <= 0) {
    error = prefix + "SentencePiece model has no pieces";
    return nullptr;
  }
  if (processor->bos_id() < 0 || processor->eos_id() < 0) {
    error = prefix + "SentencePiece model has no " +
            (processor->bos_id() < 0 ? "BOS" : "EOS") +
            " piece (a Llama tokenizer needs <s> and </s>)";
    return nullptr;
  }
  return std::make_unique<SentencePieceTokenizer>(std::move(processor));
}

} // namespace qrt::text
