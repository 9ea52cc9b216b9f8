# GPT2_SANITIZE=ON: build every target (libraries, gpt2, tests) with AddressSanitizer
# and UndefinedBehaviorSanitizer; any UB report aborts the process. Used by
# scripts/sanitize.sh (build-asan/, RelWithDebInfo). libtorch itself is not
# instrumented: ASan checks our code and what it does with libtorch's memory.
option(GPT2_SANITIZE "Build with -fsanitize=address,undefined (see scripts/sanitize.sh)" OFF)
if(GPT2_SANITIZE)
  set(GPT2_SANITIZE_FLAGS -fsanitize=address,undefined -fno-omit-frame-pointer
                          -fno-sanitize-recover=undefined)
  add_compile_options("$<$<COMPILE_LANGUAGE:C,CXX>:${GPT2_SANITIZE_FLAGS}>")
  add_link_options(-fsanitize=address,undefined)
endif()
