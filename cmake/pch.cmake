# One libtorch precompiled header (<torch/torch.h>), built once and reused by every
# target. Parsing <torch/torch.h> costs ~13 CPU-seconds per translation unit, the
# libtorch module headers (<torch/nn/...>) most of that, <torch/types.h> ~6 and
# <ATen/core/Tensor.h> ~2; loading the 570 MB header costs ~5-9. So only the sources
# that reach the heavy headers use it: gpt2_use_torch_pch() scans each source's
# #include graph (project headers followed recursively) for <torch/torch.h>,
# <torch/nn/...> or <torch/optim...>; the rest (the tokenizer, the downloader, the
# parsers, CLI glue, sources that need only <torch/types.h>) compile as they are.
# GPT2_PCH=OFF builds without it; -Winvalid-pch makes GCC say so when a source
# cannot use it.
# With the unity build (GPT2_UNITY, the default) only two batches reach <torch/torch.h>:
# building the header costs more than it saves, so it is off unless asked for.
if(GPT2_UNITY)
  set(_gpt2_pch_default OFF)
else()
  set(_gpt2_pch_default ON)
endif()
option(GPT2_PCH "Precompile the libtorch headers once for all targets" ${_gpt2_pch_default})
if(GPT2_PCH)
  file(WRITE ${CMAKE_CURRENT_BINARY_DIR}/gpt2_pch.cpp "// holder of the shared libtorch precompiled header\n")
  add_library(gpt2_pch OBJECT ${CMAKE_CURRENT_BINARY_DIR}/gpt2_pch.cpp)
  target_link_libraries(gpt2_pch PRIVATE ${TORCH_LIBRARIES})
  target_compile_options(gpt2_pch PRIVATE $<$<COMPILE_LANGUAGE:CXX>:${GPT2_WARNINGS} -Winvalid-pch>)
  target_precompile_headers(gpt2_pch PRIVATE <torch/torch.h>)
endif()

# _gpt2_reaches_torch(<file> <out-var>): whether <file> includes libtorch, directly or
# through the project's own headers (include/ and src/, and the file's folder).
function(_gpt2_reaches_torch file out)
  get_property(_known GLOBAL PROPERTY "GPT2_TORCH_${file}" SET)
  if(_known)
    get_property(_v GLOBAL PROPERTY "GPT2_TORCH_${file}")
    set(${out} ${_v} PARENT_SCOPE)
    return()
  endif()
  set_property(GLOBAL PROPERTY "GPT2_TORCH_${file}" OFF)  # cycles end here
  file(STRINGS ${file} _incs REGEX "^[ \t]*#[ \t]*include[ \t]*[<\"]")
  set(_v OFF)
  get_filename_component(_dir ${file} DIRECTORY)
  foreach(_line IN LISTS _incs)
    if(_line MATCHES "<torch/(torch\\.h|nn/|optim)")
      set(_v ON)
      break()
    endif()
    if(_line MATCHES "\"([^\"]+)\"")
      set(_name ${CMAKE_MATCH_1})
      foreach(_root ${PROJECT_SOURCE_DIR}/include ${PROJECT_SOURCE_DIR}/src ${PROJECT_SOURCE_DIR}/tests ${_dir})
        if(EXISTS ${_root}/${_name})
          _gpt2_reaches_torch(${_root}/${_name} _sub)
          if(_sub)
            set(_v ON)
          endif()
          break()
        endif()
      endforeach()
      if(_v)
        break()
      endif()
    endif()
  endforeach()
  set_property(GLOBAL PROPERTY "GPT2_TORCH_${file}" ${_v})
  set(${out} ${_v} PARENT_SCOPE)
endfunction()

# gpt2_use_torch_pch(target): the target's C++ sources that reach libtorch start from
# the shared precompiled header; the others compile as before.
function(gpt2_use_torch_pch target)
  if(NOT GPT2_PCH)
    return()
  endif()
  target_precompile_headers(${target} REUSE_FROM gpt2_pch)
  target_compile_options(${target} PRIVATE $<$<COMPILE_LANGUAGE:CXX>:-Winvalid-pch>)
  if(GPT2_CCACHE_LAUNCHER)  # lets ccache cache the sources that use the header
    target_compile_options(${target} PRIVATE $<$<COMPILE_LANGUAGE:CXX>:-fpch-preprocess>)
  endif()
  get_target_property(_srcs ${target} SOURCES)
  get_target_property(_sdir ${target} SOURCE_DIR)
  foreach(_s IN LISTS _srcs)
    if(NOT _s MATCHES "\\.cpp$")
      continue()
    endif()
    if(NOT IS_ABSOLUTE ${_s})
      set(_s ${_sdir}/${_s})
    endif()
    _gpt2_reaches_torch(${_s} _uses)
    if(NOT _uses)
      set_source_files_properties(${_s} TARGET_DIRECTORY ${target} PROPERTIES SKIP_PRECOMPILE_HEADERS ON)
    endif()
  endforeach()
endfunction()
