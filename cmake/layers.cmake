# The layers' arrows, checked when CMake configures: a source of `folder` that includes a header
# of a forbidden folder fails the configuration, naming the file and the line. Arrows only point
# down: commands -> jobs -> stages/shared -> engine and config; a job never includes the other
# job, and a command never includes another command.
function(sluice_forbid_includes folder)
  file(GLOB_RECURSE sources RELATIVE "${PROJECT_SOURCE_DIR}" "${PROJECT_SOURCE_DIR}/${folder}/*.h"
       "${PROJECT_SOURCE_DIR}/${folder}/*.cpp")
  foreach(source IN LISTS sources)
    file(STRINGS "${PROJECT_SOURCE_DIR}/${source}" includes REGEX "^#include \"")
    foreach(line IN LISTS includes)
      foreach(forbidden IN LISTS ARGN)
        if(line MATCHES "^#include \"${forbidden}")
          message(FATAL_ERROR "${source}: ${line}: ${folder}/ may not include ${forbidden} (arrows only point down)")
        endif()
      endforeach()
    endforeach()
  endforeach()
endfunction()

# In the commands' folder: no source but main.cpp (which dispatches) and the command's own files
# includes a command's header; what commands share goes through stages/commands/common.h.
function(sluice_commands_apart folder)
  file(GLOB sources RELATIVE "${PROJECT_SOURCE_DIR}" "${PROJECT_SOURCE_DIR}/${folder}/*.h"
       "${PROJECT_SOURCE_DIR}/${folder}/*.cpp")
  foreach(source IN LISTS sources)
    get_filename_component(name "${source}" NAME_WE)
    if(name STREQUAL "main")
      continue()
    endif()
    file(STRINGS "${PROJECT_SOURCE_DIR}/${source}" includes REGEX "^#include \"")
    foreach(command IN LISTS ARGN)
      if(NOT command STREQUAL name AND "${includes}" MATCHES "#include \"${folder}/${command}\\.h\"")
        message(FATAL_ERROR "${source} includes ${folder}/${command}.h: commands never include each other "
                            "(share through ${folder}/common.h)")
      endif()
    endforeach()
  endforeach()
endfunction()
