# Installation layout and the Debian package (CPack), included from
# CMakeLists.txt once the targets exist.
#
#   cmake -S . -B build-deb -DCMAKE_BUILD_TYPE=RelWithDebInfo \
#         -DCMAKE_INSTALL_PREFIX=/usr -DPODSHIM_TESTS=OFF
#   cmake --build build-deb -j2 && (cd build-deb && cpack -G DEB)
#
# gives build-deb/podshim_<version>_<arch>.deb (scripts/package-test.sh
# builds, checks, installs and removes it). The package needs the /usr
# prefix: its configuration file goes to /etc only then (GNUInstallDirs'
# rule for /usr), and cpack refuses a build tree configured otherwise.
#
# Layout (relative to the prefix):
#   bin/containerd-shim-podshim-v2, bin/podshim-infra, bin/podshim-agent
#       and bin/containerd-shim-podshim-vm-v2, a symlink to the shim (the
#       runtime type io.containerd.podshim-vm.v2: src/shim/profile.h),
#       side by side: the shim runs the podshim-infra beside its own
#       executable (sandbox/linux/infra_process.h), and a VM pod's guest
#       runs the podshim-agent beside it unless VMAgent says otherwise
#       (docs/vm-backend.md)
#   sbin/podshim-vm-image              scripts/vm-initramfs.sh: prints a VM
#       pod's kernel and initramfs (the VMKernel and VMInitrd keys), made
#       once and cached in /var/cache/podshim/vm
#   share/podshim/vm-guest-init        the initramfs's /init (not run on
#       the host: podshim-vm-image copies it into the image)
#   <sysconfdir>/podshim/config.toml   deploy/podshim.toml; a conffile
#   share/doc/podshim/examples/        every file of deploy/
#   share/man/man8/                    the man pages of docs/man/
include(GNUInstallDirs)

set(PODSHIM_CONFIG_DIR ${CMAKE_INSTALL_FULL_SYSCONFDIR}/podshim)
set(PODSHIM_PKG_DIR ${CMAKE_SOURCE_DIR}/packaging/deb)

# Components: "shim" is the two programs (`cmake --install build --component
# shim`, as scripts/demo.sh installs them), "data" the rest; the package has
# both.
install(TARGETS containerd-shim-podshim-v2 podshim-infra podshim-agent
        RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT shim)
# a symlink, installed as one: the runtime type io.containerd.podshim-vm.v2
install(PROGRAMS ${PODSHIM_VM_SHIM_LINK} DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT shim)
set(CMAKE_INSTALL_DEFAULT_COMPONENT_NAME data)
install(PROGRAMS ${CMAKE_SOURCE_DIR}/scripts/vm-initramfs.sh DESTINATION ${CMAKE_INSTALL_SBINDIR}
        RENAME podshim-vm-image)
install(PROGRAMS ${CMAKE_SOURCE_DIR}/scripts/vm-guest-init DESTINATION ${CMAKE_INSTALL_DATADIR}/podshim)
install(FILES ${CMAKE_SOURCE_DIR}/deploy/podshim.toml DESTINATION ${PODSHIM_CONFIG_DIR}
        RENAME config.toml PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)
# Whatever deploy/ holds (containerd snippets per config format, the
# RuntimeClass, the example config), not a list kept here.
file(GLOB PODSHIM_EXAMPLES CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/deploy/*)
install(FILES ${PODSHIM_EXAMPLES} DESTINATION ${CMAKE_INSTALL_DOCDIR}/examples)
install(FILES ${CMAKE_SOURCE_DIR}/README.md DESTINATION ${CMAKE_INSTALL_DOCDIR})

# Man pages and the changelog, compressed as Debian policy wants them
# (gzip -9n: no name or time stamp, so the package is reproducible).
find_program(GZIP gzip REQUIRED)
file(GLOB PODSHIM_MAN8 CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/docs/man/*.8)
set(PODSHIM_GZ_OUT)
set(gz_dir ${CMAKE_BINARY_DIR}/pkg)
foreach(src ${PODSHIM_MAN8} ${PODSHIM_PKG_DIR}/changelog)
  get_filename_component(name ${src} NAME)
  add_custom_command(
    OUTPUT ${gz_dir}/${name}.gz
    COMMAND ${CMAKE_COMMAND} -E make_directory ${gz_dir}
    COMMAND ${GZIP} -9nc ${src} > ${gz_dir}/${name}.gz
    DEPENDS ${src}
    COMMENT "gzip ${name}"
    VERBATIM)
  list(APPEND PODSHIM_GZ_OUT ${gz_dir}/${name}.gz)
endforeach()
add_custom_target(podshim_docs ALL DEPENDS ${PODSHIM_GZ_OUT})
foreach(src ${PODSHIM_MAN8})
  get_filename_component(name ${src} NAME)
  install(FILES ${gz_dir}/${name}.gz DESTINATION ${CMAKE_INSTALL_MANDIR}/man8)
endforeach()
install(FILES ${gz_dir}/changelog.gz ${PODSHIM_PKG_DIR}/copyright
        DESTINATION ${CMAKE_INSTALL_DOCDIR})
install(FILES ${PODSHIM_PKG_DIR}/lintian-overrides
        DESTINATION ${CMAKE_INSTALL_DATADIR}/lintian/overrides RENAME podshim)

# The changelog's latest entry is the package version (lintian checks it).
file(STRINGS ${PODSHIM_PKG_DIR}/changelog changelog_head LIMIT_COUNT 1)
if(NOT changelog_head MATCHES "^podshim \\(${PROJECT_VERSION}\\) ")
  message(FATAL_ERROR "packaging/deb/changelog: the latest entry (${changelog_head}) is not "
                      "version ${PROJECT_VERSION}; add an entry for it")
endif()

# --- CPack: one DEB, package "podshim".
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME podshim)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_VENDOR "the podshim authors")
set(CPACK_PACKAGE_CONTACT
    "podshim maintainers <maintainers@users.noreply.h-seed-eca369a7.example>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "containerd shim running each Kubernetes pod in one process")
# CPack puts the summary first (the synopsis), then this.
set(CPACK_DEBIAN_PACKAGE_DESCRIPTION
    "podshim is a containerd runtime v2 shim (runtime type
io.containerd.podshim.v2) written in C. One small, single-threaded shim
serves every container of a Kubernetes pod, and the pod's sandbox runs no
pause container: the shim starts a tiny unprivileged infra process in the
pod's namespaces and cgroup itself. Containers run through runc or crun.
.
This package holds the shim, its infra helper, the configuration file
named by the shipped containerd runtime handler examples, and man pages.")
set(CPACK_DEBIAN_PACKAGE_SECTION admin)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
# Depends: the shared libraries the shim links (dpkg-shlibdeps; libnl is
# linked statically, CMakeLists.txt says why) and an OCI runtime to drive.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "runc | crun")
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "containerd")
# What VM pods need (docs/vm-backend.md): QEMU, Debian's kernel, busybox for
# the initramfs, binutils and xz to boot the kernel's ELF at its PVH entry.
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "qemu-system-x86, linux-image-amd64, busybox-static, binutils, xz-utils")
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
set(CPACK_STRIP_FILES ON)
configure_file(${PODSHIM_PKG_DIR}/conffiles.in ${CMAKE_BINARY_DIR}/pkg/conffiles @ONLY)
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA ${CMAKE_BINARY_DIR}/pkg/conffiles)
set(CPACK_PODSHIM_INSTALL_PREFIX ${CMAKE_INSTALL_PREFIX})
set(CPACK_PROJECT_CONFIG_FILE ${CMAKE_SOURCE_DIR}/cmake/cpack-project.cmake)
include(CPack)
