//===- MpiCommunicator.h - ranks as MPI processes ---------------*- C++ -*-===//
//
// The Communicator of a process launched by `mpirun -np N`: MPI_COMM_WORLD's
// ranks, MPI's collectives (Open MPI: shared memory on one machine, the
// network between machines). Built when CMake finds MPI (Debian:
// libopenmpi-dev); quant-run links it and starts MPI only for a plan that
// is split.
//
//===----------------------------------------------------------------------===//

#ifndef QRT_MPI_MPICOMMUNICATOR_H
#define QRT_MPI_MPICOMMUNICATOR_H

#include "qrt/runtime/Communicator.h"

#include <memory>
#include <string>

namespace qrt {

/// Initializes MPI (once per process; finalized when the communicator is
/// destroyed) and returns the world communicator; nullptr and `error` if
/// MPI cannot start.
std::unique_ptr<Communicator> createMpiCommunicator(int *argc, char ***argv,
                                                    std::string &error);

/// Whether this process was started by an MPI launcher (mpirun, srun):
/// the launcher's rank variables are set.
bool launchedByMpi();

} // namespace qrt

#endif // QRT_MPI_MPICOMMUNICATOR_H
