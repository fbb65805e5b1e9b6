#!/usr/bin/env bash
# Runs the GPU bundle made by bench/gpu/pack.mjs on a Linux x64 machine without Node.js or
# internet: unpacks it, unpacks Debian's Vulkan loader beside it (never into /), finds the
# NVIDIA Vulkan driver, lets the reference import dominate, then hands over to the bundle's
# bench/gpu/run.mjs (its flags: see there; --small is the quick run on any adapter).
#
#   bash bench/gpu/run.sh [--bundle FILE] [--dir DIR] [run.mjs flags...]
#
# FILE defaults to .cache/gpu-bundle/cut-gpu-bundle.tar.xz, DIR (where it is unpacked) to
# /tmp/cut-gpu. Results go to $OUT (default: .cache/gpu-out, ignored by git). The whole run is in bench/gpu/README.md.
set -euo pipefail
cd "$(dirname "$0")/../.."
bundle=.cache/gpu-bundle/cut-gpu-bundle.tar.xz
dir=/tmp/cut-gpu
pass=()
while [[ $# -gt 0 ]]; do
  case $1 in
    --bundle) bundle=$2; shift 2 ;;
    --dir) dir=$2; shift 2 ;;
    *) pass+=("$1"); shift ;;
  esac
done
export OUT=${OUT:-$PWD/.cache/gpu-out}
mkdir -p "$OUT"
if [[ ! -f $bundle ]]; then
  echo "run.sh: $bundle not found: make it with 'node bench/gpu/pack.mjs' (see bench/gpu/README.md)" >&2
  exit 1
fi

t0=$SECONDS
if [[ $dir != /?*/* && $dir != /tmp/* ]]; then echo "run.sh: --dir $dir: give a folder at least two levels below / (it is emptied first)" >&2; exit 1; fi
rm -rf "$dir" && mkdir -p "$dir"
# xz may be missing there; Python's tarfile reads it too.
if command -v xz >/dev/null; then
  tar -C "$dir" -xJf "$bundle"
else
  python3 -c 'import sys, tarfile; tarfile.open(sys.argv[1]).extractall(sys.argv[2])' "$bundle" "$dir"
fi

# Debian's loader (and libGLdispatch) into the bundle, not into /.
mkdir -p "$dir/sysroot"
for deb in "$dir"/debs/*.deb; do
  if command -v dpkg-deb >/dev/null; then
    dpkg-deb -x "$deb" "$dir/sysroot"
  else
    # A .deb is an ar archive; its data.tar.* holds the files.
    python3 - "$deb" "$dir/sysroot" <<'EOF'
import io, sys, tarfile
data = open(sys.argv[1], 'rb').read()
pos = 8
while pos < len(data):
    name = data[pos:pos + 16].decode().strip().rstrip('/')
    size = int(data[pos + 48:pos + 58].decode().strip())
    body = data[pos + 60:pos + 60 + size]
    if name.startswith('data.tar'):
        tarfile.open(fileobj=io.BytesIO(body)).extractall(sys.argv[2])
    pos += 60 + size + (size % 2)
EOF
  fi
done
lib=$dir/sysroot/usr/lib/x86_64-linux-gnu
export LD_LIBRARY_PATH="$lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
if [[ -d /usr/local/nvidia/lib64 ]]; then export LD_LIBRARY_PATH="$LD_LIBRARY_PATH:/usr/local/nvidia/lib64"; fi

# The Vulkan driver: one named by the caller (VK_DRIVER_FILES / VK_ICD_FILENAMES, e.g. lavapipe's
# for --small), else NVIDIA's ICD file where drivers mounted into containers put it, else one
# written here for NVIDIA's driver library when only the library is there.
if [[ -z ${VK_DRIVER_FILES:-} && -z ${VK_ICD_FILENAMES:-} ]]; then
  for f in /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json /usr/share/vulkan/icd.d/nvidia_icd.json /etc/vulkan/icd.d/nvidia_icd.json; do
    if [[ -f $f ]]; then export VK_DRIVER_FILES=$f; break; fi
  done
  if [[ -z ${VK_DRIVER_FILES:-} ]]; then
    glx=$( (ldconfig -p 2>/dev/null | awk '/libGLX_nvidia\.so\.0/ {print $NF; exit}') || true)
    [[ -z $glx && -f /usr/local/nvidia/lib64/libGLX_nvidia.so.0 ]] && glx=/usr/local/nvidia/lib64/libGLX_nvidia.so.0
    if [[ -n $glx ]]; then
      printf '{"file_format_version": "1.0.0", "ICD": {"library_path": "%s", "api_version": "1.3.0"}}\n' "$glx" >"$dir/nvidia_icd.json"
      export VK_DRIVER_FILES=$dir/nvidia_icd.json
    fi
  fi
fi
echo "run.sh: Vulkan driver file: ${VK_DRIVER_FILES:-${VK_ICD_FILENAMES:-none found}}"

# The Python with torch: CUT_PYTHON, else python3, else Debian's /usr/bin/python3.
if [[ -z ${CUT_PYTHON:-} ]]; then
  for p in python3 /usr/bin/python3; do
    if "$p" -c 'import torch' 2>/dev/null; then CUT_PYTHON=$(command -v "$p"); break; fi
  done
fi
export CUT_PYTHON=${CUT_PYTHON:-python3}
# dominate travels in the bundle; used only where that Python lacks it.
if ! "$CUT_PYTHON" -c 'import dominate' 2>/dev/null; then
  export PYTHONPATH="$dir/python${PYTHONPATH:+:$PYTHONPATH}"
fi
echo "run.sh: unpacked $(du -sm "$dir" | cut -f1) MiB into $dir in $((SECONDS - t0)) s; python: $CUT_PYTHON"

exec "$dir/node/bin/node" "$dir/bench/gpu/run.mjs" --root "$dir" "${pass[@]}"
