//===- CompilerModule.cpp - quant_opt._compiler (pybind11) ----------------===//
//
// The compiler half of the Python package: ONNX model -> plan bytes and ->
// IR text, in process (quant/Translate/CompileOnnx.h: no MLIR type crosses
// this file). Imported by quant_opt.compile() and import_onnx() on first
// use, so that importing quant_opt loads no compiler. The GIL is released
// while the compiler runs.
//
//===----------------------------------------------------------------------===//

#include "quant/Translate/CompileOnnx.h"

#include <pybind11/pybind11.h>

#include <string>
#include <vector>

namespace py = pybind11;

PYBIND11_MODULE(_compiler, m) {
  m.doc() = "quant-opt's compiler (C++, MLIR): ONNX to plans and IR";
  m.def(
      "compile_onnx",
      [](const std::string &path, const std::string &options,
         bool weightless) {
        std::vector<uint8_t> plan;
        std::string diagnostics;
        bool ok;
        {
          py::gil_scoped_release release;
          ok = quant::compileOnnxToPlan(path, options, weightless, plan,
                                        diagnostics);
        }
        return py::make_tuple(
            ok ? py::bytes(reinterpret_cast<const char *>(plan.data()),
                           plan.size())
               : py::bytes(),
            ok, diagnostics);
      },
      py::arg("path"), py::arg("options"), py::arg("weightless") = false,
      "(plan bytes, ok, diagnostics) of the ONNX model compiled with the "
      "quant-compile option string");
  m.def(
      "import_onnx",
      [](const std::string &path, bool cleanup, bool weightless) {
        std::string text, diagnostics;
        bool ok;
        {
          py::gil_scoped_release release;
          ok = quant::importOnnxToText(path, cleanup, weightless, text,
                                       diagnostics);
        }
        return py::make_tuple(text, ok, diagnostics);
      },
      py::arg("path"), py::arg("cleanup") = true, py::arg("weightless") = true,
      "(IR text, ok, diagnostics) of the ONNX model imported (and raised)");
}
