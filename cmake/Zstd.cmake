# Builds zstd 1.5.7 (static, PIC) for SEAL's zstd compression and sets
# HE_TF_ZSTD_DIR to its CMake package config (zstd::libzstd_static).
#
# The source is the zstd library that the registry sdist zstd==1.5.7.2
# (python-zstd) carries under zstd/lib, checked against a pinned sha256;
# cmake/zstd/CMakeLists.txt is our build of it. Cached next to SEAL, keyed
# by the compiler, the options and that build script.
include_guard(GLOBAL)
include(${CMAKE_CURRENT_LIST_DIR}/Sdist.cmake)

set(HE_TF_ZSTD_VERSION 1.5.7)
set(HE_TF_ZSTD_SDIST_VERSION 1.5.7.2)
set(HE_TF_ZSTD_SHA256 6d8684c69009be49e1b18ec251a5eb0d7e24f93624990a8a124a1da66a92fc8a)

he_tf_cache_dir(_zstd_cache)
set(_zstd_script "${CMAKE_CURRENT_LIST_DIR}/zstd")
set(_zstd_options
  -DCMAKE_BUILD_TYPE=Release
  -DCMAKE_INSTALL_LIBDIR=lib
  -DCMAKE_C_COMPILER=${CMAKE_C_COMPILER})
file(SHA256 "${_zstd_script}/CMakeLists.txt" _zstd_script_sha)
string(SHA256 _zstd_key "${HE_TF_ZSTD_SDIST_VERSION};${CMAKE_C_COMPILER_ID};${CMAKE_C_COMPILER_VERSION};${_zstd_options};${_zstd_script_sha}")
string(SUBSTRING "${_zstd_key}" 0 12 _zstd_key)
set(_zstd_prefix "${_zstd_cache}/zstd-${HE_TF_ZSTD_VERSION}-${_zstd_key}")

file(MAKE_DIRECTORY "${_zstd_cache}")
file(LOCK "${_zstd_cache}/zstd.lock" GUARD FILE TIMEOUT 3600)
if(NOT EXISTS "${_zstd_prefix}/.complete")
  he_tf_fetch_sdist(zstd ${HE_TF_ZSTD_SDIST_VERSION} ${HE_TF_ZSTD_SHA256} _zstd_sdist)
  set(_zstd_src "${_zstd_cache}/src-zstd-${_zstd_key}")
  file(REMOVE_RECURSE "${_zstd_src}" "${_zstd_prefix}")
  file(ARCHIVE_EXTRACT INPUT "${_zstd_sdist}" DESTINATION "${_zstd_src}"
       PATTERNS "zstd-${HE_TF_ZSTD_SDIST_VERSION}/zstd/lib")
  message(STATUS "he-tf: building zstd ${HE_TF_ZSTD_VERSION} into ${_zstd_prefix} (once per machine)")
  include(ProcessorCount)
  ProcessorCount(_jobs)
  foreach(_step
      "-S;${_zstd_script};-B;${_zstd_src}/build;-DCMAKE_INSTALL_PREFIX=${_zstd_prefix};-DHE_TF_ZSTD_SOURCE_DIR=${_zstd_src}/zstd-${HE_TF_ZSTD_SDIST_VERSION}/zstd/lib;${_zstd_options}"
      "--build;${_zstd_src}/build;--parallel;${_jobs}"
      "--install;${_zstd_src}/build")
    execute_process(COMMAND "${CMAKE_COMMAND}" ${_step} RESULT_VARIABLE _rc OUTPUT_QUIET)
    if(NOT _rc EQUAL 0)
      message(FATAL_ERROR "he-tf: zstd build step failed: cmake ${_step}")
    endif()
  endforeach()
  file(REMOVE_RECURSE "${_zstd_src}")
  file(TOUCH "${_zstd_prefix}/.complete")
endif()
file(LOCK "${_zstd_cache}/zstd.lock" RELEASE)
set(HE_TF_ZSTD_DIR "${_zstd_prefix}/lib/cmake/zstd")
