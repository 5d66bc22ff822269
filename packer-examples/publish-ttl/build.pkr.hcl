# Publish with a TTL: the VirtualMachinePublishRequest carries ttlSecondsAfterFinished, so
# vm-operator deletes the request itself once that time has passed after it finished (the
# published image stays). The build's cleanup deletes the request too; the TTL is what removes it
# when cleanup does not (keep_input_artifact = true, -on-error=abort, a killed Packer). Builds
# from the cluster-scoped image `ubuntu-22.04`. Values come from variables.pkrvars.hcl (from the repository root):
#
#   export KUBECONFIG=/path/to/supervisor-sim/kubeconfig
#   packer init packer-examples/publish-ttl                # Packer >= 1.7: checks the plugin (plugins.pkr.hcl)
#   packer build -var-file=packer-examples/publish-ttl/variables.pkrvars.hcl packer-examples/publish-ttl
#   packer build -var-file=packer-examples/publish-ttl/variables.pkrvars.hcl packer-examples/publish-ttl/build.pkr.hcl   # Packer 1.6: this file alone

variable "kubeconfig" {
  type    = string
  default = env("KUBECONFIG")
}

variable "kubeconfig_context" {
  type    = string
  default = ""
}

variable "namespace" {
  type = string
}

variable "class_name" {
  type = string
}

variable "storage_class" {
  type = string
}

variable "image_name" {
  type = string
}

variable "publish_location" {
  type = string
}

variable "publish_request_ttl_sec" {
  type    = number
  default = 300
}

source "vsphere-supervisor" "ttl" {
  kubeconfig_path      = var.kubeconfig
  kubeconfig_context   = var.kubeconfig_context
  supervisor_namespace = var.namespace

  class_name    = var.class_name
  storage_class = var.storage_class
  image_name    = var.image_name

  ssh_username = "packer"

  publish_location_name     = var.publish_location
  publish_image_name        = "ubuntu-22.04-ttl-${formatdate("YYYYMMDDhhmmss", timestamp())}"
  publish_image_description = "Published with a TTL on the publish request"
  publish_request_ttl_sec   = var.publish_request_ttl_sec
}

build {
  sources = ["source.vsphere-supervisor.ttl"]

  provisioner "shell" {
    inline = ["uname -a"]
  }

  post-processor "manifest" {
    output     = "manifest.json"
    strip_path = true
  }
}
