# Provides the imported target tensorflow_framework, with the compile and link
# flags of the TensorFlow installed for Python3_EXECUTABLE (tf.sysconfig).

execute_process(
  COMMAND "${Python3_EXECUTABLE}" -c
    "import tensorflow as tf; print(tf.sysconfig.get_include()); print(tf.sysconfig.get_lib()); print(tf.__version__)"
  OUTPUT_VARIABLE _tf_out RESULT_VARIABLE _rc ERROR_QUIET OUTPUT_STRIP_TRAILING_WHITESPACE)
if(NOT _rc EQUAL 0)
  message(FATAL_ERROR "he-tf: TensorFlow is not importable from ${Python3_EXECUTABLE}; install it first (make install).")
endif()
string(REPLACE "\n" ";" _tf_out "${_tf_out}")
list(GET _tf_out 0 TF_INCLUDE_DIR)
list(GET _tf_out 1 TF_LIB_DIR)
list(GET _tf_out 2 TF_VERSION)
message(STATUS "he-tf: TensorFlow ${TF_VERSION} (${TF_LIB_DIR})")

add_library(tensorflow_framework SHARED IMPORTED)
set_target_properties(tensorflow_framework PROPERTIES
  IMPORTED_LOCATION "${TF_LIB_DIR}/libtensorflow_framework.so.2"
  INTERFACE_INCLUDE_DIRECTORIES "${TF_INCLUDE_DIR}"
  INTERFACE_COMPILE_DEFINITIONS "EIGEN_MAX_ALIGN_BYTES=64")
