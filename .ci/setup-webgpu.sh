#!/usr/bin/env bash
# Installs Mesa's software Vulkan driver (lavapipe) into .cache/vulkan/, without a system
# install, so the test suite can also run on the webgpu backend (Dawn for Node on lavapipe).
#
# Debian 12's own Mesa (22.x) is too old for Dawn; bookworm-backports has Mesa 25, which
# needs a newer libdrm from the same suite. A new machine of ours also lacks the Vulkan
# loader (libvulkan1, from the main suite). Everything else lavapipe links against
# (libLLVM-15, libxcb*, libwayland-client, libzstd, libexpat, ...) is on the machine image.
#
# apt is used through a private configuration under .cache/vulkan/apt/: our own sources
# list (the machine's Debian mirror, main + backports suites), package lists and download
# cache. The machine's /etc/apt and /var/lib/apt are only read (apt.conf.d for proxy and
# date settings, the archive keyring), never written, and no package is installed: the
# .deb files are unpacked with `dpkg-deb -x` and the driver is reached through
# VK_ICD_FILENAMES and LD_LIBRARY_PATH, which .cache/vulkan/env.sh exports.
#
# Idempotent: when .cache/vulkan/ is complete it only checks it and returns (no network).
# Usage: bash .ci/setup-webgpu.sh && source .cache/vulkan/env.sh
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
dest=$root/.cache/vulkan
# Packages taken from backports where backports has them (Mesa, libdrm), else from main.
packages=(mesa-vulkan-drivers libdrm2 libdrm-amdgpu1 libdrm-common libvulkan1)
stamp_text="packages: ${packages[*]}; into: $dest"

# Every library the loader and the driver link against must resolve, with ours first.
check_libs() {
  local lib=$1 missing
  missing=$(LD_LIBRARY_PATH=$lib ldd "$lib/libvulkan.so.1" "$lib/libvulkan_lvp.so" | awk '/not found/ {print $1}' | sort -u)
  if [[ -n $missing ]]; then
    echo "setup-webgpu: libraries missing on this machine (install their Debian packages): $missing" >&2
    return 1
  fi
}

if [[ -f $dest/env.sh && -f $dest/stamp && $(cat "$dest/stamp") == "$stamp_text" ]]; then
  driver=$(find "$dest/root/usr/lib" -name libvulkan_lvp.so | head -n 1)
  if [[ -n $driver ]] && check_libs "$(dirname "$driver")"; then
    echo "setup-webgpu: $dest already set up ($(cat "$dest/versions"))"
    exit 0
  fi
fi

if [[ ! -r /etc/os-release ]] || ! grep -q '^ID=debian' /etc/os-release; then
  echo "setup-webgpu: needs Debian's apt (this is not Debian); install a Vulkan driver by other means" >&2
  exit 1
fi
codename=$(. /etc/os-release && echo "$VERSION_CODENAME")

# The Debian mirror the machine already uses for its main suite, from either sources format.
shopt -s nullglob
sources=()
for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
  [[ -r $f ]] && sources+=("$f")
done
shopt -u nullglob
mirror=$(
  [[ ${#sources[@]} -gt 0 ]] && awk -v suite="$codename" '
    # one-line format: deb [options] URI SUITE COMPONENTS...
    $1 == "deb" {
      line = $0; sub(/^[[:space:]]+/, "", line); sub(/\[[^]]*\]/, "", line); split(line, f, /[[:space:]]+/)
      if (f[3] == suite) { print f[2]; exit }
    }
    # deb822 format: stanzas of Types/URIs/Suites fields, separated by blank lines
    FNR == 1 || /^[[:space:]]*$/ { types = ""; uri = ""; suites = "" }
    /^Types:/  { types = $0 " " }
    /^URIs:/   { uri = $2 }
    /^Suites:/ { suites = $0 " " }
    types ~ /[[:space:]]deb[[:space:]]/ && uri != "" && index(suites, " " suite " ") { print uri; exit }
  ' "${sources[@]}" || true
)
mirror=${mirror:-http://deb.debian.org/debian}
keyring=/usr/share/keyrings/debian-archive-keyring.gpg

rm -rf "$dest"
apt_dir=$dest/apt
mkdir -p "$apt_dir/lists/partial" "$apt_dir/archives/partial" "$apt_dir/sources.list.d" "$dest/debs" "$dest/root"
{
  echo "deb [signed-by=$keyring] $mirror $codename main"
  echo "deb [signed-by=$keyring] $mirror $codename-backports main"
} >"$apt_dir/sources.list"
apt_opts=(
  -o "Dir::Etc::SourceList=$apt_dir/sources.list"
  -o "Dir::Etc::SourceParts=$apt_dir/sources.list.d"
  -o "Dir::State::Lists=$apt_dir/lists"
  -o "Dir::Cache=$apt_dir"
  -o "Dir::Cache::Archives=$apt_dir/archives"
  -o "Acquire::Languages=none"
  -o "APT::Sandbox::User=root"
  -o "APT::Default-Release=$codename-backports"
  -qq
)

echo "setup-webgpu: fetching ${packages[*]} from $mirror ($codename, $codename-backports)"
apt-get "${apt_opts[@]}" update
(cd "$dest/debs" && apt-get "${apt_opts[@]}" download "${packages[@]}")

for deb in "$dest"/debs/*.deb; do dpkg-deb -x "$deb" "$dest/root"; done
for deb in "$dest"/debs/*.deb; do dpkg-deb --show --showformat='${Package}=${Version}\n' "$deb"; done | paste -sd' ' - >"$dest/versions"
rm -rf "$apt_dir" "$dest/debs"

icd_in=$(find "$dest/root/usr/share/vulkan/icd.d" -name 'lvp_icd*.json' | head -n 1)
driver=$(find "$dest/root/usr/lib" -name libvulkan_lvp.so | head -n 1)
if [[ -z $icd_in || -z $driver ]]; then
  echo "setup-webgpu: lavapipe (libvulkan_lvp.so and its ICD json) not found in mesa-vulkan-drivers" >&2
  exit 1
fi
lib=$(dirname "$driver")
# Only lavapipe is wanted: drop the hardware drivers and layers (most of the 60 MB).
find "$lib" \( -name 'libvulkan_*.so' ! -name libvulkan_lvp.so -o -name 'libVkLayer_*' \) -delete
check_libs "$lib"

# The loader reads the driver from the ICD file: point it at the unpacked library.
sed -E "s#(\"library_path\"[[:space:]]*:[[:space:]]*\")[^\"]*\"#\1$driver\"#" "$icd_in" >"$dest/lvp_icd.json"

cat >"$dest/env.sh" <<EOF
# Written by .ci/setup-webgpu.sh: WebGPU (Dawn) on Mesa's lavapipe from $dest.
export VK_ICD_FILENAMES="$dest/lvp_icd.json"
case ":\${LD_LIBRARY_PATH:-}:" in
  *":$lib:"*) ;;
  *) export LD_LIBRARY_PATH="$lib\${LD_LIBRARY_PATH:+:\$LD_LIBRARY_PATH}" ;;
esac
# Only lavapipe: no implicit layers of a system Mesa (whose device-select layer would
# otherwise be loaded from our newer library folder on machines that have one).
export VK_LOADER_LAYERS_DISABLE="~implicit~"
export CUT_TEST_WEBGPU=1
EOF
echo "$stamp_text" >"$dest/stamp"
echo "setup-webgpu: done: $(cat "$dest/versions")"
