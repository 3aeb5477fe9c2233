"""Captioning task: shapes, decoding, scores, uploads, checkpoints and the CLI, on tiny models."""

import json

import numpy as np
import pytest
import torch
from PIL import Image

from seqcore.checkpoints import CheckpointInfo, list_checkpoints
from seqcore.cli import main
from seqcore.data import scenes
from seqcore.errors import InputError
from seqcore.generate import beam_search
from seqcore.tasks import caption_data as D
from seqcore.tasks import caption_scores as S
from seqcore.tasks import caption_upload as U
from seqcore.tasks import captioning as C
from tests.helpers import image_bytes

TINY = {"d_model": 16, "channels": [8, 8, 16], "embed_dim": 8, "hidden_size": 16, "att_dim": 8, "n_heads": 2,
        "n_layers": 1}


def tiny(decoder):
    torch.manual_seed(0)
    return C.build(C.Config(decoder=decoder, model=TINY)).eval()


def tiny_config(decoder, dataset="shapes", n_train=16, n_val=4, eval_n=0):
    return C.Config(decoder=decoder, dataset=dataset, n_train=n_train, n_val=n_val, epochs=1, batch_size=16,
                    eval_n=eval_n, model=TINY)


@pytest.mark.parametrize("decoder", ["lstm", "transformer"])
def test_forward_shapes_and_attention_sums_to_one(decoder):
    model = tiny(decoder)
    data = D.CaptionData(D.make_scenes("shapes", 3, 0, "train"))
    images, tin, tout = (torch.stack(x) for x in zip(*[data[i] for i in range(3)], strict=True))
    logits, att = model(images, tin, return_attention=True)
    t = D.MAX_LEN - 1
    assert logits.shape == (3, t, len(D.VOCAB))
    layers, heads = (1, 1) if decoder == "lstm" else (1, 2)
    assert att.shape == (3, t, layers, heads, 64)
    torch.testing.assert_close(att.sum(-1), torch.ones(3, t, layers, heads))
    assert torch.isfinite(C.caption_loss(model, (images, tin, tout)))


@pytest.mark.parametrize("decoder", ["lstm", "transformer"])
def test_greedy_equals_beam_of_one_and_maps_sum_to_one(decoder):
    model = tiny(decoder)
    imgs = np.stack([s.image for s in D.make_scenes("digits", 2, 0, "test")])
    greedy = C.caption_images(model, imgs)
    beam = C.caption_images(model, imgs, beam=3)
    assert len(greedy) == len(beam) == 2
    for cap in greedy + beam:
        assert cap.attention.shape[0] == len(cap.words) + 1 or len(cap.words) == D.MAX_LEN - 1
        np.testing.assert_allclose(cap.attention.sum(-1), 1.0, atol=1e-4)
        maps = cap.word_maps(model.grid)
        assert maps.shape == (len(cap.words), 8, 8)
    # beam search never scores below greedy on the same model (both sum log-probs of their words)
    with pytest.raises(InputError):
        C.caption_images(model, imgs, beam=0)


@torch.inference_mode()
def test_transformer_kv_cache_steps_match_the_full_prefix():
    """The cached step (one new token per call) gives what rerunning the whole prefix gives, after a reorder too."""
    model = tiny("transformer")
    images = D.image_tensor(np.stack([s.image for s in D.make_scenes("shapes", 3, 0, "test")]))
    feats = model.encoder(images)
    state = model.start(images)
    prefix = torch.full((3, 1), D.BOS)
    for t in range(5):
        if t == 3:  # beam search reorders its hypotheses: the cache rows must follow
            idx = torch.tensor([2, 0, 0])
            state = model.reorder(state, idx)
            prefix, feats = prefix[idx], feats[idx]
        logp, state = model.step(state, prefix[:, -1:])
        out = model.decoder(prefix, feats, return_attention=True)
        torch.testing.assert_close(logp, torch.log_softmax(out.y[:, -1], -1), atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(state["attention"], torch.stack([a[:, :, -1] for a in out.cross_attentions], 1),
                                   atol=1e-6, rtol=1e-5)
        prefix = torch.cat([prefix, logp.argmax(-1, keepdim=True)], 1)


@torch.inference_mode()
def test_lstm_steps_match_teacher_forcing_after_a_reorder():
    """The LSTM's carried (h, c) and grid keys follow a reorder: stepping equals the full forward pass."""
    model = tiny("lstm")
    images = D.image_tensor(np.stack([s.image for s in D.make_scenes("shapes", 3, 0, "test")]))
    idx = torch.tensor([1, 1, 0])
    state = model.reorder(model.start(images), idx)
    tokens = torch.tensor([[D.BOS, 5, 7, 9]]).expand(3, -1)
    logits, att = model(images[idx], tokens)
    for t in range(tokens.shape[1]):
        logp, state = model.step(state, tokens[:, t: t + 1])
        torch.testing.assert_close(logp, torch.log_softmax(logits[:, t], -1), atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(state["attention"], att[:, t], atol=1e-6, rtol=1e-5)


@pytest.mark.parametrize("decoder", ["lstm", "transformer"])
def test_beam_search_keeps_each_words_attention_row(decoder):
    """seqcore.generate's extras: every token of the best hypothesis carries the attention it was written with,
    the same rows a teacher-forced pass over those tokens gives."""
    model = tiny(decoder)
    image = D.image_tensor(D.make_scenes("shapes", 1, 0, "test")[0].image)
    best = beam_search(model, image, bos=D.BOS, eos=D.EOS, beam=3, max_len=D.MAX_LEN - 1, length_norm="mean",
                       extras=lambda state: state["attention"]).best
    assert len(best.extras) == len(best.tokens)
    with torch.inference_mode():
        _, att = model(image, torch.tensor([[D.BOS, *best.tokens[:-1]]]), return_attention=True)
    torch.testing.assert_close(torch.stack(best.extras), att[0], atol=1e-5, rtol=1e-4)
    assert best.normalized(0.6, "mean") == pytest.approx(best.score / len(best.tokens))


def test_bleu_via_sacrebleu_on_a_known_pair():
    assert S.bleu4(["a small red circle"], ["a small red circle"]) == pytest.approx(100.0)
    # 3 of 4 unigrams, 2/3 bigrams, 1/2 trigrams, 0/1 4-grams: sacrebleu's smoothing keeps it above 0
    score = S.bleu4(["a large red circle"], ["a small red circle"])
    assert 0 < score < 50
    assert S.bleu4(["seven nine zero"], ["one two three"]) == pytest.approx(0.0)


def test_localisation_counts_only_object_words():
    model = tiny("lstm")
    items = D.make_scenes("shapes", 10, 0, "test")
    out = S.localisation(model, items)
    assert out["object_words"] == sum(w is not None for s in items for w in s.word_object)
    assert 0 <= out["attention_localisation"] <= 1 and 0 < out["chance_localisation"] < 0.5


def test_cell_box_overlap():
    assert S.cell_hits_box(0, 8, (0, 0, 5, 5))
    assert not S.cell_hits_box(63, 8, (0, 0, 5, 5))
    assert S.cell_hits_box(9, 8, (8, 8, 9, 9))  # row 1, col 1 covers pixels 8..15


def test_evaluate_reports_scores_and_baseline():
    out = C.evaluate(tiny("transformer"), "digits", limit=8, seed=3, baseline_n=50)
    for k in ("bleu4", "exact", "attention_localisation", "n", "baseline_nn_bleu4", "captions_per_second"):
        assert k in out
    assert out["n"] == 8
    with pytest.raises(InputError, match="compositional split exists for shape scenes only"):
        C.evaluate(tiny("transformer"), "digits", limit=8, split="compositional")


def test_train_save_load_roundtrip(tmp_path):
    cfg = tiny_config("transformer", n_train=32, n_val=8, eval_n=4)
    model, card = C.train(cfg, device=torch.device("cpu"))
    assert card["training"]["steps"] == 2
    assert card["metrics"]["n"] == 4 and "examples" not in card["metrics"]  # scored on held-out scenes
    C.save(model, card, "caption-tiny-test", tmp_path)
    info = CheckpointInfo("caption-tiny-test", "caption", card["arch"], "user", tmp_path / "caption-tiny-test", card)
    loaded, loaded_card = C.load(info)
    assert loaded_card["data"]["dataset"] == "shapes" and loaded_card["config"]["d_model"] == 16
    img = D.make_scenes("shapes", 1, 0, "test")[0].image
    # fp16 storage: the same caption from the saved copy
    assert C.caption_images(loaded, img)[0].words == C.caption_images(model.half().float(), img)[0].words


def test_bad_config_is_an_input_error():
    with pytest.raises(InputError, match="compositional"):
        C.Config(dataset="digits", split="compositional").check()
    with pytest.raises(InputError, match="model"):
        C.Config(decoder="gru").check()


def test_load_none_is_the_best_held_out_card():
    scored = [c for c in list_checkpoints("caption") if "bleu4" in c.card.get("metrics", {})]
    assert C.best_name() == max(scored, key=lambda c: c.card["metrics"]["bleu4"]).name == "caption-lstm-shapes"
    _, card = C.load()
    assert card["name"] == C.best_name()


def test_converted_lstm_checkpoints_use_the_shared_additive_attention():
    """The shipped LSTMs' SoftAttention keys were converted once to AdditiveAttention's (values unchanged)."""
    from seqcore.models.attention import AdditiveAttention

    model, card = C.load("caption-lstm-shapes")
    assert isinstance(model.decoder.attend, AdditiveAttention)
    assert any("AdditiveAttention" in n for n in card["notes"])


# ---------------------------------------------------------------- uploads


def test_upload_rgb_png_is_resized():
    img, notes = U.preprocess_upload(image_bytes(Image.new("RGB", (128, 96), (200, 30, 30))))
    assert img.shape == (64, 64, 3) and img.dtype == np.uint8
    assert any("centre-cropped" in n for n in notes) and any("resized" in n for n in notes)


def test_upload_grayscale_and_alpha_are_converted_with_a_note():
    gray, notes = U.preprocess_upload(image_bytes(Image.new("L", (64, 64), 128)))
    assert gray.shape == (64, 64, 3) and any("grayscale" in n for n in notes)
    rgba, notes = U.preprocess_upload(image_bytes(Image.new("RGBA", (64, 64), (255, 0, 0, 0))))
    assert rgba.shape == (64, 64, 3) and any("transparent" in n for n in notes)
    assert rgba[0, 0].tolist() == [110, 110, 110]  # fully transparent -> the grey background


@pytest.mark.parametrize("data, match", [
    (b"", "empty"),
    (b"this is not an image at all", "not an image"),
    (b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, "not an image"),
])
def test_upload_rejects_non_images(data, match):
    with pytest.raises(InputError, match=match):
        U.preprocess_upload(data, "x.png")


def test_upload_rejects_tiny_and_huge():
    with pytest.raises(InputError, match="at least 16x16"):
        U.preprocess_upload(image_bytes(Image.new("RGB", (8, 40))))
    with pytest.raises(InputError, match="megapixels"):
        U.preprocess_upload(image_bytes(Image.new("1", (8000, 6000))))
    with pytest.raises(InputError, match="MB"):
        U.preprocess_upload(b"\x00" * (U.MAX_UPLOAD_BYTES + 1))


def test_overlay_keeps_shape_and_highlights_the_peak():
    img = np.full((64, 64, 3), 200, np.uint8)
    att = np.zeros((8, 8))
    att[0, 7] = 1.0
    out = U.overlay(img, att)
    assert out.shape == img.shape
    assert out[4, 60].mean() > out[60, 4].mean()  # top-right stays bright, bottom-left is shaded


# ---------------------------------------------------------------- CLI (on a tiny checkpoint)


@pytest.fixture
def tiny_checkpoint(tmp_path, monkeypatch):
    from seqcore.checkpoints import user_dir

    model, card = C.train(tiny_config("lstm", "digits"), device=torch.device("cpu"))
    C.save(model, card, "caption-tiny-cli", user_dir())
    return "caption-tiny-cli"


def test_cli_caption_prints_json_per_image(tmp_path, capsys, tiny_checkpoint):
    paths = []
    for i, s in enumerate(D.make_scenes("digits", 2, 0, "test")):
        p = tmp_path / f"d{i}.png"
        Image.fromarray(s.image).save(p)
        paths.append(str(p))
    assert main(["caption", *paths, "--name", tiny_checkpoint]) == 0
    out = json.loads(capsys.readouterr().out)
    assert [o["image"] for o in out] == paths
    assert all(o["caption"] == " ".join(o["words"]) for o in out)


def test_cli_caption_bad_file_exits_2(tmp_path, capsys, tiny_checkpoint):
    bad = tmp_path / "notes.txt"
    bad.write_text("hello")
    assert main(["caption", str(bad), "--name", tiny_checkpoint]) == 2
    assert "not an image" in capsys.readouterr().err
    assert main(["caption", str(tmp_path / "missing.png"), "--name", tiny_checkpoint]) == 2


def test_cli_evaluate(capsys, tiny_checkpoint):
    assert main(["caption", "evaluate", "--name", tiny_checkpoint, "--dataset", "digits", "--n", "6",
                 "--no-baseline"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["n"] == 6 and {"bleu4", "exact", "attention_localisation"} <= set(out)


def test_cli_unknown_model_exits_2(capsys):
    assert main(["caption", "evaluate", "--name", "caption-no-such-model"]) == 2
    assert "no checkpoint" in capsys.readouterr().err


def test_scene_relation_words_are_in_vocab():
    assert all(w in D.STOI for w in scenes.WORDS)


def _tiny_info(tmp_path, decoder):
    model, card = C.train(tiny_config(decoder), device=torch.device("cpu"))
    name = f"caption-probe-{decoder}"
    C.save(model, card, name, tmp_path)
    return CheckpointInfo(name, "caption", card["arch"], "user", tmp_path / name, card)


def test_attention_probe_for_the_transformer_decoder(tmp_path):
    from seqcore.models import Transformer

    info = _tiny_info(tmp_path, "transformer")
    assert "transformer" in info.arch
    probe = C.attention_probe(info, "a small red circle")
    assert isinstance(probe.model, Transformer)
    assert probe.tokens == ["<bos>", "a", "small", "red", "circle"] and probe.special[0]
    assert probe.context.shape == (1, 64, 16) and len(probe.context_tokens) == 64
    out = probe.model(probe.x, probe.context, return_attention=True)
    assert out.cross_attentions[0].shape == (1, 2, 5, 64)
    assert C.attention_probe(info, None).x.shape[0] == 1
    with pytest.raises(InputError, match="not in the caption vocabulary"):
        C.attention_probe(info, "a purple hexagon")
    with pytest.raises(Exception, match="LSTM decoder"):
        C.attention_probe(_tiny_info(tmp_path, "lstm"), None)
