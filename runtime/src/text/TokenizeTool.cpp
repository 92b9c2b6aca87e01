//===- TokenizeTool.cpp - qrt-tokenize: the tokenizers on the command line ===//
//
//   qrt-tokenize TOKENIZER --info                vocab_size, bos, eos
//   qrt-tokenize TOKENIZER --encode TEXT         one line of comma-separated
//   ids qrt-tokenize TOKENIZER --encode-file FILE    one line of ids per line
//   of FILE qrt-tokenize TOKENIZER --encode-jsonl FILE   one line of ids per
//   line of
//                                                FILE, each a JSON string
//   qrt-tokenize TOKENIZER --decode IDS          the text of IDS (after BOS)
//   qrt-tokenize TOKENIZER --decode-file FILE    per line of comma-separated
//                                                ids, the text as a JSON string
//   qrt-tokenize TOKENIZER --pieces IDS          one line per id: id, piece
//
// Ids never include the BOS that a prompt starts with; decoding treats the
// ids as generated after BOS (a leading BOS in IDS is allowed). Errors go to
// stderr with exit code 1.
//
//===----------------------------------------------------------------------===//

#include "qrt/text/Tokenizer.h"

#include <nlohmann/json.hpp>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

using qrt::text::Tokenizer;

namespace {

const char *const kUsage =
    "usage: qrt-tokenize TOKENIZER (--info | --encode TEXT | --encode-file "
    "FILE |\n"
    "                    --encode-jsonl FILE | --decode IDS | --decode-file "
    "FILE | --pieces IDS)\n"
    "TOKENIZER: llama2.c tokenizer.bin, SentencePiece .model or Hugging Face "
    "tokenizer.json\n";

[[noreturn]] void die(const std::string &message) {
  std::cerr << "qrt-tokenize: error: " << message << "\n";
  std::exit(1);
}

std::string joinIds(const std::vector<int32_t> &ids) {
  std::string line;
  for (size_t i = 0; i < ids.size(); ++i) {
    if (i)
      line += ',';
    line += std::to_string(ids[i]);
  }
  return line;
}

std::vector<int32_t> parseIds(const std::string &text, const Tokenizer &tok) {
  std::vector<int32_t> ids;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find(',', pos);
    if (end == std::string::npos)
      end = text.size();
    std::string field = text.substr(pos, end - pos);
    char *stop = nullptr;
    long value = std::strtol(field.c_str(), &stop, 10);
    if (field.empty() || *stop != '\0' || value < 0 || value >= tok.vocabSize())
      die("'" + field + "' is not a token id in [0, " +
          std::to_string(tok.vocabSize()) + ")");
    ids.push_back(static_cast<int32_t>(value));
    pos = end + 1;
  }
  return ids;
}

std::ifstream openInput(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    die("cannot open '" + path + "': " + std::strerror(errno));
  return in;
}

std::string toJson(const std::string &text) {
  return nlohmann::json(text).dump(-1, ' ', false,
                                   nlohmann::json::error_handler_t::replace);
}

} // namespace

int main(int argc, char **argv) {
  if (argc != 3 && argc != 4) {
    std::cerr << kUsage;
    return 1;
  }
  std::string error;
  std::unique_ptr<Tokenizer> tok = qrt::text::loadTokenizer(argv[1], error);
  if (!tok)
    die(error);
  std::string mode = argv[2];
  bool takesArgument = mode != "--info";
  if ((argc == 4) != takesArgument) {
    std::cerr << kUsage;
    return 1;
  }
  std::string argument = argc == 4 ? argv[3] : "";

  if (mode == "--info") {
    std::cout << "vocab_size " << tok->vocabSize() << "\nbos " << tok->bos()
              << "\neos " << tok->eos() << "\n";
  } else if (mode == "--encode") {
    std::cout << joinIds(tok->encode(argument)) << "\n";
  } else if (mode == "--encode-file" || mode == "--encode-jsonl") {
    std::ifstream in = openInput(argument);
    std::string line;
    size_t lineNumber = 0;
    while (std::getline(in, line)) {
      ++lineNumber;
      std::string text = line;
      if (mode == "--encode-jsonl") {
        nlohmann::json value = nlohmann::json::parse(line, nullptr, false);
        if (!value.is_string())
          die(argument + ":" + std::to_string(lineNumber) +
              ": not a JSON string");
        text = value.get<std::string>();
      }
      std::cout << joinIds(tok->encode(text)) << "\n";
    }
  } else if (mode == "--decode") {
    std::cout << qrt::text::decode(*tok, parseIds(argument, *tok)) << "\n";
  } else if (mode == "--decode-file") {
    std::ifstream in = openInput(argument);
    std::string line;
    while (std::getline(in, line))
      std::cout << toJson(qrt::text::decode(*tok, parseIds(line, *tok)))
                << "\n";
  } else if (mode == "--pieces") {
    for (int32_t id : parseIds(argument, *tok))
      std::cout << id << " " << toJson(tok->piece(id)) << "\n";
  } else {
    std::cerr << kUsage;
    return 1;
  }
  return 0;
}
