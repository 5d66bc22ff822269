#!/usr/bin/env bash
# Prints the project's cache directory (Go-built tools, fetched CRDs), kept between runs:
# $PACKER_VSPHERE_CACHE, else $XDG_CACHE_HOME/packer-plugin-vsphere, else ~/.cache/packer-plugin-vsphere.
if [ -n "${PACKER_VSPHERE_CACHE:-}" ]; then
  echo "$PACKER_VSPHERE_CACHE"
else
  echo "${XDG_CACHE_HOME:-$HOME/.cache}/packer-plugin-vsphere"
fi
