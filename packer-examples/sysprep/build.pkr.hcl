# Sysprep build: Windows Server 2022 from the namespace's image, bootstrapped with the unattend
# answer file in unattend.yaml (Secret key `unattend`), then published to `golden-images`.
#
#   export KUBECONFIG=/path/to/supervisor-sim/kubeconfig
#   packer init packer-examples/sysprep                # Packer >= 1.7: checks the plugin (plugins.pkr.hcl)
#   packer build packer-examples/sysprep
#   packer build packer-examples/sysprep/build.pkr.hcl   # Packer 1.6: this file alone
#
# communicator = "none": a Windows guest would be provisioned over WinRM, which this plugin does
# not support yet, so the build deploys, waits for the VM to be ready and publishes it without
# running provisioners. (The simulator does apply the unattend file's Administrator password.)

variable "kubeconfig" {
  type    = string
  default = env("KUBECONFIG")
}

variable "namespace" {
  type    = string
  default = "demo"
}

source "vsphere-supervisor" "windows" {
  kubeconfig_path      = var.kubeconfig
  supervisor_namespace = var.namespace

  class_name    = "best-effort-small"
  storage_class = "wcpglobal-storage-profile"
  image_name    = "windows-2022"

  # source_name is left to its default, source-xxxxx: it becomes the Windows computer name,
  # which is limited to 15 characters.

  bootstrap_provider  = "Sysprep"
  bootstrap_data_file = "${path.root}/unattend.yaml"

  communicator = "none"

  watch_source_timeout_sec  = 900
  publish_location_name     = "golden-images"
  publish_image_name        = "windows-2022-golden-${formatdate("YYYYMMDDhhmmss", timestamp())}"
  watch_publish_timeout_sec = 900
}

build {
  sources = ["source.vsphere-supervisor.windows"]

  post-processor "manifest" {
    output     = "manifest.json"
    strip_path = true
  }
}
