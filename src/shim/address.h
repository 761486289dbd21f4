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

/* Socket path (no unix:// prefix) for the triple; caller frees. */
char *ps_socket_path(const char *grpc_address, const char *ns, const char *group_key);

#endif
