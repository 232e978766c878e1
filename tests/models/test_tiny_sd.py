"""The tiny pipeline's in-memory word tokenizer: the words that tell captions apart are single tokens, and every
caption of captioned-digits maps to its own token sequence (characters would make 'item 17' and 'item 71'
neighbours)."""

import pytest

from cpaudit.data.load import load_data
from cpaudit.models.tiny_sd import word_tokenizer

pytest.importorskip("transformers")


def test_caption_words_are_tokens_and_captions_stay_apart(tmp_path):
    captions = load_data("captioned-digits").captions
    tok = word_tokenizer(captions, 16)
    ids = [tuple(tok(c).input_ids) for c in captions]
    assert len(set(ids)) == len(captions)
    assert tok.convert_ids_to_tokens(tok("a photo of a shy brown fox").input_ids)[-4:-1] == [
        "shy</w>",
        "brown</w>",
        "fox</w>",
    ]
    # BPE ranks across words split two of them ('horse' takes h+o from 'photo'): golden, so a change shows.
    split = sorted({w for c in captions for w in c.split() if len(tok.tokenize(w)) > 1})
    assert split == ["orange", "photo"]
    # Unknown words still tokenize (character by character), and the folder diffusers loads round-trips.
    assert len(tok("a zebra").input_ids) > 4
    tok.save_pretrained(str(tmp_path))
    from transformers import CLIPTokenizer

    assert CLIPTokenizer.from_pretrained(str(tmp_path))(captions[5]).input_ids == list(ids[5])
