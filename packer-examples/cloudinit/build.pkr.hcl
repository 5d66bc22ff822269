# CloudInit build: Ubuntu 24.04 from the namespace's image, customised over SSH with shell and file
# provisioners, published to the writable content library `golden-images`; the manifest
# post-processor records the artifact (the published VirtualMachineImage).
#
#   export KUBECONFIG=/path/to/supervisor-sim/kubeconfig
#   packer init packer-examples/cloudinit                # Packer >= 1.7: checks the plugin (plugins.pkr.hcl)
#   packer build packer-examples/cloudinit
#   packer build packer-examples/cloudinit/build.pkr.hcl   # Packer 1.6: this file alone
#
# The builder generates a temporary ed25519 key pair and installs it for `ssh_username` through
# its built-in cloud-config, so no password or key file is needed.

variable "kubeconfig" {
  type        = string
  description = "Path of the kubeconfig for the Supervisor (empty: $KUBECONFIG, then ~/.kube/config)."
  # Packer 1.6 HCL allows env() only in variable defaults.
  default = env("KUBECONFIG")
}

variable "namespace" {
  type    = string
  default = "demo"
}

variable "image_name" {
  type        = string
  description = "VirtualMachineImage object name (vmi-...) or display name."
  default     = "ubuntu-24.04"
}

locals {
  # Content library item names must be unique in the library: stamp each build.
  stamp = formatdate("YYYYMMDDhhmmss", timestamp())
}

source "vsphere-supervisor" "ubuntu" {
  kubeconfig_path      = var.kubeconfig
  supervisor_namespace = var.namespace

  class_name    = "best-effort-small"
  storage_class = "wcpglobal-storage-profile"
  image_name    = var.image_name

  bootstrap_provider = "CloudInit"

  communicator = "ssh"
  ssh_username = "packer"
  ssh_timeout  = "10m"

  watch_source_timeout_sec = 600

  publish_location_name     = "golden-images"
  publish_image_name        = "ubuntu-24.04-golden-${local.stamp}"
  publish_image_description = "Ubuntu 24.04 with the example customisation (packer-examples/cloudinit)"
}

build {
  sources = ["source.vsphere-supervisor.ubuntu"]

  provisioner "shell" {
    inline = [
      "echo \"building on $(hostname) as $(id -un)\"",
      "sudo mkdir -p /etc/golden",
      "echo 'built by packer' | sudo tee /etc/golden/build-info >/dev/null",
    ]
  }

  provisioner "file" {
    source      = "${path.root}/../files/motd.txt"
    destination = "/tmp/motd.txt"
  }

  provisioner "shell" {
    inline = ["sudo install -m 0644 /tmp/motd.txt /etc/motd", "cat /etc/motd"]
  }

  post-processor "manifest" {
    output     = "manifest.json"
    strip_path = true
  }
}
