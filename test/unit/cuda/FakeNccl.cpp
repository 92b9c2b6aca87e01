//===- FakeNccl.cpp - a stand-in libnccl for tests without GPUs -----------===//
//
// The NCCL entry points the runtime loads (qrt/cuda/Collectives.h), for
// ranks that are MPI processes whose device memory is host memory (the CUDA
// emulator's): a communicator is MPI_COMM_WORLD, ncclAllReduce (f32 sum)
// and ncclAllGather (f32) are MPI's on those pointers. Streams are ignored
// (the emulator runs everything in order, at once). Loaded by the tests
// through QRT_NCCL into a process that has initialized MPI; version
// "2.99.0".
//
//===----------------------------------------------------------------------===//

#include <mpi.h>

#include <cstring>

namespace {
constexpr int kSuccess = 0, kSystemError = 2, kInvalidArgument = 4;
constexpr int kFloat32 = 7, kSum = 0;
} // namespace

extern "C" {

struct ncclUniqueId {
  char internal[128];
};
struct ncclComm {
  int rank, size;
};

int ncclGetVersion(int *version) {
  *version = 29900;
  return kSuccess;
}

int ncclGetUniqueId(ncclUniqueId *id) {
  std::memset(id, 0, sizeof(*id));
  std::strcpy(id->internal, "fake-nccl: MPI_COMM_WORLD");
  return kSuccess;
}

int ncclCommInitRank(ncclComm **comm, int ranks, ncclUniqueId id, int rank) {
  int initialized = 0, size = 0;
  MPI_Initialized(&initialized);
  if (!initialized || std::strcmp(id.internal, "fake-nccl: MPI_COMM_WORLD"))
    return kInvalidArgument;
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  if (size != ranks || rank < 0 || rank >= ranks)
    return kInvalidArgument;
  *comm = new ncclComm{rank, ranks};
  return MPI_Barrier(MPI_COMM_WORLD) == MPI_SUCCESS ? kSuccess : kSystemError;
}

int ncclCommDestroy(ncclComm *comm) {
  delete comm;
  return kSuccess;
}

int ncclAllReduce(const void *send, void *receive, size_t count, int type,
                  int op, ncclComm *comm, void *) {
  if (type != kFloat32 || op != kSum || !comm)
    return kInvalidArgument;
  int code = MPI_Allreduce(send == receive ? MPI_IN_PLACE : send, receive,
                           static_cast<int>(count), MPI_FLOAT, MPI_SUM,
                           MPI_COMM_WORLD);
  return code == MPI_SUCCESS ? kSuccess : kSystemError;
}

int ncclAllGather(const void *send, void *receive, size_t count, int type,
                  ncclComm *comm, void *) {
  if (type != kFloat32 || !comm)
    return kInvalidArgument;
  int code = MPI_Allgather(send, static_cast<int>(count), MPI_FLOAT, receive,
                           static_cast<int>(count), MPI_FLOAT, MPI_COMM_WORLD);
  return code == MPI_SUCCESS ? kSuccess : kSystemError;
}

const char *ncclGetErrorString(int result) {
  return result == kSuccess ? "no error" : "failed (fake NCCL)";
}

} // extern "C"
