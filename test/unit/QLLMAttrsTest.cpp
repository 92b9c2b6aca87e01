//===- QLLMAttrsTest.cpp - qllm scheme attributes through the C++ API -----===//

#include "qllm/IR/QLLMOps.h"

#include "mlir/AsmParser/AsmParser.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/Verifier.h"
#include "mlir/Parser/Parser.h"

#include <gtest/gtest.h>

using namespace mlir;
using namespace mlir::qllm;

namespace {

class QLLMAttrsTest : public ::testing::Test {
protected:
  QLLMAttrsTest() {
    context.loadDialect<QLLMDialect, func::FuncDialect>();
  }
  template <typename T>
  std::string print(T value) {
    std::string s;
    llvm::raw_string_ostream os(s);
    os << value;
    return s;
  }
  MLIRContext context;
};

TEST_F(QLLMAttrsTest, IntQuantDefaultsAreOmittedWhenPrinted) {
  auto attr = IntQuantAttr::get(&context, 4, 128, /*symmetric=*/false,
                                /*act_order=*/true,
                                Float16Type::get(&context));
  EXPECT_EQ(print(attr),
            "#qllm.intq<bits = 4, group_size = 128, act_order = true>");
  auto perChannel =
      IntQuantAttr::get(&context, 8, ::qrt::kPerChannel, true, false,
                        Float32Type::get(&context));
  EXPECT_EQ(print(perChannel), "#qllm.intq<bits = 8, group_size = per_channel, "
                               "symmetric = true, scale_type = f32>");
  EXPECT_TRUE(perChannel.isPerChannel());
}

TEST_F(QLLMAttrsTest, ParsedSchemeGivesTheRuntimeLayout) {
  Attribute parsed = parseAttribute(
      "#qllm.intq<bits = 3, group_size = 64, symmetric = true>", &context);
  auto scheme = dyn_cast_or_null<QuantSchemeAttrInterface>(parsed);
  ASSERT_TRUE(scheme);
  EXPECT_EQ(scheme.getCodeBits(), 3u);
  ::qrt::WeightLayout layout = scheme.getLayout(10, 172);
  ::qrt::WeightLayout direct = ::qrt::layoutFor(
      ::qrt::IntNScheme{3, 64, true, false, ::qrt::ScaleType::F16}, 10, 172);
  ASSERT_EQ(layout.components.size(), direct.components.size());
  for (size_t i = 0; i < layout.components.size(); ++i)
    EXPECT_EQ(layout.components[i].shape, direct.components[i].shape);
  EXPECT_EQ(layout.totalBytes(), direct.totalBytes());
}

TEST_F(QLLMAttrsTest, NF4DoubleQuantLayoutThroughTheType) {
  auto scheme = NF4Attr::get(&context, 64, /*double_quant=*/true, 256,
                             Float32Type::get(&context));
  auto type = QTensorType::get(&context, {128, 256}, scheme);
  EXPECT_EQ(print(type),
            "!qllm.qtensor<128x256, #qllm.nf4<double_quant = true>>");
  ::qrt::WeightLayout layout = type.getLayout();
  ASSERT_NE(layout.find(::qrt::ComponentRole::DoubleQuantScales), nullptr);
  EXPECT_EQ(layout.find(::qrt::ComponentRole::DoubleQuantScales)->shape,
            (std::vector<int64_t>{2})); // 128 * 4 absmax / 256
}

TEST_F(QLLMAttrsTest, VerifierRejectsMismatchedComponents) {
  const char *ir = R"mlir(
    func.func @f() -> !qllm.qtensor<64x256, #qllm.intq<bits = 4, group_size = 128>> {
      %d = qllm.weight "w.data" = dense_resource<d> : tensor<64x128xui8>
      %s = qllm.weight "w.scales" = dense_resource<s> : tensor<64x3xf16>
      %z = qllm.weight "w.zeros" = dense_resource<z> : tensor<64x1xui8>
      %q = qllm.quantized_weight "w" data(%d : tensor<64x128xui8>)
             scales(%s : tensor<64x3xf16>) zero_points(%z : tensor<64x1xui8>)
             -> !qllm.qtensor<64x256, #qllm.intq<bits = 4, group_size = 128>>
      return %q : !qllm.qtensor<64x256, #qllm.intq<bits = 4, group_size = 128>>
    })mlir";
  std::string diagnostics;
  ScopedDiagnosticHandler handler(&context, [&](Diagnostic &diag) {
    diagnostics += diag.str();
    return success();
  });
  OwningOpRef<ModuleOp> module = parseSourceString<ModuleOp>(ir, &context);
  EXPECT_FALSE(module);
  EXPECT_NE(diagnostics.find("scales must be 'tensor<64x2xf16>'"),
            std::string::npos)
      << diagnostics;
}

} // namespace
