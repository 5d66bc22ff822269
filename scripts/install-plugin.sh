#!/usr/bin/env bash
# Builds the plugin's release binary and installs it where the Packer you use looks for it:
#   Packer 1.6       <config dir>/plugins/packer-builder-vsphere-supervisor
#   Packer 1.7-1.9   <plugin dir>/github.com/packer-plugin-rs/vsphere-supervisor/
#                      packer-plugin-vsphere-supervisor_v<version>_x5.0_<os>_<arch> (+ _SHA256SUM)
#   Packer >= 1.10   `packer plugins install --path <binary> github.com/packer-plugin-rs/vsphere-supervisor`
#
#   scripts/install-plugin.sh [--packer PACKER] [--binary FILE]
#     --packer  the Packer executable to install for (default: `packer` on PATH)
#     --binary  install this binary instead of building one (e.g. from a release archive)
# Honours PACKER_PLUGIN_PATH and PACKER_CONFIG_DIR as Packer does. Says where it installed.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
packer=packer
binary=""
while [ $# -gt 0 ]; do
  case "$1" in
    --packer) packer=${2:?--packer needs a value}; shift 2 ;;
    --binary) binary=${2:?--binary needs a value}; shift 2 ;;
    *) echo "install-plugin: unknown argument $1 (see the comment at the top of $0)" >&2; exit 2 ;;
  esac
done

source_addr=github.com/packer-plugin-rs/vsphere-supervisor
name=vsphere-supervisor
version=$(sed -n 's/^version = "\(.*\)"$/\1/p' "$root/Cargo.toml" | head -1)
[ -n "$version" ] || { echo "install-plugin: no version in Cargo.toml" >&2; exit 1; }
case "$(uname -m)" in
  x86_64) arch=amd64 ;;
  aarch64 | arm64) arch=arm64 ;;
  *) arch=$(uname -m) ;;
esac
os=$(uname -s | tr '[:upper:]' '[:lower:]')

command -v "$packer" >/dev/null || { echo "install-plugin: $packer is not on PATH (--packer PACKER)" >&2; exit 1; }
pv=$("$packer" version | sed -n 's/^Packer v\([0-9][0-9.]*\).*/\1/p' | head -1)
[ -n "$pv" ] || { echo "install-plugin: cannot tell the version of $packer" >&2; exit 1; }
major=${pv%%.*}
minor=${pv#*.}
minor=${minor%%.*}

if [ -z "$binary" ]; then
  echo "install-plugin: building the release binary (cargo build --release)" >&2
  (cd "$root" && VSPHERE_SUPERVISOR_RELEASE=1 cargo build --release --locked --bin "packer-plugin-$name" >&2)
  binary=${CARGO_TARGET_DIR:-$root/target}/release/packer-plugin-$name
fi
[ -x "$binary" ] || { echo "install-plugin: $binary is not an executable" >&2; exit 1; }

# Packer's configuration directory (packer-plugin-sdk's pathing.ConfigDir on Unix).
config_dir() {
  if [ -n "${PACKER_CONFIG_DIR:-}" ]; then
    echo "$PACKER_CONFIG_DIR/.packer.d"
  elif [ -d "$HOME/.packer.d" ]; then
    echo "$HOME/.packer.d"
  elif [ -n "${XDG_CONFIG_HOME:-}" ]; then
    echo "$XDG_CONFIG_HOME/packer"
  else
    echo "$HOME/.config/packer"
  fi
}

# The folder Packer >= 1.7 installs into: the last of PACKER_PLUGIN_PATH, else <config dir>/plugins.
plugin_dir() {
  if [ -n "${PACKER_PLUGIN_PATH:-}" ]; then
    echo "${PACKER_PLUGIN_PATH##*:}"
  else
    echo "$(config_dir)/plugins"
  fi
}

if [ "$major" -eq 1 ] && [ "$minor" -le 6 ]; then
  # Packer 1.6 searches ~/.packer.d/plugins (not the XDG directory) and PACKER_PLUGIN_PATH.
  dir=${PACKER_PLUGIN_PATH:-${PACKER_CONFIG_DIR:-$HOME}/.packer.d/plugins}
  dir=${dir%%:*}
  mkdir -p "$dir"
  install -m 0755 "$binary" "$dir/packer-builder-$name"
  echo "install-plugin: installed for Packer $pv as $dir/packer-builder-$name"
elif [ "$major" -eq 1 ] && [ "$minor" -le 9 ]; then
  dir=$(plugin_dir)/$source_addr
  file=packer-plugin-${name}_v${version}_x5.0_${os}_${arch}
  mkdir -p "$dir"
  install -m 0755 "$binary" "$dir/$file"
  sha256sum "$dir/$file" | cut -d' ' -f1 | tr -d '\n' >"$dir/${file}_SHA256SUM"
  echo "install-plugin: installed for Packer $pv as $dir/$file"
else
  "$packer" plugins install --path "$binary" "$source_addr"
  echo "install-plugin: installed for Packer $pv with 'packer plugins install --path' as $source_addr"
fi
echo "install-plugin: use it with source \"vsphere-supervisor\" (required_plugins: $source_addr)"
