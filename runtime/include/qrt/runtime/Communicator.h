//===- Communicator.h - collectives between the ranks of a plan -*- C++ -*-===//
//
// A tensor-parallel plan runs as one session per rank; the sessions meet at
// the plan's AllReduce and AllGather steps through a Communicator. The
// runtime only states what it needs here; the transports are existing
// engines: MPI between processes and machines (qrt/mpi/MpiCommunicator.h,
// `mpirun -np N quant-run PLAN`), and threads of one process sharing memory
// (ThreadGroup below: for tests, and for running every rank of a small
// plan in one process).
//
// Every rank calls the same collectives in the same order with the same
// counts (the plan's steps guarantee it); a collective returns on a rank
// when that rank's part is done.
//
//===----------------------------------------------------------------------===//

#ifndef QRT_RUNTIME_COMMUNICATOR_H
#define QRT_RUNTIME_COMMUNICATOR_H

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace qrt {

/// What one rank's collectives moved so far (for figures and for the
/// bytes-per-token checks against the theory).
struct CollectiveTraffic {
  uint64_t allReduceCalls = 0, allReduceBytes = 0;
  uint64_t allGatherCalls = 0, allGatherBytes = 0;
  uint64_t broadcastCalls = 0, broadcastBytes = 0;
};

class Communicator {
public:
  virtual ~Communicator();
  virtual int rank() const = 0;
  virtual int size() const = 0;
  /// The transport, for messages and figures ("mpi: Open MPI v4.1.4",
  /// "threads").
  virtual std::string name() const = 0;

  /// data[i] = the sum over every rank of its data[i], on every rank (the
  /// same bits on each: ranks then decide alike).
  bool allReduceSum(float *data, size_t count, std::string &error);
  /// out[r * count + i] = in[i] of rank r, on every rank.
  bool allGather(const float *in, size_t count, float *out,
                 std::string &error);
  /// Rank `root`'s `bytes` bytes at `data`, on every rank.
  bool broadcast(void *data, size_t bytes, int root, std::string &error);

  /// Bytes each call passed in (count * 4 for the float collectives), and
  /// calls, so far.
  const CollectiveTraffic &traffic() const { return traffic_; }

protected:
  virtual bool doAllReduceSum(float *data, size_t count,
                              std::string &error) = 0;
  virtual bool doAllGather(const float *in, size_t count, float *out,
                           std::string &error) = 0;
  virtual bool doBroadcast(void *data, size_t bytes, int root,
                           std::string &error) = 0;

private:
  CollectiveTraffic traffic_;
};

/// `size` communicators of one process, one per rank, for threads that run
/// one rank each (the group's state is shared; destroy them after the
/// threads are done). Reductions add the ranks in rank order on every rank.
std::vector<std::unique_ptr<Communicator>> createThreadGroup(int size);

} // namespace qrt

#endif // QRT_RUNTIME_COMMUNICATOR_H
