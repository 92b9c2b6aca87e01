//===- OutlierStats.h - LLM.int8() outlier columns of a run -----*- C++ -*-===//
//
// A step observer that counts, at every LLM.int8() matmul (Int8MatMul step)
// it sees, the outlier columns of the step's input: the columns where some
// token's |x| reaches the step's threshold, which the kernel multiplies in
// floating point. The counts follow the chunks the run takes (a prefill
// chunk decides its columns over all of its tokens, a decode step over one).
//
//===----------------------------------------------------------------------===//

#ifndef QRT_RUNTIME_OUTLIERSTATS_H
#define QRT_RUNTIME_OUTLIERSTATS_H

#include "qrt/runtime/Figures.h"
#include "qrt/runtime/Session.h"

#include <map>
#include <string>

namespace qrt {

class OutlierStats : public StepObserver {
public:
  /// Per weight: calls, their input columns and outlier columns in all.
  struct Counts {
    int64_t calls = 0;
    int64_t columns = 0;
    int64_t outliers = 0;
    double threshold = 0;
  };

  void beforeStep(const StepEvent &event) override;

  /// Whether the plan has an LLM.int8() matmul (an observer is worth it).
  static bool planHasInt8Matmuls(const LoadedPlan &plan);

  const std::map<std::string, Counts> &perWeight() const { return counts_; }
  Counts total() const;
  /// llm_int8_matmul_calls, llm_int8_columns, llm_int8_outlier_columns,
  /// llm_int8_outlier_fraction; in the JSON only, llm_int8_outliers: per
  /// weight {calls, columns, outlier_columns, outlier_fraction, threshold}.
  void addFigures(Figures &figures) const;

private:
  std::map<std::string, Counts> counts_;
};

} // namespace qrt

#endif // QRT_RUNTIME_OUTLIERSTATS_H
