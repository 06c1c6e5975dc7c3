"""Loads a g2p model saved by scripts/g2p_tune.py --save, for scripts/g2p_ensemble.py and scripts/g2p_rescore.py."""
import numpy as np
import rustrnn
from rustrnn.demos import g2p


def saved_model(data: g2p.Data, directory: str, tag: str, last_epoch: int, average: int, units: int = 256,
                layers: int = 2, attention: str = "luong") -> rustrnn.Seq2Seq:
    """The Seq2Seq saved as {directory}/{tag}-e{E}.npz, its weights averaged over epochs last_epoch-average+1 ..
    last_epoch (g2p_tune.py keeps the last 4); the shape arguments must be those it was trained with."""
    m = rustrnn.Seq2Seq(src_vocab=27, tgt_vocab=len(data.phonemes) + 3, embedding_dim=64, units=units // 2,
                        cell="lstm", bidirectional_encoder=True, attention=attention, bos_id=g2p.BOS, eos_id=g2p.EOS,
                        num_layers=layers)
    saved = [np.load(f"{directory}/{tag}-e{e}.npz") for e in range(last_epoch - average + 1, last_epoch + 1)]
    weights = [[f[f"arr_{i}"] for i in range(len(f.files))] for f in saved]
    m.set_weights([np.mean(ws, axis=0) for ws in zip(*weights)])
    return m
