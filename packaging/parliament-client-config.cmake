# find_package(parliament-client): the target parliament::client, the parliament's client
# library (<parliament/client.hpp>), a static archive that needs OpenSSL, zlib and threads.
include(CMakeFindDependencyMacro)
find_dependency(OpenSSL)
find_dependency(ZLIB)
find_dependency(Threads)
include("${CMAKE_CURRENT_LIST_DIR}/parliament-client-targets.cmake")
