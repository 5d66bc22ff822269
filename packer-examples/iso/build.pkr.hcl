# ISO build: the VM boots the ISO image `ubuntu-24.04-iso` with an empty boot disk; the builder
# prints the VM's network configuration and a web console URL (a
# VirtualMachineWebConsoleRequest) for installing the guest OS, waits for the installed guest's
# IP, provisions it over SSH with the installer's account and publishes it. No bootstrap data is
# used for ISO images.
#
#   export KUBECONFIG=/path/to/supervisor-sim/kubeconfig
#   packer init packer-examples/iso
#   packer build packer-examples/iso
#   packer build packer-examples/iso/build.pkr.hcl   # Packer 1.6
#
# The simulator's ISO images "install" a guest with the account ubuntu/ubuntu at once; on a real
# Supervisor you complete the installation in the web console within watch_source_timeout_sec.

variable "kubeconfig" {
  type    = string
  default = env("KUBECONFIG")
}

variable "namespace" {
  type    = string
  default = "demo"
}

locals {
  stamp = formatdate("YYYYMMDDhhmmss", timestamp())
}

source "vsphere-supervisor" "iso" {
  kubeconfig_path      = var.kubeconfig
  supervisor_namespace = var.namespace

  class_name    = "best-effort-small"
  storage_class = "wcpglobal-storage-profile"

  image_name         = "ubuntu-24.04-iso"
  guest_os_type      = "ubuntu64Guest"
  iso_boot_disk_size = "10Gi"

  communicator = "ssh"
  ssh_username = "ubuntu"
  ssh_password = "ubuntu"
  ssh_timeout  = "30m"

  watch_source_timeout_sec = 3600

  publish_location_name = "golden-images"
  publish_image_name    = "ubuntu-iso-${local.stamp}"
}

build {
  sources = ["source.vsphere-supervisor.iso"]

  provisioner "shell" {
    inline = ["echo \"installed from ISO, provisioned as $(id -un)\""]
  }

  post-processor "manifest" {
    output = "manifest.json"
  }
}
