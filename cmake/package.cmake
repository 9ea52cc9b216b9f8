# Debian package: `cpack -G DEB` in the build directory (scripts/package.sh does it
# and checks the result). Installs under /usr. Depends is computed when cpack runs,
# from the built binary: the Debian package of every shared library gpt2 links
# directly, at the version installed on the build machine (scripts/deb-depends.sh).
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME gpt2)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_VENDOR "gpt2 developers")
set(CPACK_PACKAGE_CONTACT "gpt2 developers <gpt2@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "GPT-2 workbench: download, tokenize, sample (native, libtorch)")
set(CPACK_PACKAGE_DESCRIPTION
    "A single native binary that downloads OpenAI's released GPT-2 checkpoints, tokenizes text with the exact GPT-2 byte-level BPE and samples text from the models, reading TensorFlow checkpoints and safetensors directly.")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION utils)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_RESOURCE_FILE_LICENSE ${CMAKE_CURRENT_SOURCE_DIR}/LICENSE)
set(CPACK_STRIP_FILES ON)

configure_file(${CMAKE_CURRENT_SOURCE_DIR}/cmake/CPackProjectConfig.cmake.in
               ${CMAKE_CURRENT_BINARY_DIR}/CPackProjectConfig.cmake.gen @ONLY)
file(GENERATE OUTPUT ${CMAKE_CURRENT_BINARY_DIR}/CPackProjectConfig.cmake
     INPUT ${CMAKE_CURRENT_BINARY_DIR}/CPackProjectConfig.cmake.gen)
set(CPACK_PROJECT_CONFIG_FILE ${CMAKE_CURRENT_BINARY_DIR}/CPackProjectConfig.cmake)
include(CPack)

# The package builds, unpacks into a scratch root and runs (not for sanitizer builds:
# their binary needs the sanitizer runtime and is not what anyone would ship).
if(GPT2_BUILD_TESTS AND NOT GPT2_SANITIZE)
  add_test(NAME package_deb COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/scripts/package.sh --no-build)
  set_tests_properties(package_deb PROPERTIES ENVIRONMENT "BUILD_DIR=${CMAKE_CURRENT_BINARY_DIR}"
                       TIMEOUT 600 LABELS package RUN_SERIAL ON)
endif()

# The end-to-end tests read the generated man page and completions.
if(TARGET test_cli)
  add_dependencies(test_cli gpt2_reference_docs)
endif()
