# Variable values for publish-ttl/build.pkr.hcl:
#   packer build -var-file=packer-examples/publish-ttl/variables.pkrvars.hcl packer-examples/publish-ttl
# (Packer only loads *.auto.pkrvars.hcl by itself, so this file is passed explicitly.)

# Path of the Supervisor's kubeconfig; leave it out to use $KUBECONFIG, then ~/.kube/config.
# kubeconfig = "/tmp/supervisor-sim/kubeconfig"

# The kubeconfig context to use (the simulator writes one context; empty = current-context).
kubeconfig_context = ""

namespace     = "demo"
class_name    = "best-effort-small"
storage_class = "wcpglobal-storage-profile"

# A ClusterVirtualMachineImage, by display name.
image_name = "ubuntu-22.04"

publish_location = "golden-images"

# The VirtualMachinePublishRequest is deleted by vm-operator this long after it finished.
publish_request_ttl_sec = 300
