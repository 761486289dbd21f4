"""CRI (Kubernetes Container Runtime Interface) support for the e2e suite.

containerd's CRI plugin is driven over gRPC with stubs generated at test time
from our own runtime.v1 subset (proto/cri_api.proto). The pieces:

  client  -- stub generation and a CRI client whose every call has a deadline
  images  -- the offline sandbox ("pause") image, built from busybox
  env     -- a private CRI-enabled containerd: runtime handlers, CNI bridge,
             images imported into k8s.io, and its full teardown
  host    -- host-side inspection: namespaces, capabilities, shim sockets,
             cgroups, process trees

Only /usr/bin/python3 has Debian's python3-grpcio and python3-grpc-tools.
"""
