# Installation: bin/gpt2, the man page gpt2(1), bash and zsh completions and the
# docs. The man page and completions are generated at build time by gpt2-docgen
# from the same CLI11 application the binary runs (cli/reference.cpp), so new
# subcommands and options appear in them automatically.
include(GNUInstallDirs)

add_executable(gpt2-docgen src/docgen/main.cpp)
target_link_libraries(gpt2-docgen PRIVATE gpt2_cli)
target_compile_options(gpt2-docgen PRIVATE ${GPT2_WARNINGS})

set(GPT2_GENERATED_DIR ${CMAKE_CURRENT_BINARY_DIR}/share)
set(GPT2_MAN_PAGE ${GPT2_GENERATED_DIR}/man/man1/gpt2.1)
set(GPT2_BASH_COMPLETION ${GPT2_GENERATED_DIR}/bash-completion/completions/gpt2)
set(GPT2_ZSH_COMPLETION ${GPT2_GENERATED_DIR}/zsh/site-functions/_gpt2)
set(_gpt2_docs)
foreach(kind_file "man;${GPT2_MAN_PAGE}" "bash;${GPT2_BASH_COMPLETION}" "zsh;${GPT2_ZSH_COMPLETION}")
  list(GET kind_file 0 _kind)
  list(GET kind_file 1 _file)
  get_filename_component(_dir ${_file} DIRECTORY)
  add_custom_command(OUTPUT ${_file}
    COMMAND ${CMAKE_COMMAND} -E make_directory ${_dir}
    COMMAND gpt2-docgen ${_kind} ${_file}
    DEPENDS gpt2-docgen
    COMMENT "Generating ${_file}"
    VERBATIM)
  list(APPEND _gpt2_docs ${_file})
endforeach()
add_custom_target(gpt2_reference_docs ALL DEPENDS ${_gpt2_docs})

install(TARGETS gpt2 RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(FILES ${GPT2_MAN_PAGE} DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)
install(FILES ${GPT2_BASH_COMPLETION} DESTINATION ${CMAKE_INSTALL_DATADIR}/bash-completion/completions)
install(FILES ${GPT2_ZSH_COMPLETION} DESTINATION ${CMAKE_INSTALL_DATADIR}/zsh/site-functions)
file(GLOB _gpt2_doc_pages CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/docs/*.md)
install(FILES README.md LICENSE ${_gpt2_doc_pages} DESTINATION ${CMAKE_INSTALL_DOCDIR})
