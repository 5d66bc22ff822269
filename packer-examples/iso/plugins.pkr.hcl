# The plugin this example needs, for Packer >= 1.7 (`packer init` checks it is installed; it
# cannot download it: install it with scripts/install-plugin.sh or from a release archive, see
# the README). Packer 1.6 does not know `required_plugins`: build the file build.pkr.hcl alone.
#
# The local name `vsphere-supervisor` is what registers the builder as `source "vsphere-supervisor"`.
# Beside HashiCorp's vsphere plugin (whose v1.x also has a builder by that name), give one of
# the two another local name, e.g. `vsphere = { source = "github.com/hashicorp/vsphere" }` stays
# and ours becomes `supervisor-rs = { ... }` with `source "supervisor-rs" "name"`.
packer {
  required_plugins {
    vsphere-supervisor = {
      source  = "github.com/packer-plugin-rs/vsphere-supervisor"
      version = ">= 0.1.0"
    }
  }
}
