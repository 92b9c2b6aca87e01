//===- Tokenizer.cpp - Tokenizer interface and format detection -----------===//

#include "qrt/text/Tokenizer.h"

#include "TextUtil.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

namespace qrt::text {

Tokenizer::~Tokenizer() = default;

std::string decode(const Tokenizer &tokenizer,
                   const std::vector<int32_t> &tokens) {
  std::string text;
  int32_t previous = tokenizer.bos();
  for (int32_t token : tokens) {
    text += tokenizer.decodeToken(previous, token);
    previous = token;
  }
  return text;
}

namespace {

enum class Format { Unknown, Llama2c, SentencePiece, HuggingFace };

std::string lowerExtension(const std::string &path) {
  size_t slash = path.find_last_of('/');
  size_t dot = path.find_last_of('.');
  if (dot == std::string::npos || (slash != std::string::npos && dot < slash))
    return "";
  std::string ext = path.substr(dot);
  for (char &c : ext)
    if (c >= 'A' && c <= 'Z')
      c = static_cast<char>(c - 'A' + 'a');
  return ext;
}

bool isSpace(unsigned char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/// The format that the first bytes of a file show, when they are conclusive.
Format sniff(const std::string &head) {
  // JSON: '{' then '"' or '}' (skipping whitespace). A llama2.c file whose
  // max_token_length happens to be 123 ('{') has NUL bytes after it.
  size_t i = 0;
  while (i < head.size() && isSpace(static_cast<unsigned char>(head[i])))
    ++i;
  if (i < head.size() && head[i] == '{') {
    ++i;
    while (i < head.size() && isSpace(static_cast<unsigned char>(head[i])))
      ++i;
    if (i < head.size() && (head[i] == '"' || head[i] == '}'))
      return Format::HuggingFace;
  }
  // SentencePiece ModelProto: field 1 (`pieces`, length-delimited, tag 0x0A)
  // with a non-zero length. A llama2.c header of max_token_length 10 is
  // 0A 00 00 00.
  if (head.size() >= 2 && head[0] == '\x0A' && head[1] != '\0')
    return Format::SentencePiece;
  // llama2.c: a small positive little-endian int32 max_token_length, then a
  // float score and an int32 length.
  if (head.size() >= 12) {
    int32_t maxLength;
    std::memcpy(&maxLength, head.data(), 4);
    if (maxLength > 0 && maxLength <= 4096)
      return Format::Llama2c;
  }
  return Format::Unknown;
}

} // namespace

std::unique_ptr<Tokenizer> loadTokenizer(const std::string &path,
                                         std::string &error) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    error = detail::errorPrefix(path) + "cannot open: " + std::strerror(errno);
    return nullptr;
  }
  std::string head(64, '\0');
  in.read(head.data(), static_cast<std::streamsize>(head.size()));
  head.resize(static_cast<size_t>(in.gcount()));

  Format format = sniff(head);
  if (format == Format::Unknown) {
    std::string ext = lowerExtension(path);
    if (ext == ".json")
      format = Format::HuggingFace;
    else if (ext == ".model")
      format = Format::SentencePiece;
    else if (ext == ".bin")
      format = Format::Llama2c;
  }
  switch (format) {
  case Format::Llama2c:
    return loadLlama2cTokenizer(path, error);
  case Format::SentencePiece:
    return loadSentencePieceTokenizer(path, error);
  case Format::HuggingFace:
    return loadHuggingFaceTokenizer(path, error);
  case Format::Unknown:
    break;
  }
  error = detail::errorPrefix(path) +
          (head.empty() ? std::string("empty file")
                        : std::string("unrecognized format")) +
          " (expected a llama2.c tokenizer.bin, a SentencePiece .model or a "
          "Hugging Face tokenizer.json)";
  return nullptr;
}

namespace detail {

std::string errorPrefix(const std::string &path) {
  return "tokenizer '" + path + "': ";
}

bool readFile(const std::string &path, std::string &contents,
              std::string &error) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    error = errorPrefix(path) + "cannot open: " + std::strerror(errno);
    return false;
  }
  std::ostringstream buffer;
  buffer << in.rdbuf();
  if (in.bad()) {
    error = errorPrefix(path) + "read error: " + std::strerror(errno);
    return false;
  }
  contents = std::move(buffer).str();
  return true;
}

size_t utf8CharLength(std::string_view text, size_t pos) {
  size_t length = 1;
  while (length < 4 && pos + length < text.size() &&
         (static_cast<unsigned char>(text[pos + length]) & 0xC0) == 0x80)
    ++length;
  return length;
}

std::string pieceText(std::string_view piece) {
  std::string text;
  text.reserve(piece.size());
  for (size_t pos = 0; pos < piece.size();) {
    if (piece.compare(pos, kSpaceSymbol.size(), kSpaceSymbol) == 0) {
      text += ' ';
      pos += kSpaceSymbol.size();
    } else {
      text += piece[pos++];
    }
  }
  return text;
}

int parseBytePiece(std::string_view piece) {
  if (piece.size() != 6 || piece.substr(0, 3) != "<0x" || piece[5] != '>')
    return -1;
  int value = 0;
  for (size_t i = 3; i < 5; ++i) {
    char c = piece[i];
    int digit;
    if (c >= '0' && c <= '9')
      digit = c - '0';
    else if (c >= 'A' && c <= 'F')
      digit = c - 'A' + 10;
    else if (c >= 'a' && c <= 'f')
      digit = c - 'a' + 10;
    else
      return -1;
    value = value * 16 + digit;
  }
  return value;
}

std::string bytePiece(unsigned char byte) {
  static const char hex[] = "0123456789ABCDEF";
  std::string piece = "<0x00>";
  piece[3] = hex[byte >> 4];
  piece[4] = hex[byte & 15];
  return piece;
}

} // namespace detail
} // namespace qrt::text
