"""The malformed corpus (tests/malformed/*.yaml) through the real command, one process per file.

Each file must exit 2 and print exactly one stderr line, `FILE:LINE:COL: error: …`, at the line
pinned below — never a traceback — and nothing in it may run: the files that try to run
`touch pwned-by-scenario` are run in an empty directory that must stay empty.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

CORPUS = Path(__file__).parent / "malformed"
# the checkout under test, not whichever stepper the interpreter has installed (the files run in an empty directory)
ENV = {**os.environ, "PYTHONPATH": str(CORPUS.parent.parent)}
FILES = sorted(CORPUS.glob("*.yaml"))

# the line each fault sits on, so a message that drifts to the wrong spot fails here
LINES = {
    "alias_bomb.yaml": 6, "alias_recursive.yaml": 4, "bad_name.yaml": 1, "binary.yaml": 3,
    "bom_then_unknown_key.yaml": 3, "classes_single.yaml": 11, "crlf_then_unknown_key.yaml": 4,
    "deep_nesting.yaml": 4, "duplicate_key.yaml": 5, "empty.yaml": 1, "empty_value.yaml": 4,
    "first_token_pad.yaml": 8, "heads_do_not_divide.yaml": 5, "huge_number_inf.yaml": 6,
    "init_std_negative.yaml": 14, "int_too_many_digits.yaml": 4, "key_in_wrong_section.yaml": 9,
    "key_is_list.yaml": 2, "key_is_mapping.yaml": 2, "label_index.yaml": 12, "label_not_in_classes.yaml": 12,
    "lesson_not_text.yaml": 14, "longer_than_max_len.yaml": 7, "merge_not_mapping.yaml": 3,
    "missing_model.yaml": 1, "missing_name.yaml": 1, "mlp_classes_mismatch.yaml": 4, "mlp_feature_text.yaml": 6,
    "mlp_features_wrong_length.yaml": 6, "mlp_missing_sizes.yaml": 3, "mlp_sizes_negative.yaml": 4,
    "mlp_target_wrong_width.yaml": 8, "mlp_with_d_model.yaml": 5, "mlp_with_tokens.yaml": 7,
    "next_token_encoder.yaml": 7, "next_token_one_token.yaml": 5, "non_utf8.yaml": 2,
    "not_allowed_activation.yaml": 6, "not_allowed_kind.yaml": 3, "only_comments.yaml": 1,
    "out_of_range_huge_int.yaml": 4, "out_of_range_n_heads_zero.yaml": 5, "out_of_range_n_layers.yaml": 6,
    "out_of_range_negative_d_ff.yaml": 6, "out_of_range_seed_negative.yaml": 14, "python_tag_name.yaml": 3,
    "python_tag_subprocess.yaml": 2, "python_tag_system.yaml": 2, "regress_for_encoder.yaml": 7,
    "tag_binary.yaml": 2, "tag_local.yaml": 2, "tag_set.yaml": 5, "target_for_classify.yaml": 13,
    "text_word_not_in_vocab.yaml": 8, "tie_embeddings_classify.yaml": 4, "tie_embeddings_encoder.yaml": 6, "token_not_in_vocab.yaml": 8,
    "tokens_and_text.yaml": 9, "tokens_empty.yaml": 8, "too_big.yaml": 7, "top_level_list.yaml": 1,
    "top_level_scalar.yaml": 1, "unknown_key_in_model.yaml": 5, "unknown_key_modle.yaml": 2,
    "vocab_duplicate.yaml": 7, "weight_inf.yaml": 15, "weight_mixed_rows.yaml": 15, "weight_nan.yaml": 15,
    "weight_ragged.yaml": 18, "weight_scalar.yaml": 15, "weight_text_entry.yaml": 15,
    "weight_unknown_layer.yaml": 15, "weight_unknown_name.yaml": 15, "weight_wrong_shape.yaml": 15,
    "wrong_type_bool_for_number.yaml": 4, "wrong_type_d_model_text.yaml": 4, "wrong_type_float_for_int.yaml": 5,
    "wrong_type_model_scalar.yaml": 2, "wrong_type_tokens_string.yaml": 8, "wrong_type_values_list.yaml": 14,
    "yaml_bad_indent.yaml": 4, "yaml_control_char.yaml": 2, "yaml_syntax_unclosed_bracket.yaml": 5,
    "yaml_tab_indent.yaml": 3, "yaml_two_documents.yaml": 13, "yaml_unclosed_quote.yaml": 2,
    "yaml_undefined_alias.yaml": 2,
    # optim, generate, quiz and mlp batches
    "optim_bad_kind.yaml": 6, "optim_lr_zero.yaml": 7, "optim_velocity_for_adam.yaml": 7,
    "optim_velocity_wrong_shape.yaml": 8, "generate_on_encoder.yaml": 9, "generate_past_max_len.yaml": 9,
    "generate_top_p_zero.yaml": 5, "quiz_missing_answer.yaml": 9, "mlp_batch_labels_count.yaml": 8,
    "mlp_batch_ragged.yaml": 6, "mlp_batch_target_count.yaml": 7,
    # text that cannot be written out, a tag on a key, a mapping alias bomb
    "text_lone_surrogate.yaml": 2, "tag_on_key.yaml": 4, "alias_bomb_mappings.yaml": 5,
    # training on a data set: each example where it is written, the new optim and model keys, the training limit
    "data_example_empty.yaml": 7, "data_example_missing_label.yaml": 7, "data_example_not_mapping.yaml": 6,
    "data_examples_empty.yaml": 5, "data_features_wrong_length.yaml": 7, "data_label_not_in_classes.yaml": 7,
    "data_longer_than_max_len.yaml": 7, "data_next_token_one_token.yaml": 6, "data_task_label_without_input.yaml": 6,
    "data_token_not_in_vocab.yaml": 9, "data_vocab_without_pad.yaml": 4, "data_without_optim.yaml": 4,
    "optim_epochs_and_steps.yaml": 8, "optim_schedule_bad_kind.yaml": 7, "optim_weight_decay_negative.yaml": 7,
    "optim_clip_zero.yaml": 7, "model_batchnorm_without_norm.yaml": 6, "model_dropout_mlp.yaml": 5,
    "model_dropout_one.yaml": 5, "train_too_big.yaml": 6,
    # the encoder-decoder: its keys on other kinds, source and target, its task, data, weights and generation
    "seq2seq_data_example_no_source.yaml": 6, "seq2seq_data_target_number.yaml": 6, "seq2seq_data_target_without_bos.yaml": 6,
    "seq2seq_data_vocab_without_pad.yaml": 4, "seq2seq_generate_past_max_len.yaml": 7, "seq2seq_missing_target.yaml": 6,
    "seq2seq_n_dec_layers_on_encoder.yaml": 5, "seq2seq_pooling.yaml": 5, "seq2seq_source_and_source_text.yaml": 7,
    "seq2seq_source_first_pad.yaml": 6, "seq2seq_source_longer_than_max_len.yaml": 8, "seq2seq_source_on_decoder.yaml": 7,
    "seq2seq_target_all_pad.yaml": 7, "seq2seq_target_bos_only.yaml": 7, "seq2seq_target_without_bos.yaml": 7,
    "seq2seq_task_classify.yaml": 9, "seq2seq_task_on_encoder.yaml": 8, "seq2seq_task_target.yaml": 10,
    "seq2seq_token_not_in_vocab.yaml": 8, "seq2seq_tokenizer_without_text.yaml": 8, "seq2seq_tokens.yaml": 6,
    "seq2seq_weight_unknown_name.yaml": 8, "seq2seq_weight_wrong_shape.yaml": 8,
    # a seq2seq trained on data: each example's source and target where they are written
    "seq2seq_data_token_not_in_vocab.yaml": 8, "seq2seq_data_label.yaml": 6, "seq2seq_data_example_no_target.yaml": 6,
    "seq2seq_data_tokens.yaml": 6, "seq2seq_validation_target_without_bos.yaml": 7,
    "seq2seq_data_without_optim.yaml": 3, "seq2seq_data_target_pad_only.yaml": 8,
    "seq2seq_data_batchnorm_one_row.yaml": 6,
    # `tokenizer: bpe` and its `bpe:` settings
    "bpe_without_text.yaml": 7, "bpe_without_settings.yaml": 7, "bpe_vocab_size_too_small.yaml": 9,
    "bpe_vocab_size_huge.yaml": 9, "bpe_with_char_tokenizer.yaml": 8, "bpe_with_vocab.yaml": 8,
    "bpe_unknown_key.yaml": 10,
}


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    """Every file through `python -m stepper check`, a few processes at a time, in an empty directory."""
    cwd = tmp_path_factory.mktemp("empty")

    def run(path: Path):
        return subprocess.run([sys.executable, "-m", "stepper", "check", str(path)], cwd=cwd, env=ENV,
                              capture_output=True, text=True, timeout=60)

    with ThreadPoolExecutor(max_workers=4) as pool:
        done = dict(zip(FILES, pool.map(run, FILES), strict=True))
    return done, cwd


def test_the_corpus_is_big_and_every_file_is_pinned():
    assert len(FILES) >= 60
    assert {f.name for f in FILES} == set(LINES)


@pytest.mark.parametrize("path", FILES, ids=[f.stem for f in FILES])
def test_every_malformed_file_exits_2_with_one_located_line(path, results):
    r = results[0][path]
    assert r.returncode == 2, r.stderr
    assert "Traceback" not in r.stderr and r.stdout == ""
    lines = r.stderr.splitlines()
    assert len(lines) == 1, r.stderr
    m = re.match(rf"{re.escape(str(path))}:(\d+):(\d+): error: (.+)$", lines[0])
    assert m, lines[0]
    assert int(m[1]) == LINES[path.name], lines[0]
    assert " — " in m[3], "the message says how to fix it"


def test_nothing_in_the_corpus_ran(results):
    _, cwd = results
    assert list(cwd.iterdir()) == []
