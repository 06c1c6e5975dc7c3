"""Text preprocessing for recurrent models, with Keras' semantics and a Rust core.

- :class:`Tokenizer`, :func:`tokenizer_from_json`, :func:`text_to_word_sequence`:
  texts to word ids (``fit_on_texts``, ``texts_to_sequences``, ...);
- :func:`pad_sequences`: ragged id lists to a ``(batch, maxlen)`` array;
- :func:`load_word_vectors`, :class:`WordVectors`: GloVe / word2vec files;
- :func:`embedding_matrix`: pretrained vectors as embedding weights.

>>> from rustrnn.text import Tokenizer, pad_sequences
>>> tok = Tokenizer(num_words=1000, oov_token="<unk>")
>>> tok.fit_on_texts(["a good film", "a bad film"])
>>> pad_sequences(tok.texts_to_sequences(["a good one"]), maxlen=5)
array([[0, 0, 2, 4, 1]], dtype=int32)
"""

from .embedding import EmbeddingCoverage, embedding_matrix
from .ragged import RaggedSequences
from .sequence import pad_sequences
from .tokenizer import KERAS_FILTERS, Tokenizer, text_to_word_sequence, tokenizer_from_json
from .vectors import WordVectors, load_word_vectors

__all__ = [
    "Tokenizer",
    "tokenizer_from_json",
    "text_to_word_sequence",
    "KERAS_FILTERS",
    "pad_sequences",
    "RaggedSequences",
    "WordVectors",
    "load_word_vectors",
    "embedding_matrix",
    "EmbeddingCoverage",
]
