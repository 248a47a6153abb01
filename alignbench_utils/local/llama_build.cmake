# Faster llama-server build, the pinned sources untouched. Passed as
# -DCMAKE_PROJECT_INCLUDE, so CMake reads it after each project() call; the first (top-level)
# one defers the tuning to the end of the configure step, when every target exists.
#
# The kernels (ggml, ggml-cpu) and the model code (llama: graph, sampler, grammar) keep
# Release's -O3. The rest runs once per request, not per token (HTTP, JSON, chat templates,
# multimodal loaders), so -O1 is enough; batching its sources into unity translation units
# parses the heavy headers (nlohmann/json) once per batch instead of once per file.

get_property(_alignbench_tuned GLOBAL PROPERTY ALIGNBENCH_TUNED)
if(NOT _alignbench_tuned)
  set_property(GLOBAL PROPERTY ALIGNBENCH_TUNED ON)
  cmake_language(DEFER DIRECTORY "${CMAKE_SOURCE_DIR}" CALL alignbench_tune_build)
endif()

function(alignbench_tune_build)
  set(request_path llama-common server-context llama-server-impl llama-server cpp-httplib mtmd)
  set(unity llama-common server-context llama-server-impl)
  foreach(target IN LISTS request_path)
    if(NOT TARGET ${target})
      message(FATAL_ERROR "alignbench build tuning: no target ${target} in these sources")
    endif()
    target_compile_options(${target} PRIVATE -O1)
  endforeach()
  set_target_properties(${unity} PROPERTIES UNITY_BUILD ON)
endfunction()
