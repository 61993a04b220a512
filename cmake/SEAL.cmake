# Provides the imported target SEAL::seal (SEAL 4.1, static, PIC).
#
# An installed SEAL 4.1 is used when find_package finds one (it compresses
# with zstd if it was built with it, else zlib). Otherwise SEAL 4.1.2 is built
# from the source that the registry sdist pyfhel==3.5.0 carries under
# Pyfhel/backend/SEAL, checked against a pinned sha256, with zstd
# (cmake/Zstd.cmake) and the system's zlib. The build is cached outside the
# source tree, keyed by the flags that affect its ABI, so fresh clones and CI
# reuse it.
include(${CMAKE_CURRENT_LIST_DIR}/Sdist.cmake)

set(HE_TF_SEAL_VERSION 4.1.2)
set(HE_TF_PYFHEL_VERSION 3.5.0)
set(HE_TF_PYFHEL_SHA256 0375b83b5a83026924f59db25c4efa9f27e1e8a66d004658f4d24195986a04b6)
he_tf_cache_dir(_cache)

option(HE_TF_USE_SYSTEM_SEAL "Use an installed SEAL 4.1 when one is found" ON)
if(HE_TF_USE_SYSTEM_SEAL)
  # An installed SEAL must not throw on transparent ciphertexts (x * 0 is a
  # valid result). Its config is read as text, since loading it would define
  # SEAL's targets for good.
  find_file(_seal_config NAMES SEALConfig.cmake PATH_SUFFIXES lib/cmake/SEAL-4.1 lib64/cmake/SEAL-4.1 NO_CACHE)
  if(_seal_config)
    file(STRINGS "${_seal_config}" _throws REGEX "set\\(SEAL_THROW_ON_TRANSPARENT_CIPHERTEXT ON\\)")
    get_filename_component(_seal_config_dir "${_seal_config}" DIRECTORY)
    if(NOT _throws)
      set(SEAL_DIR "${_seal_config_dir}" CACHE PATH "SEAL's CMake config" FORCE)
      find_package(SEAL 4.1 CONFIG REQUIRED)
      if(SEAL_USE_ZSTD)
        set(_compression zstd)
      else()
        set(_compression zlib)
      endif()
      message(STATUS "he-tf: using installed SEAL ${SEAL_VERSION} (${SEAL_DIR}), ${_compression} compression")
      return()
    endif()
    message(STATUS "he-tf: not using ${_seal_config_dir}: built with SEAL_THROW_ON_TRANSPARENT_CIPHERTEXT")
  endif()
endif()

include(${CMAKE_CURRENT_LIST_DIR}/Zstd.cmake)

# Everything that changes the produced library goes into the cache key
# (zstd_DIR names zstd's own keyed build).
set(_seal_options
  -DCMAKE_BUILD_TYPE=Release
  -DCMAKE_POSITION_INDEPENDENT_CODE=ON
  -DBUILD_SHARED_LIBS=OFF
  -DSEAL_BUILD_DEPS=OFF
  -DSEAL_USE_MSGSL=OFF
  -DSEAL_USE_ZLIB=ON
  # zstd is SEAL's default compression when present: about 10x faster than zlib.
  -DSEAL_USE_ZSTD=ON
  -Dzstd_DIR=${HE_TF_ZSTD_DIR}
  -DSEAL_USE_INTEL_HEXL=OFF
  # x * 0 or x - x give ciphertexts whose value is public (transparent); they
  # are valid results, not errors.
  -DSEAL_THROW_ON_TRANSPARENT_CIPHERTEXT=OFF
  -DSEAL_BUILD_TESTS=OFF
  -DSEAL_BUILD_EXAMPLES=OFF
  -DSEAL_BUILD_BENCH=OFF
  "-DCMAKE_CXX_FLAGS=-D_GLIBCXX_USE_CXX11_ABI=1"
  -DCMAKE_CXX_COMPILER=${CMAKE_CXX_COMPILER}
  -DCMAKE_C_COMPILER=${CMAKE_C_COMPILER})
string(SHA256 _key "${HE_TF_SEAL_VERSION};${CMAKE_CXX_COMPILER_ID};${CMAKE_CXX_COMPILER_VERSION};${_seal_options}")
string(SUBSTRING "${_key}" 0 12 _key)
set(_prefix "${_cache}/seal-${HE_TF_SEAL_VERSION}-${_key}")

file(MAKE_DIRECTORY "${_cache}")
file(LOCK "${_cache}/seal.lock" GUARD FILE TIMEOUT 3600)

if(NOT EXISTS "${_prefix}/.complete")
  he_tf_fetch_sdist(pyfhel ${HE_TF_PYFHEL_VERSION} ${HE_TF_PYFHEL_SHA256} _sdist)
  set(_src "${_cache}/src-${_key}")
  file(REMOVE_RECURSE "${_src}" "${_prefix}")
  file(ARCHIVE_EXTRACT INPUT "${_sdist}" DESTINATION "${_src}" PATTERNS "pyfhel-${HE_TF_PYFHEL_VERSION}/Pyfhel/backend/SEAL")
  set(_seal_src "${_src}/pyfhel-${HE_TF_PYFHEL_VERSION}/Pyfhel/backend/SEAL")

  message(STATUS "he-tf: building SEAL ${HE_TF_SEAL_VERSION} into ${_prefix} (once per machine)")
  include(ProcessorCount)
  ProcessorCount(_jobs)
  foreach(_step
      "-S;${_seal_src};-B;${_src}/build;-DCMAKE_INSTALL_PREFIX=${_prefix};${_seal_options}"
      "--build;${_src}/build;--parallel;${_jobs}"
      "--install;${_src}/build")
    execute_process(COMMAND "${CMAKE_COMMAND}" ${_step} RESULT_VARIABLE _rc OUTPUT_QUIET)
    if(NOT _rc EQUAL 0)
      message(FATAL_ERROR "he-tf: SEAL build step failed: cmake ${_step}")
    endif()
  endforeach()
  file(REMOVE_RECURSE "${_src}")
  file(TOUCH "${_prefix}/.complete")
endif()

file(LOCK "${_cache}/seal.lock" RELEASE)
# Forced: a SEAL_DIR or zstd_DIR cached by an earlier configure would
# otherwise win. SEAL's config finds zstd through zstd_DIR.
set(zstd_DIR "${HE_TF_ZSTD_DIR}" CACHE PATH "zstd's CMake config" FORCE)
set(SEAL_DIR "${_prefix}/lib/cmake/SEAL-4.1" CACHE PATH "SEAL's CMake config" FORCE)
find_package(SEAL ${HE_TF_SEAL_VERSION} EXACT REQUIRED CONFIG)
message(STATUS "he-tf: using cached SEAL ${SEAL_VERSION} (${_prefix}), zstd compression")
