# Helpers for building third-party source that registry sdists carry.
#
# he_tf_cache_dir(<var>)
#   The machine-wide build cache: $HE_TF_CACHE_DIR, else $XDG_CACHE_HOME/he_tf,
#   else ~/.cache/he_tf.
# he_tf_fetch_sdist(<name> <version> <sha256> <var>)
#   Sets <var> to <cache>/downloads/<name>-<version>.tar.gz, downloaded with pip
#   when missing, and refuses a file whose sha256 is not the pinned one.
include_guard(GLOBAL)

function(he_tf_cache_dir var)
  if(DEFINED ENV{HE_TF_CACHE_DIR})
    set(${var} "$ENV{HE_TF_CACHE_DIR}" PARENT_SCOPE)
  elseif(DEFINED ENV{XDG_CACHE_HOME})
    set(${var} "$ENV{XDG_CACHE_HOME}/he_tf" PARENT_SCOPE)
  else()
    set(${var} "$ENV{HOME}/.cache/he_tf" PARENT_SCOPE)
  endif()
endfunction()

function(he_tf_fetch_sdist name version sha256 var)
  he_tf_cache_dir(_cache)
  set(_downloads "${_cache}/downloads")
  set(_sdist "${_downloads}/${name}-${version}.tar.gz")
  if(EXISTS "${_sdist}")
    file(SHA256 "${_sdist}" _sha)
  endif()
  if(NOT _sha STREQUAL sha256)
    message(STATUS "he-tf: fetching the sdist ${name}==${version}")
    find_package(Python3 REQUIRED COMPONENTS Interpreter)
    # --no-binary: the sdist (the source), never a wheel.
    execute_process(
      COMMAND "${Python3_EXECUTABLE}" -m pip download --no-deps --no-binary ${name}
              ${name}==${version} -d "${_downloads}"
      RESULT_VARIABLE _rc)
    if(NOT _rc EQUAL 0 OR NOT EXISTS "${_sdist}")
      message(FATAL_ERROR "he-tf: could not download ${name}==${version}. "
                          "Check that the Python package registry is reachable, or install SEAL 4.1.")
    endif()
    file(SHA256 "${_sdist}" _sha)
    if(NOT _sha STREQUAL sha256)
      file(REMOVE "${_sdist}")
      message(FATAL_ERROR "he-tf: ${name}-${version}.tar.gz has sha256 ${_sha}, expected ${sha256}; refusing to build it.")
    endif()
  endif()
  set(${var} "${_sdist}" PARENT_SCOPE)
endfunction()
