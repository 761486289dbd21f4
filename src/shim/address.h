/* Where a shim listens. As runc-v2 does: the socket is
 *   /run/containerd/s/<hex sha256(path.Join(grpc_address, ns, group_key))>
 * and is printed as "unix://<that path>". The group key is the first of the
 * annotations io.containerd.runc.v2.group, io.kubernetes.cri.sandbox-id,
 * or the task id. */
#ifndef PS_SHIM_ADDRESS_H
#define PS_SHIM_ADDRESS_H

#include "base/error.h"

#define PS_SOCKET_DIR "/run/containerd/s"

/* Go's filepath.Join(a, b, c): joined with '/', then Clean()ed. Caller frees. */
char *ps_path_join3(const char *a, const char *b, const char *c);

/* Socket path (no unix:// prefix) for the triple; caller frees. A salt
 * (NULL: none, runc-v2's hash exactly) is hashed after the joined path,
 * behind a NUL: the VM runtime type's shims (shim/profile.h) pass theirs,
 * so that a VM pod's shim and a Linux pod's never share a socket, even
 * for one group key (a `ctr run --runtime io.containerd.podshim-vm.v2`
 * naming a Linux pod's sandbox id must not land in that pod's shim, whose
 * defaults would run it on the host). */
char *ps_socket_path(const char *grpc_address, const char *ns, const char *group_key,
                     const char *salt);

#endif
