# Import, then build: the OVA at `import_url` is imported into the content library
# `golden-images` (a ContentLibraryItemImportRequest), the VM is created from the imported image,
# customised over SSH, published as a new image, and the imported image is deleted afterwards
# (clean_imported_image).
#
#   export KUBECONFIG=/path/to/supervisor-sim/kubeconfig
#   packer init packer-examples/import
#   packer build -var import_url=http://host/photon.ova packer-examples/import
#   packer build -var import_url=http://host/photon.ova packer-examples/import/build.pkr.hcl   # Packer 1.6
#
# The Supervisor downloads the file itself, so the URL must be reachable from it (for the
# simulator: from this machine).

variable "kubeconfig" {
  type    = string
  default = env("KUBECONFIG")
}

variable "namespace" {
  type    = string
  default = "demo"
}

variable "import_url" {
  type        = string
  description = "HTTP(S) URL of the OVA or OVF to import."
}

locals {
  stamp = formatdate("YYYYMMDDhhmmss", timestamp())
}

source "vsphere-supervisor" "imported" {
  kubeconfig_path      = var.kubeconfig
  supervisor_namespace = var.namespace

  class_name    = "best-effort-small"
  storage_class = "wcpglobal-storage-profile"

  import_source_url           = var.import_url
  import_target_location_name = "golden-images"
  import_target_image_name    = "imported-${local.stamp}"
  clean_imported_image        = true

  communicator = "ssh"
  ssh_username = "packer"
  ssh_timeout  = "10m"

  publish_location_name = "golden-images"
  publish_image_name    = "imported-built-${local.stamp}"
}

build {
  sources = ["source.vsphere-supervisor.imported"]

  provisioner "shell" {
    inline = ["echo \"built from an imported image on $(hostname)\""]
  }

  post-processor "manifest" {
    output = "manifest.json"
  }
}
