# Read by cpack for each generator (CPACK_PROJECT_CONFIG_FILE).
if(CPACK_GENERATOR STREQUAL "DEB" AND NOT CPACK_PODSHIM_INSTALL_PREFIX STREQUAL "/usr")
  message(FATAL_ERROR "the Debian package needs a build tree configured with "
                      "-DCMAKE_INSTALL_PREFIX=/usr (this one has ${CPACK_PODSHIM_INSTALL_PREFIX}): "
                      "its configuration file must go to /etc")
endif()
