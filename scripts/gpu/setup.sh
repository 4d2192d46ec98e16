#!/usr/bin/env bash
# On the GPU machine (no Node, no network): unpack what scripts/gpu/pack.mjs packed, load the
# Vulkan loader, and print what Dawn sees. Source it: `source scripts/gpu/setup.sh .device-carry/gpu`.
# Leaves: $FF (tools folder), `ffnode` (node with the bundled CLIs beside it), PYTHONPATH with diffusers.
set -e
CARRY=${1:-.device-carry/gpu}
export FF=/tmp/ff
mkdir -p $FF
if [ ! -x $FF/node ]; then xz -dc $CARRY/node.xz > $FF/node && chmod +x $FF/node; fi
if [ ! -d $FF/node_modules ]; then tar -xJf $CARRY/node_modules.tar.xz -C $FF; fi
cp $CARRY/bin/*.mjs $FF/
if [ -d .gl ]; then for f in .gl/*.deb; do dpkg -x $f /; done; ldconfig; fi
export VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
export VK_ICD_FILENAMES=$VK_DRIVER_FILES
export XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-/tmp}
if [ -f $CARRY/reference/diffusers-src-58eb52c.tar.xz ] && [ ! -d /tmp/d/src ]; then mkdir -p /tmp/d && tar -xJf $CARRY/reference/diffusers-src-58eb52c.tar.xz -C /tmp/d; fi
export PYTHONPATH=/tmp/d/src${PYTHONPATH:+:$PYTHONPATH}
export CLIP_VOCAB=$PWD/$CARRY/reference/clip-bpe_simple_vocab_16e6.txt.gz
export T5_TOKENIZER=$PWD/$CARRY/reference/t5-tokenizer
ffnode() { $FF/node --max-old-space-size=200000 "$@"; }
export -f ffnode 2>/dev/null || true
set +e
