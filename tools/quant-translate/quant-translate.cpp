//===- quant-translate.cpp - translations into and out of qllm ------------===//
//
// Output files are written atomically: the translation writes `OUT.tmp-PID`,
// which becomes OUT only when it succeeded, so an error never leaves a
// partial plan or module behind (nor replaces a good one).
//
//===----------------------------------------------------------------------===//

#include "quant/Translate/Translations.h"

#include "mlir/Support/LogicalResult.h"
#include "mlir/Tools/mlir-translate/MlirTranslateMain.h"

#include <cstdio>
#include <string>
#include <unistd.h>
#include <vector>

int main(int argc, char **argv) {
  mlir::qllm::registerQuantTranslations();

  // Find the output file (-o FILE, -o=FILE, --o FILE, --o=FILE) and point the
  // translation at a temporary file beside it.
  std::vector<std::string> args(argv, argv + argc);
  std::string output, temporary;
  for (size_t i = 1; i < args.size(); ++i) {
    std::string &arg = args[i];
    if (arg == "--")
      break;
    std::string *path = nullptr;
    size_t prefix = 0;
    if ((arg == "-o" || arg == "--o") && i + 1 < args.size()) {
      path = &args[++i];
    } else if (arg.rfind("-o=", 0) == 0 || arg.rfind("--o=", 0) == 0) {
      path = &arg;
      prefix = arg.find('=') + 1;
    }
    if (!path || path->substr(prefix) == "-")
      continue;
    output = path->substr(prefix);
    temporary = output + ".tmp-" + std::to_string(getpid());
    path->replace(prefix, std::string::npos, temporary);
  }
  std::vector<char *> pointers;
  for (std::string &arg : args)
    pointers.push_back(arg.data());
  pointers.push_back(nullptr);

  bool ok = mlir::succeeded(mlir::mlirTranslateMain(
      static_cast<int>(args.size()), pointers.data(),
      "quant-translate: translations into and out of qllm\n"));
  if (!temporary.empty()) {
    if (ok && std::rename(temporary.c_str(), output.c_str()) != 0) {
      std::perror(("quant-translate: " + output).c_str());
      ok = false;
    }
    std::remove(temporary.c_str()); // a failed translation's leftovers
  }
  return ok ? 0 : 1;
}
