//===- Tokenizer.h - Tokenizers of quant-run -------------------*- C++ -*-===//
//
// The tokenizers that turn a prompt into token ids and generated ids back
// into text. Three file formats, one interface:
//   - llama2.c `tokenizer.bin` (scores + pieces; greedy score merges),
//   - SentencePiece `.model` (through libsentencepiece),
//   - Hugging Face `tokenizer.json` as written for Llama 2 (BPE with merge
//     ranks and byte fallback, "▁" normalization).
// No MLIR/LLVM here.
//
//===----------------------------------------------------------------------===//

#ifndef QRT_TEXT_TOKENIZER_H
#define QRT_TEXT_TOKENIZER_H

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace qrt::text {

class Tokenizer {
public:
  virtual ~Tokenizer();
  /// Token ids of `text` as the model's own tokenizer produces them for a
  /// prompt, WITHOUT the BOS token (the caller adds it). Empty text -> no
  /// tokens.
  virtual std::vector<int32_t> encode(const std::string &text) const = 0;
  /// The bytes that token `token` contributes when it follows `previous` in
  /// generated output (streaming): e.g. the leading space of a piece right
  /// after BOS is dropped, byte-fallback pieces <0xHH> are raw bytes; may be
  /// an incomplete UTF-8 sequence. BOS and EOS contribute nothing, nor does
  /// an id outside [0, vocabSize()).
  virtual std::string decodeToken(int32_t previous, int32_t token) const = 0;
  virtual int32_t vocabSize() const = 0;
  virtual int32_t bos() const = 0;
  virtual int32_t eos() const = 0;
  /// The text of a piece (for diagnostics).
  virtual std::string piece(int32_t token) const = 0;
};

/// Loads a tokenizer by file format, recognized by content/extension:
/// llama2.c `tokenizer.bin` (`.bin`), SentencePiece `.model`, Hugging Face
/// `tokenizer.json` (Llama BPE with byte fallback, as written by HF for
/// Llama 2). On failure returns nullptr and sets `error` to a message naming
/// the file and the problem (missing, truncated, malformed, unsupported
/// tokenizer type).
std::unique_ptr<Tokenizer> loadTokenizer(const std::string &path,
                                         std::string &error);

/// The loaders of each format, for callers that know it. Same contract as
/// loadTokenizer.
std::unique_ptr<Tokenizer> loadLlama2cTokenizer(const std::string &path,
                                                std::string &error);
std::unique_ptr<Tokenizer> loadSentencePieceTokenizer(const std::string &path,
                                                      std::string &error);
std::unique_ptr<Tokenizer> loadHuggingFaceTokenizer(const std::string &path,
                                                    std::string &error);

/// The text of `tokens` generated after BOS: the concatenation of
/// decodeToken over the sequence, the first token following BOS. A leading
/// BOS in `tokens` is allowed (it contributes nothing).
std::string decode(const Tokenizer &tokenizer,
                   const std::vector<int32_t> &tokens);

} // namespace qrt::text

#endif // QRT_TEXT_TOKENIZER_H
