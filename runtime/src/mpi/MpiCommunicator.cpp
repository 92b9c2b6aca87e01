//===- MpiCommunicator.cpp - ranks as MPI processes -----------------------===//

#include "qrt/mpi/MpiCommunicator.h"

#include <mpi.h>

#include <climits>
#include <cstdlib>

namespace qrt {

namespace {

std::string mpiError(const char *what, int code) {
  char text[MPI_MAX_ERROR_STRING];
  int length = 0;
  MPI_Error_string(code, text, &length);
  return std::string(what) + " failed: " + std::string(text, length);
}

class MpiCommunicator final : public Communicator {
public:
  MpiCommunicator(int rank, int size) : rank_(rank), size_(size) {}
  ~MpiCommunicator() override {
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (!finalized)
      MPI_Finalize();
  }
  int rank() const override { return rank_; }
  int size() const override { return size_; }
  std::string name() const override {
    char version[MPI_MAX_LIBRARY_VERSION_STRING];
    int length = 0;
    MPI_Get_library_version(version, &length);
    std::string text(version, length);
    // "Open MPI v4.1.4, package: ...": the first clause.
    if (size_t comma = text.find(','); comma != std::string::npos)
      text.resize(comma);
    return "mpi: " + text;
  }

protected:
  bool doAllReduceSum(float *data, size_t count, std::string &error) override {
    if (count > INT_MAX)
      return tooLarge(error);
    int code = MPI_Allreduce(MPI_IN_PLACE, data, static_cast<int>(count),
                             MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
    return check("MPI_Allreduce", code, error);
  }
  bool doAllGather(const float *in, size_t count, float *out,
                   std::string &error) override {
    if (count > INT_MAX)
      return tooLarge(error);
    int code = MPI_Allgather(in, static_cast<int>(count), MPI_FLOAT, out,
                             static_cast<int>(count), MPI_FLOAT,
                             MPI_COMM_WORLD);
    return check("MPI_Allgather", code, error);
  }
  bool doBroadcast(void *data, size_t bytes, int root,
                   std::string &error) override {
    if (bytes > INT_MAX)
      return tooLarge(error);
    int code = MPI_Bcast(data, static_cast<int>(bytes), MPI_BYTE, root,
                         MPI_COMM_WORLD);
    return check("MPI_Bcast", code, error);
  }

private:
  static bool check(const char *what, int code, std::string &error) {
    if (code == MPI_SUCCESS)
      return true;
    error = mpiError(what, code);
    return false;
  }
  static bool tooLarge(std::string &error) {
    error = "a collective of more than 2^31 elements";
    return false;
  }
  int rank_, size_;
};

} // namespace

bool launchedByMpi() {
  for (const char *name : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK",
                           "MPI_LOCALNRANKS", "SLURM_NTASKS"})
    if (std::getenv(name))
      return true;
  return false;
}

std::unique_ptr<Communicator> createMpiCommunicator(int *argc, char ***argv,
                                                    std::string &error) {
  int initialized = 0;
  MPI_Initialized(&initialized);
  if (!initialized) {
    int code = MPI_Init(argc, argv);
    if (code != MPI_SUCCESS) {
      error = mpiError("MPI_Init", code);
      return nullptr;
    }
  }
  // Errors come back as codes (then messages), not aborts.
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  int rank = 0, size = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  return std::make_unique<MpiCommunicator>(rank, size);
}

} // namespace qrt
