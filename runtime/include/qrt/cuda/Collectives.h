//===- Collectives.h - a tensor-parallel plan's collectives on GPUs -*- C++ -*-===//
//
// A CUDA session of a split plan runs its AllReduce and AllGather steps on
// device memory, in order with its launches, through a DeviceCollectives:
//
//  - NCCL (openNcclCollectives): libnccl.so.2 loaded at run time with dlopen
//    (or the library the environment variable QRT_NCCL names; no NCCL at
//    build time), one communicator per rank, bootstrapped through the
//    ranks' host Communicator (rank 0's ncclUniqueId broadcast over MPI),
//    collectives enqueued on the device's stream. One process per GPU,
//    launched by mpirun like the CPU ranks: the same launch, the same
//    bootstrap, and a process that fails takes only its rank down.
//  - host-staged (createHostStagedCollectives): device -> host copy, the
//    host Communicator's collective, host -> device copy. For devices NCCL
//    cannot drive (the runtime's CUDA emulator in tests).
//
//===----------------------------------------------------------------------===//

#ifndef QRT_CUDA_COLLECTIVES_H
#define QRT_CUDA_COLLECTIVES_H

#include "qrt/cuda/Device.h"
#include "qrt/runtime/Communicator.h"

#include <cstdint>
#include <memory>
#include <string>

namespace qrt::cuda {

class DeviceCollectives {
public:
  virtual ~DeviceCollectives();
  /// "nccl 2.27.3", "host-staged (mpi: Open MPI v4.1.4)".
  virtual std::string name() const = 0;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  /// f32 data[i] = the sum over the ranks, in place, after everything
  /// issued before on the device.
  virtual bool allReduceSum(uint64_t data, uint64_t count,
                            std::string &error) = 0;
  /// f32 out[r * count + i] = in[i] of rank r (out must not overlap in).
  virtual bool allGather(uint64_t in, uint64_t count, uint64_t out,
                         std::string &error) = 0;
};

/// Collectives through host copies and `communicator` (not owned).
std::unique_ptr<DeviceCollectives>
createHostStagedCollectives(Device &device, Communicator &communicator);

/// NCCL's collectives for this rank (`bootstrap`'s rank and size), enqueued
/// on `device`'s stream. Every rank calls it at once (it is collective).
/// nullptr and `error` when NCCL cannot be loaded or initialized.
std::unique_ptr<DeviceCollectives>
openNcclCollectives(Device &device, Communicator &bootstrap,
                    std::string &error);

} // namespace qrt::cuda

#endif // QRT_CUDA_COLLECTIVES_H
