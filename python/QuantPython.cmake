# Finds the Python headers and pybind11 for the package's extensions
# (included by python/CMakeLists.txt and python/compiler/CMakeLists.txt):
# Debian's interpreter, which sees the python3-* packages, not one earlier
# on PATH. Sets QUANT_PYTHON_FOUND.
if(EXISTS /usr/bin/python3 AND NOT Python3_EXECUTABLE)
  set(Python3_EXECUTABLE /usr/bin/python3)
  set(PYTHON_EXECUTABLE /usr/bin/python3)
endif()
find_package(Python3 COMPONENTS Interpreter Development.Module)
find_package(pybind11 CONFIG QUIET)
if(Python3_FOUND AND pybind11_FOUND)
  set(QUANT_PYTHON_FOUND TRUE)
else()
  set(QUANT_PYTHON_FOUND FALSE)
endif()
