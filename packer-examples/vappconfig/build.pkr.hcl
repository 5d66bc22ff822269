# vAppConfig build: Photon OS 5 from the namespace's image, configured through OVF vApp
# properties (vapp-properties.yaml), provisioned over SSH with the user and password those
# properties set, then published to `golden-images`.
#
#   export KUBECONFIG=/path/to/supervisor-sim/kubeconfig
#   packer init packer-examples/vappconfig                # Packer >= 1.7: checks the plugin (plugins.pkr.hcl)
#   packer build packer-examples/vappconfig
#   packer build packer-examples/vappconfig/build.pkr.hcl   # Packer 1.6: this file alone
#
# With your own bootstrap data the builder's temporary key pair is not installed in the guest, so
# the SSH credentials must match what the properties configure.

variable "kubeconfig" {
  type    = string
  default = env("KUBECONFIG")
}

variable "namespace" {
  type    = string
  default = "demo"
}

variable "ssh_password" {
  type      = string
  default   = "Packer-Example-1!"
  sensitive = true
}

source "vsphere-supervisor" "photon" {
  kubeconfig_path      = var.kubeconfig
  supervisor_namespace = var.namespace

  class_name    = "best-effort-small"
  storage_class = "wcpglobal-storage-profile"
  image_name    = "photon-5"

  bootstrap_provider  = "vAppConfig"
  bootstrap_data_file = "${path.root}/vapp-properties.yaml"

  communicator = "ssh"
  ssh_username = "packer"
  ssh_password = var.ssh_password

  publish_location_name = "golden-images"
  publish_image_name    = "photon-5-golden-${formatdate("YYYYMMDDhhmmss", timestamp())}"
}

build {
  sources = ["source.vsphere-supervisor.photon"]

  provisioner "shell" {
    inline = [
      "hostname",
      "test -f /etc/vapp-properties.json && cat /etc/vapp-properties.json || true",
    ]
  }

  post-processor "manifest" {
    output     = "manifest.json"
    strip_path = true
  }
}
