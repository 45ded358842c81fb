# install_units.cmake — run by `cmake --install` (component systemd): writes
# deploy/systemd/*.in with @FC_BINDIR@, @FC_LIBEXECDIR@ and @FC_DOCDIR@ set
# to the prefix this install really uses (CMAKE_INSTALL_PREFIX here is the
# --prefix given to cmake --install, else the configured one) into
# <prefix>/lib/systemd/system, under DESTDIR when set. The variables
# FC_UNIT_SRC and FC_*_REL come from an install(CODE) line in CMakeLists.txt.
foreach(v FC_BINDIR FC_LIBEXECDIR FC_DOCDIR)
  if(IS_ABSOLUTE "${${v}_REL}")
    set(${v} "${${v}_REL}")
  else()
    set(${v} "${CMAKE_INSTALL_PREFIX}/${${v}_REL}")
  endif()
endforeach()
set(_dest "$ENV{DESTDIR}${CMAKE_INSTALL_PREFIX}/lib/systemd/system")
file(GLOB _units "${FC_UNIT_SRC}/*.in")
file(MAKE_DIRECTORY "${_dest}")
foreach(u ${_units})
  get_filename_component(_name "${u}" NAME)
  string(REGEX REPLACE "\\.in$" "" _name "${_name}")
  message(STATUS "Installing: ${_dest}/${_name}")
  configure_file("${u}" "${_dest}/${_name}" @ONLY)
endforeach()
