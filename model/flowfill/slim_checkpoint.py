"""Slim checkpoints: a resumable state small enough to travel to the GPU machine next to the tracked
package (the working tree that travels is limited to 64 MiB, and models/default alone is 30 MB).

The slim form keeps the VAE, the classifier and every non-tensor entry exactly, stores the EMA of
the DiT and the text encoder in fp16 (large float tensors only; pos-embed tables and small tensors
stay fp32) and drops the raw bf16 weights: on rebuild the raw weights restart from the EMA. Each
slice ends with an EMA that is ~97 % new (decay 0.999 over thousands of steps), so the fp16 rounding
of the starting EMA does not reach the exported model.

  meta.pkl        the state tree, tensors replaced by {"__slim_tensor__": i}, plus the tensor table
  tensors.bin.gz  the tensors' bytes, concatenated

Two writers: `from_torch_zip` reads a torch checkpoint without PyTorch (the development machine has
none); `write_slim` takes a loaded state (PyTorch). `rebuild` (PyTorch) returns a full state that
flowfill.run resumes from, e.g.

  python -m flowfill.slim_checkpoint from-parts runs out/slim          # no PyTorch needed
  python -m flowfill.slim_checkpoint rebuild out/slim runs-rebuilt      # on the GPU machine
"""
import collections
import gzip
import io
import pickle
import sys
import zipfile
from pathlib import Path

import numpy as np

MARK = "__slim_tensor__"
EMA_KEYS = ("dit_ema", "te_ema")
RAW_FROM_EMA = {"dit": "dit_ema", "te": "te_ema"}
FP16_MIN_NUMEL = 4096
_STORAGE_DTYPE = {"FloatStorage": "float32", "BFloat16Storage": "bfloat16", "LongStorage": "int64",
                  "HalfStorage": "float16", "IntStorage": "int32", "ByteStorage": "uint8", "BoolStorage": "bool"}
_ITEMSIZE = {"float32": 4, "bfloat16": 2, "float16": 2, "int64": 8, "int32": 4, "uint8": 1, "bool": 1}


def _to_fp16_ok(group: str, key: str, numel: int) -> bool:
    return group in EMA_KEYS and numel >= FP16_MIN_NUMEL and "pos_embed" not in key


# ---- reading a torch zip checkpoint without PyTorch -------------------------------------------

class _StorageType:
    def __init__(self, name):
        self.name = name


class _TensorRef:
    def __init__(self, storage, offset, size, stride):
        self.storage, self.offset, self.size, self.stride = storage, offset, tuple(size), tuple(stride)


def _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks, metadata=None):
    return _TensorRef(storage, storage_offset, size, stride)


class _StubUnpickler(pickle.Unpickler):
    def find_class(self, module, name):
        if module == "torch._utils" and name == "_rebuild_tensor_v2":
            return _rebuild_tensor_v2
        if module == "torch" and name in _STORAGE_DTYPE:
            return _StorageType(name)
        if module == "collections" and name == "OrderedDict":
            return collections.OrderedDict
        raise pickle.UnpicklingError(f"checkpoint holds {module}.{name}; only plain tensors and containers are supported")

    def persistent_load(self, pid):
        kind, storage_type, key, _location, numel = pid
        if kind != "storage":
            raise pickle.UnpicklingError(f"persistent id kind {kind!r}, expected 'storage'")
        return (_STORAGE_DTYPE[storage_type.name], key, numel)


def _bf16_bits_to_f32(bits: np.ndarray) -> np.ndarray:
    return (bits.astype(np.uint32) << 16).view(np.float32)


class _Packer:
    def __init__(self):
        self.table, self.chunks, self.offset = [], [], 0

    def add(self, array: np.ndarray, dtype: str, stored: str, shape) -> dict:
        raw = np.ascontiguousarray(array).tobytes()
        self.table.append({"dtype": dtype, "stored": stored, "shape": list(shape), "offset": self.offset, "nbytes": len(raw)})
        pad = -len(raw) % 64  # every tensor starts 64-byte aligned in the blob
        self.chunks.append(raw + bytes(pad))
        self.offset += len(raw) + pad
        return {MARK: len(self.table) - 1}

    def write(self, tree, directory):
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "meta.pkl").write_bytes(pickle.dumps({"tree": tree, "tensors": self.table}, protocol=4))
        (directory / "tensors.bin.gz").write_bytes(gzip.compress(b"".join(self.chunks), compresslevel=6))
        return directory


def _pack_numpy(packer: _Packer, group: str, key: str, array: np.ndarray, dtype: str, shape):
    """array holds the tensor's values: float32/int64 as themselves, bfloat16 as uint16 bits."""
    if dtype == "float32" and _to_fp16_ok(group, key, array.size):
        a16 = array.astype(np.float16)
        if np.all(np.isfinite(a16)):
            return packer.add(a16, dtype, "float16", shape)
    return packer.add(array, dtype, dtype, shape)


def from_torch_zip(data: bytes, directory) -> Path:
    z = zipfile.ZipFile(io.BytesIO(data))
    prefix = z.infolist()[0].filename.split("/")[0]
    tree = _StubUnpickler(io.BytesIO(z.read(f"{prefix}/data.pkl"))).load()
    packer = _Packer()
    np_dtype = {"float32": np.float32, "bfloat16": np.uint16, "int64": np.int64, "float16": np.float16,
                "int32": np.int32, "uint8": np.uint8, "bool": np.bool_}

    def convert(obj, group, key):
        if isinstance(obj, _TensorRef):
            dtype, skey, numel = obj.storage
            storage = np.frombuffer(z.read(f"{prefix}/data/{skey}"), dtype=np_dtype[dtype], count=numel)
            extent = obj.offset + sum((s - 1) * st for s, st in zip(obj.size, obj.stride)) + 1 if all(obj.size) else 0
            if extent > numel:
                raise ValueError(f"tensor {group}/{key}: offset {obj.offset}, size {obj.size}, stride {obj.stride} "
                                 f"reaches past its storage of {numel} elements")
            # Any layout (the classifier is channels-last) becomes a contiguous copy.
            arr = np.ascontiguousarray(np.lib.stride_tricks.as_strided(
                storage[obj.offset:], shape=obj.size, strides=[st * storage.itemsize for st in obj.stride]))
            return _pack_numpy(packer, group, key, arr, dtype, obj.size)
        return _NOT_A_LEAF

    if not isinstance(tree, dict):
        raise ValueError(f"checkpoint root is {type(tree).__name__}, expected dict")
    slim = _map_tree({k: v for k, v in tree.items() if k not in RAW_FROM_EMA}, convert)
    return packer.write(slim, directory)


def load_numpy(directory):
    """The slim state with numpy leaves (float32 / int64 / bfloat16 as float32); for checks without PyTorch."""
    directory = Path(directory)
    meta = pickle.loads((directory / "meta.pkl").read_bytes())
    blob = gzip.decompress((directory / "tensors.bin.gz").read_bytes())
    np_stored = {"float32": np.float32, "float16": np.float16, "int64": np.int64, "bfloat16": np.uint16}

    def leaf(e):
        a = np.frombuffer(blob, dtype=np_stored[e["stored"]], count=e["nbytes"] // _ITEMSIZE[e["stored"]], offset=e["offset"])
        a = _bf16_bits_to_f32(a) if e["stored"] == "bfloat16" else a
        return a.reshape(e["shape"])

    return _map_marks(meta["tree"], lambda i: leaf(meta["tensors"][i]))


_NOT_A_LEAF = object()


def _map_tree(obj, leaf, group=None, key=""):
    """Copies a checkpoint tree (dicts, lists, tuples), replacing each value `leaf(obj, group, key)`
    converts; it returns _NOT_A_LEAF for everything else. `group` is the top-level key ("dit_ema"),
    `key` the parameter name inside it; dict subclasses and state_dict `_metadata` are kept."""
    out = leaf(obj, group, key)
    if out is not _NOT_A_LEAF:
        return out
    if isinstance(obj, dict):
        out = type(obj)()
        for k, v in obj.items():
            out[k] = _map_tree(v, leaf, group if group else k, k if group else "")
        if hasattr(obj, "_metadata"):
            out._metadata = obj._metadata
        return out
    if isinstance(obj, list):
        return [_map_tree(v, leaf, group, key) for v in obj]
    if isinstance(obj, tuple):
        return tuple(_map_tree(v, leaf, group, key) for v in obj)
    return obj


def _map_marks(obj, fn):
    """Replaces each {MARK: index} placeholder of a slim tree with fn(index)."""
    return _map_tree(obj, lambda o, _g, _k: fn(o[MARK]) if isinstance(o, dict) and set(o) == {MARK} else _NOT_A_LEAF)


# ---- PyTorch side ------------------------------------------------------------------------------

def rebuild(directory) -> dict:
    """Full resumable state from a slim one: tensors in their original dtypes, raw weights = EMA in bf16."""
    import torch

    dt = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16, "int64": torch.int64,
          "int32": torch.int32, "uint8": torch.uint8, "bool": torch.bool}
    directory = Path(directory)
    meta = pickle.loads((directory / "meta.pkl").read_bytes())
    blob = gzip.decompress((directory / "tensors.bin.gz").read_bytes())

    def leaf(i):
        e = meta["tensors"][i]
        count = e["nbytes"] // _ITEMSIZE[e["stored"]]
        if count == 0:
            return torch.empty(e["shape"], dtype=dt[e["dtype"]])
        raw = bytearray(blob[e["offset"]:e["offset"] + e["nbytes"]])
        if e["stored"] == "bfloat16":  # read the bits as int16, then reinterpret
            t = torch.frombuffer(raw, dtype=torch.int16, count=count).view(torch.bfloat16)
        else:
            t = torch.frombuffer(raw, dtype=dt[e["stored"]], count=count)
        return t.reshape(e["shape"]).to(dt[e["dtype"]]).clone()

    state = _map_marks(meta["tree"], leaf)
    for raw, ema in RAW_FROM_EMA.items():
        if raw not in state and ema in state:
            state[raw] = {k: v.to(torch.bfloat16) for k, v in state[ema].items()}
    return state


def write_slim(state: dict, directory) -> Path:
    import torch

    packer = _Packer()
    names = {torch.float32: "float32", torch.float16: "float16", torch.bfloat16: "bfloat16", torch.int64: "int64",
             torch.int32: "int32", torch.uint8: "uint8", torch.bool: "bool"}

    def convert(obj, group, key):
        if isinstance(obj, torch.Tensor):
            t = obj.detach().cpu().contiguous()
            dtype = names[t.dtype]
            arr = t.view(torch.int16).numpy().view(np.uint16) if dtype == "bfloat16" else t.numpy()
            return _pack_numpy(packer, group, key, arr, dtype, tuple(t.shape))
        return _NOT_A_LEAF

    return packer.write(_map_tree({k: v for k, v in state.items() if k not in RAW_FROM_EMA}, convert), directory)


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    if len(argv) != 3 or argv[0] not in ("from-parts", "rebuild", "slim"):
        raise SystemExit("usage: python -m flowfill.slim_checkpoint {from-parts CKPT_DIR OUT | slim CKPT_DIR OUT | rebuild SLIM_DIR CKPT_OUT}")
    cmd, src, dst = argv
    if cmd == "from-parts":
        parts = sorted(Path(src).glob("ckpt.part*"))
        if not parts:
            raise SystemExit(f"no ckpt.part* in {src}")
        out = from_torch_zip(b"".join(p.read_bytes() for p in parts), dst)
    elif cmd == "slim":
        from . import checkpoint

        state = checkpoint.load_parts(src)
        if state is None:
            raise SystemExit(f"no ckpt.part* in {src}")
        out = write_slim(state, dst)
    else:
        from . import checkpoint

        state = rebuild(src)
        checkpoint.save_parts(state, dst)
        out = Path(dst)
        print(f"rebuilt dit_steps {state.get('dit_steps')} keys {sorted(state)} -> {out}")
    sizes = {p.name: p.stat().st_size for p in sorted(Path(out).iterdir())}
    print(f"{cmd}: {out} {sizes}")


if __name__ == "__main__":
    main()
