//===- OutlierStats.cpp - LLM.int8() outlier columns of a run -------------===//

#include "qrt/runtime/OutlierStats.h"

#include "qrt/core/Plan.h"

#include <cmath>
#include <vector>

namespace qrt {

void OutlierStats::beforeStep(const StepEvent &event) {
  if (event.step->kernel() != fb::Kernel::Int8MatMul || event.inputs.empty() ||
      event.weightCols <= 0)
    return;
  const StepTensor &x = event.inputs[0];
  const float *data = static_cast<const float *>(x.data);
  const int64_t cols = event.weightCols, rows = x.elements() / cols;
  const float threshold = event.step->outlier_threshold();
  Counts &c = counts_[event.weight];
  c.calls += 1;
  c.columns += cols;
  c.threshold = threshold;
  if (!(threshold > 0.0f) || !data)
    return;
  std::vector<bool> outlier(static_cast<size_t>(cols), false);
  for (int64_t t = 0; t < rows; ++t)
    for (int64_t k = 0; k < cols; ++k)
      if (std::fabs(data[t * cols + k]) >= threshold)
        outlier[k] = true;
  for (bool o : outlier)
    c.outliers += o;
}

bool OutlierStats::planHasInt8Matmuls(const LoadedPlan &plan) {
  for (const fb::Entry *entry : *plan.plan().entries())
    for (const fb::Step *step : *entry->steps())
      if (step->kernel() == fb::Kernel::Int8MatMul)
        return true;
  return false;
}

OutlierStats::Counts OutlierStats::total() const {
  Counts sum;
  for (const auto &[weight, c] : counts_) {
    sum.calls += c.calls;
    sum.columns += c.columns;
    sum.outliers += c.outliers;
  }
  return sum;
}

void OutlierStats::addFigures(Figures &figures) const {
  auto fraction = [](const Counts &c) {
    return c.columns ? static_cast<double>(c.outliers) / c.columns : 0.0;
  };
  Counts sum = total();
  figures.add("llm_int8_matmul_calls", sum.calls);
  figures.add("llm_int8_columns", sum.columns);
  figures.add("llm_int8_outlier_columns", sum.outliers);
  figures.add("llm_int8_outlier_fraction", fraction(sum));
  Figures perWeight;
  for (const auto &[weight, c] : counts_) {
    Figures one;
    one.add("calls", c.calls);
    one.add("columns", c.columns);
    one.add("outlier_columns", c.outliers);
    one.add("outlier_fraction", fraction(c));
    one.add("threshold", c.threshold);
    perWeight.addDetail(weight, one);
  }
  figures.addDetail("llm_int8_outliers", perWeight);
}

} // namespace qrt
